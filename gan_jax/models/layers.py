"""Layers shared by the architectures."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import ConfigError
from gan_jax.models import spectral as spectral_lib

# The stride-2 transposed convolutions here, as `lax.conv_transpose` computes
# them (kernel not flipped, dilated input padded by _PADDING[k]):
#   k = 4, PyTorch padding 1 (DCGAN), and
#   k = 3, PyTorch padding 1, output_padding 1 (CycleGAN's ResNet generator).
# Output row 2m + p reads input rows m - 1, m, m + 1 (tap a = 0, 1, 2)
# through kernel row _TAPS[k][a, p]; k marks a tap that phase p does not use
# (a zero row appended to the kernel).
_TAPS = {4: np.array([[0, 4], [2, 1], [4, 3]]),
         3: np.array([[3, 3], [1, 0], [3, 2]])}
_PADDING = {4: (2, 2), 3: (1, 2)}


def subpixel_kernel(kernel: jax.Array) -> jax.Array:
  """Maps a (k, k, I, O) transposed-conv kernel to a (3, 3, I, 4 * O) one.

  The returned kernel, used as a stride-1 3x3 convolution (padding 1)
  followed by `depth_to_space`, computes exactly the transposed convolution
  (k = 4 or 3, see `_TAPS`).
  """
  size = kernel.shape[0]
  table = _TAPS[size]
  padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
  taps = padded[table[:, None, :, None], table[None, :, None, :]]
  # taps: (a, b, p, q, I, O) -> (a, b, I, p, q, O)
  taps = jnp.transpose(taps, (0, 1, 4, 2, 3, 5))
  return taps.reshape(3, 3, kernel.shape[2], 4 * kernel.shape[3])


def depth_to_space(x: jax.Array) -> jax.Array:
  """(B, H, W, 2 * 2 * C) with channels ordered (p, q, C) -> (B, 2H, 2W, C)."""
  batch, height, width, channels = x.shape
  x = x.reshape(batch, height, width, 2, 2, channels // 4)
  x = jnp.transpose(x, (0, 1, 3, 2, 4, 5))
  return x.reshape(batch, 2 * height, 2 * width, channels // 4)


class Upsample2x(nn.Module):
  """Doubles the resolution: PyTorch's ConvTranspose2d(k=4, s=2, p=1), or
  with `kernel_size=3` ConvTranspose2d(k=3, s=2, p=1, output_padding=1).

  Both implementations hold the same `kernel` (k, k, in, out) parameter, so
  checkpoints move between them:
    transpose: `lax.conv_transpose` on the zero-dilated input, the textbook
      form (PyTorch pads the dilated input by k - 1 - p before and
      k - 1 - p + output_padding after).
    subpixel: a stride-1 3x3 convolution to 4x the channels, then
      depth-to-space (Shi et al. 2016), with the kernel mapped so that the
      result is identical. XLA's CPU backend runs the gradient of the
      transposed convolution ~10x slower than this form.
  """
  features: int
  method: str = 'transpose'         # transpose | subpixel
  kernel_size: int = 4              # 4 (DCGAN) or 3 (output_padding 1)
  use_bias: bool = False
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: jnp.dtype | None = None    # computation dtype (params stay float32)
  spectral_norm: bool = False       # kernel / sigma(kernel) (spectral.py)
  train: bool = True                # with spectral_norm: power iterations

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.kernel_size not in _TAPS:
      raise ValueError(f'kernel_size={self.kernel_size}: expected 3 or 4')
    k = self.kernel_size
    kernel = self.param('kernel', self.kernel_init,
                        (k, k, x.shape[-1], self.features))
    if self.spectral_norm:
      kernel = spectral_lib.normalize_kernel(self, kernel, self.train)
    if self.dtype is not None:
      x = x.astype(self.dtype)
    if self.method == 'transpose':
      y = jax.lax.conv_transpose(x, kernel.astype(x.dtype), strides=(2, 2),
                                 padding=(_PADDING[k], _PADDING[k]),
                                 dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    elif self.method == 'subpixel':
      y = jax.lax.conv_general_dilated(
          x, subpixel_kernel(kernel).astype(x.dtype), window_strides=(1, 1),
          padding=((1, 1), (1, 1)),
          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      y = depth_to_space(y)
    else:
      raise ValueError(f'unknown upsampling method {self.method!r}')
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros,
                         (self.features,)).astype(y.dtype)
    return y


_NHWC_HWIO = jax.lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1),
                                          (0, 3, 1, 2))


def patch_conv(lhs: jax.Array, rhs: jax.Array, window_strides, padding,
               lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
               feature_group_count: int = 1, precision=None,
               preferred_element_type=None) -> jax.Array:
  """`lax.conv_general_dilated` for NHWC x HWIO, computed as strided slices
  (one per kernel tap) stacked and contracted with the kernel in one einsum.

  Same signature, so it can be passed as `nn.Conv(conv_general_dilated=...)`.
  XLA:CPU falls off its fast convolution path when the kernel is larger than
  the unpadded input: DCGAN-tensorflow's 5 x 5 stride-2 convolution of a
  4 x 4 x 256 map (64 images) takes 1.09 s, this formulation 0.012 s, and
  the whole VEEGAN-setup train step runs 16x faster with every convolution so
  (experiments/tf_dcgan_benchmark.py); with 3 x 3 kernels on larger maps
  XLA's convolution is the faster. Its transpose (`jax.linear_transpose`)
  and gradients are slices and einsums too.
  """
  if (feature_group_count != 1 or any(d not in (None, 1) for d in
                                      (*(lhs_dilation or ()),
                                       *(rhs_dilation or ())))):
    raise ValueError('patch_conv supports neither dilation nor groups')
  # Read as lax reads them (None is NCHW there, so it is refused here).
  if jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers
                                    ) != _NHWC_HWIO:
    raise ValueError('patch_conv expects NHWC inputs and HWIO kernels')
  del preferred_element_type
  kh, kw, channels, features = rhs.shape
  sh, sw = window_strides
  if isinstance(padding, str):
    padding = jax.lax.padtype_to_pads(lhs.shape[1:3], (kh, kw),
                                      window_strides, padding)
  x = jnp.pad(lhs, ((0, 0), tuple(padding[0]), tuple(padding[1]), (0, 0)))
  out_h = (x.shape[1] - kh) // sh + 1
  out_w = (x.shape[2] - kw) // sw + 1
  taps = [jax.lax.slice(x, (0, i, j, 0),
                        (x.shape[0], i + sh * (out_h - 1) + 1,
                         j + sw * (out_w - 1) + 1, channels), (1, sh, sw, 1))
          for i in range(kh) for j in range(kw)]
  return jnp.einsum('bhwtc,tco->bhwo', jnp.stack(taps, axis=3),
                    rhs.reshape(kh * kw, channels, features),
                    precision=precision)


CONV_FUNCTIONS = {'xla': jax.lax.conv_general_dilated, 'patches': patch_conv}


def default_upsample_method() -> str:
  """The faster exact upsampling for the current backend.

  Sub-pixel on CPU (measured: see README / experiments); the transposed
  convolution elsewhere, where cuDNN and TPU convolutions handle it natively.
  """
  return 'subpixel' if jax.default_backend() == 'cpu' else 'transpose'


COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def compute_dtype(model_config) -> jnp.dtype:
  """`config.model.dtype` as a JAX dtype: the networks' computation dtype.

  'bfloat16' is mixed precision: parameters, optimizer states, batch-norm
  statistics and the losses stay float32; the layers compute in bfloat16 and
  the networks return float32 outputs.
  """
  name = model_config.get('dtype', 'float32')
  if name not in COMPUTE_DTYPES:
    raise ConfigError(
        f'config.model.dtype={name!r} is invalid: expected one of '
        f'{list(COMPUTE_DTYPES)}')
  return COMPUTE_DTYPES[name]


def resolve_upsample(model_config) -> str:
  """`config.model.upsample` with 'auto' resolved for the current backend."""
  upsample = model_config.get('upsample', 'auto')
  if upsample == 'auto':
    upsample = default_upsample_method()
  if upsample not in ('transpose', 'subpixel'):
    raise ConfigError(
        f'config.model.upsample={upsample!r} is invalid: expected one of '
        "['auto', 'transpose', 'subpixel']")
  return upsample


# --- layers with optional spectral normalization ---------------------------------
# A model asks for its layers through these, so that config.model.
# {d,g}_spectral_norm switches every Dense/Conv/Embed of a network at once.
# `update` is the network's training mode (power iterations only then).


def dense(spectral: bool, update: bool, features: int, **kwargs) -> nn.Module:
  """nn.Dense, or spectral.SpectralDense (same parameters) when `spectral`."""
  if spectral:
    return spectral_lib.SpectralDense(features, update=update, **kwargs)
  return nn.Dense(features, **kwargs)


def conv(spectral: bool, update: bool, features: int, kernel_size, **kwargs
         ) -> nn.Module:
  """nn.Conv, or spectral.SpectralConv (same parameters) when `spectral`;
  both take `conv_general_dilated` (e.g. `patch_conv`)."""
  if spectral:
    return spectral_lib.SpectralConv(features, kernel_size=kernel_size,
                                     update=update, **kwargs)
  return nn.Conv(features, kernel_size, **kwargs)


def embed(spectral: bool, update: bool, num_embeddings: int, features: int,
          **kwargs) -> nn.Module:
  """nn.Embed, or spectral.SpectralEmbed (same parameters) when `spectral`."""
  if spectral:
    return spectral_lib.SpectralEmbed(num_embeddings, features, update=update,
                                      **kwargs)
  return nn.Embed(num_embeddings, features, **kwargs)


class GroupedBatchNorm(nn.Module):
  """Batch norm with statistics per interleaved group of the batch.

  Training: the batch (B, ..., F) is split into `groups` groups, group j
  holding examples j, j + groups, ...; each is normalised by its own mean
  and (biased) variance over its examples and every axis but the last
  (features), then scaled and shifted by one shared `scale` and `bias`. The
  running averages move towards the groups' mean statistics with
  `momentum`, as nn.BatchNorm's. Evaluation uses the running averages.
  Parameters and batch statistics have nn.BatchNorm's names and shapes.
  """
  groups: int
  use_running_average: bool
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    running_mean = self.variable('batch_stats', 'mean', jnp.zeros,
                                 (features,), jnp.float32)
    running_var = self.variable('batch_stats', 'var', jnp.ones,
                                (features,), jnp.float32)
    x32 = x.astype(jnp.float32)
    if self.use_running_average:
      y = (x32 - running_mean.value) * jax.lax.rsqrt(
          running_var.value + self.epsilon)
    else:
      if x.shape[0] % self.groups:
        raise ConfigError(
            f'config.model.g_norm_groups={self.groups} is invalid for a '
            f'generator batch of {x.shape[0]}: expected a divisor of it')
      grouped = x32.reshape((-1, self.groups) + x.shape[1:])
      axes = (0,) + tuple(range(2, grouped.ndim - 1))   # all but group, F
      mean = grouped.mean(axes, keepdims=True)
      var = grouped.var(axes, keepdims=True)
      y = ((grouped - mean) * jax.lax.rsqrt(var + self.epsilon)).reshape(
          x.shape)
      mean = mean.reshape((self.groups, features))
      var = var.reshape((self.groups, features))
      if not self.is_initializing():
        running_mean.value = (self.momentum * running_mean.value
                              + (1 - self.momentum) * mean.mean(0))
        running_var.value = (self.momentum * running_var.value
                             + (1 - self.momentum) * var.mean(0))
    return (y * scale + bias).astype(self.dtype)
