"""CycleGAN's networks (Zhu et al. 2017, after Johnson et al. 2016).

ResNet generator: c7s1-64, d128, d256, n x R256, u128, u64, c7s1-C with tanh;
6 residual blocks at <= 128 px, 9 at 256 px (`config.model.num_blocks`, 0 =
that rule). 70x70 PatchGAN discriminator: C64-C128-C256-C512 then a 1-channel
4x4 convolution, one logit per overlapping patch. As in the reference code:
instance norm without affine parameters, reflection padding in the generator,
LeakyReLU 0.2 in D, weights ~ N(0, 0.02), no dropout.
"""

import functools

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry

_INIT = nn.initializers.normal(stddev=0.02)


def instance_norm(dtype=jnp.float32) -> nn.InstanceNorm:
  return nn.InstanceNorm(epsilon=1e-5, use_scale=False, use_bias=False,
                         dtype=dtype)


def reflect(x: jnp.ndarray, pad: int) -> jnp.ndarray:
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


class ResidualBlock(nn.Module):
  features: int
  dtype: jnp.dtype = jnp.float32
  spectral_norm: bool = False
  train: bool = True

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(layers.conv, self.spectral_norm, self.train,
                             self.features, (3, 3), padding='VALID',
                             kernel_init=_INIT, dtype=self.dtype)
    y = nn.relu(instance_norm(self.dtype)(conv()(reflect(x, 1))))
    return x + instance_norm(self.dtype)(conv()(reflect(y, 1)))


class ResnetGenerator(nn.Module):
  """(H, W, C) image -> (H, W, C) image in [-1, 1]; H, W divisible by 4."""
  channels: int
  features: int = 64
  num_blocks: int = 6
  upsample: str = 'transpose'    # transpose | subpixel (identical results)
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32  # computation dtype; output is float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    # Instance norm has no running statistics; `train` only matters for
    # spectral norm's power iterations.
    f = self.features
    conv = functools.partial(layers.conv, self.spectral_norm, train,
                             kernel_init=_INIT, dtype=self.dtype)
    norm = functools.partial(instance_norm, self.dtype)
    x = conv(f, (7, 7), padding='VALID')(reflect(x, 3))
    x = nn.relu(norm()(x))
    for mult in (2, 4):                           # d128, d256
      x = conv(f * mult, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))(x)
      x = nn.relu(norm()(x))
    for _ in range(self.num_blocks):
      x = ResidualBlock(f * 4, self.dtype, self.spectral_norm, train)(x)
    for i, mult in enumerate((2, 1)):             # u128, u64
      # PyTorch's ConvTranspose2d(k=3, s=2, p=1, output_padding=1).
      x = layers.Upsample2x(f * mult, method=self.upsample, kernel_size=3,
                            use_bias=True, kernel_init=_INIT,
                            dtype=self.dtype, spectral_norm=self.spectral_norm,
                            train=train, name=f'up{i}')(x)
      x = nn.relu(norm()(x))
    x = conv(self.channels, (7, 7), padding='VALID')(reflect(x, 3))
    return jnp.tanh(x.astype(jnp.float32))


class PatchDiscriminator(nn.Module):
  """(H, W, C) image -> (h, w) map of logits, each over a 70x70 patch."""
  features: int = 64
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32  # computation dtype; logits are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    f = self.features
    conv = functools.partial(layers.conv, self.spectral_norm, train,
                             kernel_size=(4, 4), padding=((1, 1), (1, 1)),
                             kernel_init=_INIT, dtype=self.dtype)
    for i, (mult, stride) in enumerate(((1, 2), (2, 2), (4, 2), (8, 1))):
      x = conv(f * mult, strides=(stride, stride))(x)
      if i > 0:
        x = instance_norm(self.dtype)(x)
      x = nn.leaky_relu(x, negative_slope=0.2)
    return conv(1)(x)[..., 0].astype(jnp.float32)


@registry.register('cyclegan', variant='cyclegan')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """(generator, discriminator) modules; CycleGAN uses two of each."""
  if num_classes:
    raise ConfigError('the cyclegan model is not class-conditional: set '
                      'config.model.conditional=False')
  if len(data_shape) != 3 or data_shape[0] % 4 or data_shape[0] < 32:
    raise ConfigError(
        f'config.dataset.resolution={data_shape[0]} cannot be used by '
        'cyclegan: expected images of at least 32 px (the 70x70 PatchGAN '
        'needs 32) with a side divisible by 4, e.g. 32, 64, 128 or 256')
  num_blocks = config.num_blocks or (9 if data_shape[0] >= 256 else 6)
  dtype = layers.compute_dtype(config)
  return (ResnetGenerator(channels=data_shape[2], features=config.g_features,
                          num_blocks=num_blocks,
                          upsample=layers.resolve_upsample(config),
                          spectral_norm=config.get('g_spectral_norm', False),
                          dtype=dtype),
          PatchDiscriminator(features=config.d_features,
                             spectral_norm=config.get('d_spectral_norm', False),
                             dtype=dtype))
