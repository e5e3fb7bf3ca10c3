"""The TensorFlow-built DCGANs of PacGAN's Stacked MNIST experiments.

PacGAN (Lin et al. 2018) measures mode collapse on Stacked MNIST with two
families of networks, both written in TensorFlow; each is registered here
under its own name, read from the authors' code (fjxmlzn/PacGAN,
stacked_MNIST_experiments/):

`unrolled_dcgan` -- Unrolled GAN's small networks (Metz et al. 2017; Table 3,
the discriminator at 1/4 or 1/2 of the generator's size;
unrolled_GAN_experiment/D=0.25G|D=0.5G/model.py), w = `g_features` (8),
d = `d_features` (2 for D = 1/4 G, 4 for D = 1/2 G):

  G   z -> dense to 4 x 4 x 8w -> BN, ReLU
        -> 3 x 3 transposed conv, stride 2 -> 7 x 7 x 4w -> BN, ReLU
        -> ... -> 14 x 14 x 2w -> BN, ReLU -> 28 x 28 x w -> BN, ReLU
        -> 3 x 3 conv, stride 1 -> C channels -> tanh
  D   3 x [3 x 3 conv, stride 2 -> BN -> LeakyReLU(0.3)] with d, 2d, 4d
        channels (batch norm on the first layer too) -> linear logit

`tf_dcgan` -- DCGAN-tensorflow (Kim's TensorFlow DCGAN, which VEEGAN's and
PacGAN's Table 2 Stacked MNIST setup trains; VEEGAN_experiment/model.py),
w = `g_features` (64), d = `d_features` (64):

  G   z -> dense to 2 x 2 x 8w -> BN, ReLU
        -> 5 x 5 transposed conv, stride 2 -> 4 x 4 x 4w -> BN, ReLU
        -> 7 x 7 x 2w -> BN, ReLU -> 14 x 14 x w -> BN, ReLU
        -> 5 x 5 transposed conv, stride 2 -> 28 x 28 x C -> tanh
  D   4 x [5 x 5 conv, stride 2 -> LeakyReLU(0.2)] with d, 2d, 4d, 8d
        channels, batch norm before the activation on all but the first
        -> linear logit

Every layer has a bias; weights ~ N(0, 0.02) (truncated for the forward
convolutions, as TensorFlow's `conv2d` of the originals); batch norm with
momentum 0.9, epsilon 1e-5 and unit initial scale. Spatial sizes follow
TensorFlow's 'SAME' padding: a stride-2 convolution maps n to ceil(n / 2)
(28 -> 14 -> 7 -> 4 -> 2), and G's transposed convolutions are the exact
transposes of those convolutions (TensorFlow's `conv2d_transpose` with an
explicit output size), so G goes 4 -> 7 -> 14 -> 28 as in the originals.
Packing (PacGAN) concatenates samples along channels, as the originals do.
On CPU the 5 x 5 networks compute their convolutions as `layers.patch_conv`
(same values, 16x faster there); elsewhere XLA's convolution.
"""

import dataclasses
import functools
import itertools
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


def _batch_norm(train: bool, dtype, groups: int = 1, name: str | None = None
                ) -> nn.Module:
  """TensorFlow's batch norm of the originals; with `groups` > 1 statistics
  per interleaved group of the batch (`layers.GroupedBatchNorm`, same
  parameter names)."""
  if groups > 1:
    return layers.GroupedBatchNorm(groups, use_running_average=not train,
                                   momentum=0.9, epsilon=1e-5, dtype=dtype,
                                   name=name)
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, dtype=dtype, name=name)


def same_sizes(resolution: int, halvings: int) -> list[int]:
  """[resolution, ceil(resolution / 2), ...]: stride-2 'SAME' sizes."""
  sizes = [resolution]
  for _ in range(halvings):
    sizes.append(math.ceil(sizes[-1] / 2))
  return sizes


