"""Layers shared by the architectures."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# For a stride-2, 4x4 transposed convolution with PyTorch padding 1, output
# row 2m + p reads input rows m - 1, m, m + 1 (tap a = 0, 1, 2) through kernel
# row _TAPS[a, p]; 4 marks a tap that phase p does not use (a zero row).
_TAPS = np.array([[0, 4], [2, 1], [4, 3]])


def subpixel_kernel(kernel: jax.Array) -> jax.Array:
  """Maps a (4, 4, I, O) transposed-conv kernel to a (3, 3, I, 4 * O) one.

  The returned kernel, used as a stride-1 3x3 convolution (padding 1)
  followed by `depth_to_space`, computes exactly the transposed convolution.
  """
  padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
  taps = padded[_TAPS[:, None, :, None], _TAPS[None, :, None, :]]
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
  """Doubles the resolution: PyTorch's ConvTranspose2d(k=4, s=2, p=1).

  Both implementations hold the same `kernel` (4, 4, in, out) parameter, so
  checkpoints move between them:
    transpose: `lax.conv_transpose` on the zero-dilated input, the textbook
      form (PyTorch pads the dilated input by k - 1 - p = 2 per side).
    subpixel: a stride-1 3x3 convolution to 4x the channels, then
      depth-to-space (Shi et al. 2016), with the kernel mapped so that the
      result is identical. XLA's CPU backend runs the gradient of the
      transposed convolution ~10x slower than this form.
  """
  features: int
  method: str = 'transpose'         # transpose | subpixel
  use_bias: bool = False
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init,
                        (4, 4, x.shape[-1], self.features))
    if self.method == 'transpose':
      y = jax.lax.conv_transpose(x, kernel.astype(x.dtype), strides=(2, 2),
                                 padding=((2, 2), (2, 2)),
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
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y


def default_upsample_method() -> str:
  """The faster exact upsampling for the current backend.

  Sub-pixel on CPU (measured: see README / experiments); the transposed
  convolution elsewhere, where cuDNN and TPU convolutions handle it natively.
  """
  return 'subpixel' if jax.default_backend() == 'cpu' else 'transpose'
