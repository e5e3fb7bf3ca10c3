"""Spectral normalization (Miyato et al. 2018, *Spectral Normalization for GANs*).

A spectrally normalized layer uses W / sigma(W), with sigma(W) the largest
singular value of its kernel seen as a matrix (Dense: (in, out); Conv:
(kh * kw * in, out), as in the paper and PyTorch's `spectral_norm`), so the
layer is 1-Lipschitz. sigma is estimated by power iteration:

    v <- W^T u / |W^T u|,   u <- W v / |W v|,   sigma = u^T W v

with u and v held constant for the gradient. The vector u and the estimate
sigma live in the network's 'spectral' collection, a non-parameter state
beside batch statistics in `GANState`, so checkpoints, resume, populations
and meshes carry them like any other array.

When the layer runs with `update=True` and the 'spectral' collection is
mutable, it does `n_steps` power iterations from the stored u (one per
discriminator update, as the paper) and stores the new u, v and sigma; with
the collection immutable (the other calls of the same update: the generated
batch, the generator's loss) it computes sigma = u^T W v from the stored u
and v, the same estimate, differentiable in W; with `update=False`
(evaluation) it divides by the stored sigma, unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

COLLECTION = 'spectral'


def _normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
  return x / (jnp.linalg.norm(x) + eps)


def power_iteration(matrix: jax.Array, u: jax.Array, steps: int = 1
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`steps` power iterations on `matrix` (m, n) from u (m,): (u, v, sigma).

  u and v are returned gradient-stopped; sigma = u^T matrix v is
  differentiable in `matrix`.
  """
  u = jax.lax.stop_gradient(u)
  v = None
  for _ in range(max(steps, 1)):
    v = _normalize(jax.lax.stop_gradient(matrix).T @ u)
    u = _normalize(jax.lax.stop_gradient(matrix) @ v)
  return u, v, u @ matrix @ v


def normalize_kernel(module: nn.Module, kernel: jax.Array, update: bool,
                     n_steps: int = 1, name: str = 'kernel') -> jax.Array:
  """kernel / sigma(kernel), with u and sigma in `module`'s 'spectral' state.

  Args:
    module: the layer (inside its compact `__call__`).
    kernel: (..., out): every axis but the last is flattened into rows.
    update: training mode: iterate (if the collection is mutable).
    n_steps: power iterations per update.
    name: distinguishes several kernels of one module.
  """
  matrix = kernel.reshape(-1, kernel.shape[-1]).T          # (out, in')
  rows, columns = matrix.shape
  u_var = module.variable(
      COLLECTION, f'{name}_u',
      lambda: _normalize(jax.random.normal(module.make_rng('params'), (rows,),
                                           jnp.float32)))
  v_var = module.variable(COLLECTION, f'{name}_v',
                          lambda: jnp.zeros((columns,), jnp.float32))
  sigma_var = module.variable(COLLECTION, f'{name}_sigma',
                              lambda: jnp.ones((), jnp.float32))
  matrix32 = matrix.astype(jnp.float32)
  if not update:                      # evaluation: the stored estimate
    sigma = sigma_var.value
  elif module.is_mutable_collection(COLLECTION) and not (
      module.is_initializing()):      # the one update of this D step
    u, v, sigma = power_iteration(matrix32, u_var.value, n_steps)
    u_var.value, v_var.value = u, v
    sigma_var.value = jax.lax.stop_gradient(sigma)
  elif module.is_initializing():
    sigma = power_iteration(matrix32, u_var.value, n_steps)[2]
  else:                               # later calls of the same update
    sigma = u_var.value @ matrix32 @ v_var.value
  return (kernel / sigma.astype(kernel.dtype)).astype(kernel.dtype)


class _SpectralLinear(nn.Module):
  """What SpectralDense and SpectralConv share: their options, the kernel
  (normalized) and the bias."""
  features: int
  use_bias: bool = True
  update: bool = True
  n_steps: int = 1
  kernel_init: Any = nn.initializers.lecun_normal()
  dtype: Any = None

  def _kernel(self, shape: tuple[int, ...]) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init, shape)
    return normalize_kernel(self, kernel, self.update, self.n_steps)

  def _bias(self, y: jax.Array) -> jax.Array:
    if not self.use_bias:
      return y
    return y + self.param('bias', nn.initializers.zeros,
                          (self.features,)).astype(y.dtype)


class SpectralDense(_SpectralLinear):
  """nn.Dense with a spectrally normalized kernel (same parameter names)."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self._kernel((x.shape[-1], self.features))
    dtype = self.dtype or x.dtype
    return self._bias(x.astype(dtype) @ kernel.astype(dtype))


class SpectralConv(_SpectralLinear):
  """nn.Conv (NHWC) with a spectrally normalized kernel (same parameter names).

  `padding` is 'SAME', 'VALID' or one (low, high) pair per spatial axis.
  """
  kernel_size: Sequence[int] = (3, 3)
  strides: Sequence[int] = (1, 1)
  padding: Any = 'SAME'
  conv_general_dilated: Callable = jax.lax.conv_general_dilated

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self._kernel(tuple(self.kernel_size)
                          + (x.shape[-1], self.features))
    dtype = self.dtype or x.dtype
    padding = (self.padding if isinstance(self.padding, str)
               else tuple(tuple(p) for p in self.padding))
    y = self.conv_general_dilated(
        x.astype(dtype), kernel.astype(dtype), tuple(self.strides), padding,
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return self._bias(y)


class SpectralEmbed(nn.Module):
  """nn.Embed with a spectrally normalized table (projection discriminators)."""
  num_embeddings: int
  features: int
  update: bool = True
  embedding_init: Any = nn.initializers.normal(stddev=1.0)
  dtype: Any = None

  @nn.compact
  def __call__(self, labels: jax.Array) -> jax.Array:
    table = self.param('embedding', self.embedding_init,
                       (self.num_embeddings, self.features))
    table = normalize_kernel(self, table, self.update, name='embedding')
    return jnp.take(table, labels, axis=0).astype(self.dtype or table.dtype)