def same_conv(x: jax.Array, kernel: jax.Array, method: str = 'xla'
              ) -> jax.Array:
  """The stride-2 'SAME' convolution whose transpose `SameTranspose` is;
  `method` 'xla' or 'patches' (`layers.patch_conv`, same values)."""
  return layers.CONV_FUNCTIONS[method](x, kernel, (2, 2), 'SAME',
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
  conv_method: str = 'xla'    # of the convolution transposed: xla | patches
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', _NORMAL, (self.kernel_size, self.kernel_size,
                                            self.features, x.shape[-1]))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    output = jax.ShapeDtypeStruct(
        (x.shape[0], self.size, self.size, self.features), self.dtype)
    (y,) = jax.linear_transpose(
        functools.partial(same_conv, kernel=kernel, method=self.conv_method),
        output)(x)
    return y + bias.astype(self.dtype)


class TFGenerator(nn.Module):
  """z -> (H, W, C) image in [-1, 1]; H = W, `halvings` stride-2 layers.

  The dense layer makes a (s, s, 8w) map, s = H halved `halvings` times
  ('SAME' sizes); each transposed convolution doubles the size and halves the
  width (BN, ReLU). With `output_conv` the last of them keeps w channels and
  a 3 x 3 convolution makes the C outputs (Unrolled GAN); without, the last
  transposed convolution makes them (DCGAN-tensorflow).

  `norm_groups` = k > 1 batch-normalises k interleaved groups of the batch
  each with its own statistics: with pack = k, as the originals, which draw
  a pack's k samples in k generator calls ("per-call" batch norm)."""
  output_shape: tuple[int, int, int]
  features: int = 8            # w
  halvings: int = 3
  kernel_size: int = 3
  output_conv: bool = True
  norm_groups: int = 1         # batch norm statistics per group
  conv_method: str = 'xla'     # xla | patches (`layers.patch_conv`)
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    del labels
    norms = itertools.count()   # BatchNorm_0, _1, ...: Flax's own names
    def batch_norm():
      return _batch_norm(train, self.dtype, self.norm_groups,
                         name=f'BatchNorm_{next(norms)}')
    height, _, channels = self.output_shape
    sizes = same_sizes(height, self.halvings)   # e.g. [28, 14, 7, 4]
    width = self.features * 8
    x = nn.Dense(sizes[-1] * sizes[-1] * width, kernel_init=_NORMAL,
                 dtype=self.dtype)(z)
    x = x.reshape((z.shape[0], sizes[-1], sizes[-1], width))
    x = nn.relu(batch_norm()(x))
    upsampled = list(reversed(sizes[:-1]))      # e.g. 7, 14, 28
    for i, size in enumerate(upsampled):
      if i == len(upsampled) - 1 and not self.output_conv:
        x = SameTranspose(channels, size, self.kernel_size, self.conv_method,
                          dtype=self.dtype)(x)
        break
      width //= 2
      x = SameTranspose(width, size, self.kernel_size, self.conv_method,
                        dtype=self.dtype)(x)
      x = nn.relu(batch_norm()(x))
    if self.output_conv:
      x = nn.Conv(channels, (3, 3), padding='SAME', kernel_init=_TRUNCATED,
                  conv_general_dilated=layers.CONV_FUNCTIONS[self.conv_method],
                  dtype=self.dtype)(x)
    return jnp.tanh(x.astype(jnp.float32))


