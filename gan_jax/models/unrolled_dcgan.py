"""The small DCGAN of Unrolled GAN's Stacked MNIST experiments (Metz et al. 2017).

PacGAN's Table 3 (Lin et al. 2018) measures mode collapse on Stacked MNIST
with these networks, the discriminator at 1/4 or 1/2 of the generator's
size. Layer table read from the authors' code (fjxmlzn/PacGAN,
stacked_MNIST_experiments/unrolled_GAN_experiment/D=0.25G and D=0.5G,
model.py), with w = `g_features` (8) and d = `d_features` (2 for D = 1/4 G,
4 for D = 1/2 G):

  G   z -> dense to 4 x 4 x 8w -> BN, ReLU
        -> 3 x 3 transposed conv, stride 2 -> 7 x 7 x 4w -> BN, ReLU
        -> ... -> 14 x 14 x 2w -> BN, ReLU -> 28 x 28 x w -> BN, ReLU
        -> 3 x 3 conv, stride 1 -> C channels -> tanh
  D   3 x [3 x 3 conv, stride 2 -> BN -> LeakyReLU(0.3)] with d, 2d, 4d
        channels (batch norm on the first layer too) -> linear logit

Every layer has a bias; weights ~ N(0, 0.02) (truncated for the forward
convolutions, as TensorFlow's `conv2d` of the original); batch norm with
momentum 0.9, epsilon 1e-5 and unit initial scale. Spatial sizes follow
TensorFlow's 'SAME' padding: a stride-2 convolution maps n to ceil(n / 2)
(28 -> 14 -> 7 -> 4), and G's transposed convolutions are the exact
transposes of those convolutions (TensorFlow's `conv2d_transpose` with an
explicit output size), so G goes 4 -> 7 -> 14 -> 28 as in the original.
Packing (PacGAN) concatenates samples along channels, as the original does.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry

_NORMAL = nn.initializers.normal(stddev=0.02)
_TRUNCATED = nn.initializers.truncated_normal(stddev=0.02)
_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


def _batch_norm(train: bool, dtype) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, dtype=dtype)


def same_sizes(resolution: int, halvings: int) -> list[int]:
  """[resolution, ceil(resolution / 2), ...]: stride-2 'SAME' sizes."""
  sizes = [resolution]
  for _ in range(halvings):
    sizes.append(math.ceil(sizes[-1] / 2))
  return sizes


def same_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stride-2 'SAME' convolution whose transpose `SameTranspose` is."""
  return jax.lax.conv_general_dilated(x, kernel, (2, 2), 'SAME',
                                      dimension_numbers=_DIMENSIONS)


class SameTranspose(nn.Module):
  """(B, m, m, I) -> (B, n, n, features): the transpose of a stride-2 'SAME'
  convolution from n x n to m = ceil(n / 2), i.e. TensorFlow's
  `conv2d_transpose(..., output_shape=n, padding='SAME')`. Unlike a
  fixed-padding transposed convolution it can produce odd sizes (4 -> 7).

  `kernel` is (k, k, features, I), the forward convolution's HWIO kernel
  (TensorFlow's layout for this layer)."""
  features: int
  size: int                   # n, the output's height and width
  kernel_size: int = 3
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', _NORMAL, (self.kernel_size, self.kernel_size,
                                            self.features, x.shape[-1]))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    output = jax.ShapeDtypeStruct(
        (x.shape[0], self.size, self.size, self.features), self.dtype)
    (y,) = jax.linear_transpose(functools.partial(same_conv, kernel=kernel),
                                output)(x)
    return y + bias.astype(self.dtype)


class UnrolledGenerator(nn.Module):
  """z -> (H, W, C) image in [-1, 1]; H = W, three stride-2 layers."""
  output_shape: tuple[int, int, int]
  features: int = 8            # w: channels before the output layer
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    del labels
    height, _, channels = self.output_shape
    sizes = same_sizes(height, 3)           # [28, 14, 7, 4]
    width = self.features * 8
    x = nn.Dense(sizes[-1] * sizes[-1] * width, kernel_init=_NORMAL,
                 dtype=self.dtype)(z)
    x = x.reshape((z.shape[0], sizes[-1], sizes[-1], width))
    x = nn.relu(_batch_norm(train, self.dtype)(x))
    for size in reversed(sizes[:-1]):       # 7, 14, 28
      width //= 2
      x = SameTranspose(width, size, dtype=self.dtype)(x)
      x = nn.relu(_batch_norm(train, self.dtype)(x))
    x = nn.Conv(channels, (3, 3), padding='SAME', kernel_init=_TRUNCATED,
                dtype=self.dtype)(x)
    return jnp.tanh(x.astype(jnp.float32))


class UnrolledDiscriminator(nn.Module):
  """(H, W, C) image -> logit: three stride-2 conv + BN + LeakyReLU(0.3)."""
  features: int = 2            # d: channels of the first layer
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    del labels
    for i in range(3):
      x = layers.conv(self.spectral_norm, train, self.features * 2 ** i,
                      (3, 3), strides=(2, 2), padding='SAME',
                      kernel_init=_TRUNCATED, dtype=self.dtype)(x)
      x = nn.leaky_relu(_batch_norm(train, self.dtype)(x), negative_slope=0.3)
    x = x.reshape((x.shape[0], -1))
    logits = layers.dense(self.spectral_norm, train, 1, kernel_init=_NORMAL,
                          dtype=self.dtype)(x)
    return logits[:, 0].astype(jnp.float32)


@registry.register('unrolled_dcgan')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """Builds the pair for square (H, H, C) images, H >= 8."""
  if len(data_shape) != 3 or data_shape[0] != data_shape[1] or (
      data_shape[0] < 8):
    raise ConfigError(
        'the unrolled_dcgan model needs square images (H, H, C) with H >= 8; '
        f'the dataset gives examples of shape {data_shape}')
  if num_classes:
    raise ConfigError(
        'config.model.conditional=True is not supported by the unrolled_dcgan '
        'model (an unconditional benchmark network): use model.name=dcgan')
  if config.get('g_spectral_norm', False):
    raise ConfigError(
        'config.model.g_spectral_norm=True is not supported by the '
        'unrolled_dcgan model (its generator has no spectral layers): set it '
        'to False')
  for field in ('g_features', 'd_features'):
    if config.get(field, 0) <= 0:
      raise ConfigError(
          f'config.model.{field}={config.get(field)!r} is invalid for the '
          'unrolled_dcgan model: expected an integer > 0 (Unrolled GAN: '
          'g_features=8; d_features=2 for D = 1/4 G, 4 for D = 1/2 G)')
  dtype = layers.compute_dtype(config)
  return (UnrolledGenerator(output_shape=data_shape,
                            features=config.g_features, dtype=dtype),
          UnrolledDiscriminator(features=config.d_features,
                                spectral_norm=config.get('d_spectral_norm',
                                                         False),
                                dtype=dtype))