class TFDiscriminator(nn.Module):
  """(H, W, C) image -> logit: `num_layers` x [stride-2 conv, BN, LeakyReLU]
  with d, 2d, 4d, ... channels, then a linear logit."""
  features: int = 2            # d: channels of the first layer
  num_layers: int = 3
  kernel_size: int = 3
  first_norm: bool = True      # batch norm on the first layer too
  negative_slope: float = 0.3
  spectral_norm: bool = False
  conv_method: str = 'xla'     # xla | patches (`layers.patch_conv`)
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None,
               train: bool = True) -> jax.Array:
    del labels
    k = self.kernel_size
    for i in range(self.num_layers):
      x = layers.conv(self.spectral_norm, train, self.features * 2 ** i,
                      (k, k), strides=(2, 2), padding='SAME',
                      kernel_init=_TRUNCATED, dtype=self.dtype,
                      conv_general_dilated=layers.CONV_FUNCTIONS[
                          self.conv_method])(x)
      if i or self.first_norm:
        x = _batch_norm(train, self.dtype)(x)
      x = nn.leaky_relu(x, negative_slope=self.negative_slope)
    x = x.reshape((x.shape[0], -1))
    logits = layers.dense(self.spectral_norm, train, 1, kernel_init=_NORMAL,
                          dtype=self.dtype)(x)
    return logits[:, 0].astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class _Family:
  """One registered network: its fixed architecture and what it needs."""
  generator: dict          # TFGenerator fields
  discriminator: dict      # TFDiscriminator fields
  min_size: int            # smallest image side its 'SAME' halvings allow
  widths: str              # the original's widths, for error messages
  # The faster convolution on CPU, measured by experiments/tf_dcgan_
  # benchmark.py: XLA's for the 3 x 3 networks, `layers.patch_conv` for the
  # 5 x 5 ones (16x faster there).
  cpu_conv: str


_FAMILIES = {
    'unrolled_dcgan': _Family(
        generator=dict(halvings=3, kernel_size=3, output_conv=True),
        discriminator=dict(num_layers=3, kernel_size=3, first_norm=True,
                           negative_slope=0.3),
        min_size=8, widths='Unrolled GAN: g_features=8; d_features=2 for '
        'D = 1/4 G, 4 for D = 1/2 G', cpu_conv='xla'),
    'tf_dcgan': _Family(
        generator=dict(halvings=4, kernel_size=5, output_conv=False),
        discriminator=dict(num_layers=4, kernel_size=5, first_norm=False,
                           negative_slope=0.2),
        min_size=16, widths='DCGAN-tensorflow: g_features=64, d_features=64',
        cpu_conv='patches'),
}


def _builder(name: str):
  family = _FAMILIES[name]
  min_size = family.min_size

  def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
            num_classes: int = 0):
    """Builds the pair for square (H, H, C) images."""
    if len(data_shape) != 3 or data_shape[0] != data_shape[1] or (
        data_shape[0] < min_size):
      raise ConfigError(
          f'the {name} model needs square images (H, H, C) with H >= '
          f'{min_size}; the dataset gives examples of shape {data_shape}')
    if num_classes:
      raise ConfigError(
          f'config.model.conditional=True is not supported by the {name} '
          'model (an unconditional benchmark network): use model.name=dcgan')
    if config.get('g_spectral_norm', False):
      raise ConfigError(
          f'config.model.g_spectral_norm=True is not supported by the {name} '
          'model (its generator has no spectral layers): set it to False')
    for field in ('g_features', 'd_features'):
      if config.get(field, 0) <= 0:
        raise ConfigError(
            f'config.model.{field}={config.get(field)!r} is invalid for the '
            f'{name} model: expected an integer > 0 ({family.widths})')
    groups = config.get('g_norm_groups', 1)
    if not (isinstance(groups, int) and groups >= 1):
      raise ConfigError(
          f'config.model.g_norm_groups={groups!r} is invalid for the {name} '
          'model: expected 1 (batch norm over the whole batch) or an integer '
          '>= 2 (per interleaved group, e.g. the pack size)')
    dtype = layers.compute_dtype(config)
    method = family.cpu_conv if jax.default_backend() == 'cpu' else 'xla'
    return (TFGenerator(output_shape=data_shape, features=config.g_features,
                        norm_groups=groups, conv_method=method, dtype=dtype,
                        **family.generator),
            TFDiscriminator(features=config.d_features,
                            spectral_norm=config.get('d_spectral_norm', False),
                            conv_method=method, dtype=dtype,
                            **family.discriminator))

  return build


for _name in _FAMILIES:
  registry.register(_name)(_builder(_name))
