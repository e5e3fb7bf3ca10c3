"""DCGAN generator and discriminator (Radford et al. 2015).

As in the paper and in pytorch/examples' dcgan: weights ~ N(0, 0.02), batch
norm scales ~ N(1, 0.02); batch norm everywhere except at the generator's
output and the discriminator's input; ReLU in G with a tanh output, LeakyReLU
0.2 in D; 4x4 kernels with stride 2; no biases (batch norm follows). The
generator projects z to an s x s map (s = 4 for 32/64 px, 7 for 28 px) and
doubles the resolution n times; the discriminator mirrors it and ends in one
linear logit (the paper's final s x s "valid" convolution).

Conditional form (`num_classes > 0`, Mirza & Osindero 2014): the generator
concatenates a learned label embedding to z; the discriminator is a
projection discriminator (Miyato & Koyama 2018): logit = w . phi(x) +
embed(y) . phi(x), with phi(x) the flattened final feature map. Projection is
the default because it conditions D through an inner product rather than
extra input channels, and Miyato & Koyama report clearly better
class-conditional samples than with concatenation.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry

_INIT = nn.initializers.normal(stddev=0.02)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def batch_norm(train: bool, dtype=jnp.float32) -> nn.BatchNorm:
  # Arguments by name: a momentum passed positionally as epsilon has broken
  # well-known GAN code. PyTorch's momentum 0.1 is Flax's 0.9. Statistics
  # are reduced in float32 whatever the computation dtype.
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, scale_init=_scale_init, dtype=dtype)


def upsample_factors(resolution: int) -> tuple[int, int]:
  """Splits a resolution into (start size s, number of doublings n)."""
  size, doublings = resolution, 0
  while size > 7 and size % 2 == 0:
    size, doublings = size // 2, doublings + 1
  return size, doublings


class DCGANGenerator(nn.Module):
  """z -> (H, W, C) image in [-1, 1] by repeated 2x transposed convolutions."""
  output_shape: tuple[int, int, int]
  features: int = 64          # channels before the output layer (ngf)
  upsample: str = 'transpose'  # transpose | subpixel (identical results)
  num_classes: int = 0         # > 0: conditioned on a class label
  spectral_norm: bool = False  # SN on the dense and upsampling layers
  dtype: jnp.dtype = jnp.float32  # computation dtype; output is float32

  @nn.compact
  def __call__(self, z: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    if self.num_classes:
      embedding = nn.Embed(self.num_classes, z.shape[-1],
                           embedding_init=_INIT, name='label_embedding')
      z = jnp.concatenate([z, embedding(labels)], axis=-1)
    height, _, out_channels = self.output_shape
    size, doublings = upsample_factors(height)
    channels = self.features * 2 ** (doublings - 1)
    norm = functools.partial(batch_norm, train, self.dtype)
    # A dense projection equals the paper's 4x4 transposed conv on a 1x1 map.
    x = layers.dense(self.spectral_norm, train, size * size * channels,
                     use_bias=False, kernel_init=_INIT, dtype=self.dtype)(z)
    x = x.reshape((z.shape[0], size, size, channels))
    x = nn.relu(norm()(x))
    # PyTorch's ConvTranspose2d(k=4, s=2, p=1): exactly twice the input.
    up = functools.partial(layers.Upsample2x, method=self.upsample,
                           kernel_init=_INIT, dtype=self.dtype,
                           spectral_norm=self.spectral_norm, train=train)
    for i in range(doublings - 1):
      channels //= 2
      x = nn.relu(norm()(up(channels, name=f'up{i}')(x)))
    x = up(out_channels, name=f'up{doublings - 1}')(x)
    return jnp.tanh(x.astype(jnp.float32))


class DCGANDiscriminator(nn.Module):
  """(H, W, C) image -> logit, by repeated stride-2 convolutions."""
  features: int = 64          # channels of the first layer (ndf)
  norm: str = 'batch'         # batch | layer | none (layer for WGAN-GP)
  num_classes: int = 0         # > 0: projection discriminator
  spectral_norm: bool = False  # SN on every conv, dense and embedding
  dtype: jnp.dtype = jnp.float32  # computation dtype; logits are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    _, doublings = upsample_factors(x.shape[1])
    channels = self.features
    for i in range(doublings):
      x = layers.conv(self.spectral_norm, train, channels, (4, 4),
                      strides=(2, 2), padding=((1, 1), (1, 1)),
                      use_bias=False, kernel_init=_INIT, dtype=self.dtype)(x)
      if i > 0 and self.norm == 'batch':
        x = batch_norm(train, self.dtype)(x)
      elif i > 0 and self.norm == 'layer':
        x = nn.LayerNorm(epsilon=1e-5, dtype=self.dtype)(x)
      x = nn.leaky_relu(x, negative_slope=0.2)
      channels *= 2
    features = x.reshape((x.shape[0], -1))
    logits = layers.dense(self.spectral_norm, train, 1, use_bias=False,
                          kernel_init=_INIT, dtype=self.dtype)(features)[:, 0]
    if self.num_classes:
      embedding = layers.embed(self.spectral_norm, train, self.num_classes,
                               features.shape[-1], embedding_init=_INIT,
                               name='label_projection', dtype=self.dtype)
      logits += jnp.sum(embedding(labels) * features, axis=-1)
    return logits.astype(jnp.float32)


@registry.register('dcgan')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """Builds the DCGAN pair for (H, H, C) images, H = s * 2**n, 3 <= s <= 7."""
  if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
    raise ConfigError(
        f'the dcgan model needs square images (H, H, C); the dataset gives '
        f'examples of shape {data_shape}: use model.name=mlp for point data')
  size, doublings = upsample_factors(data_shape[0])
  if not 3 <= size <= 7 or doublings < 1:
    raise ConfigError(
        f'config.dataset.resolution={data_shape[0]} cannot be produced by '
        'dcgan: expected s * 2**n with 3 <= s <= 7 and n >= 1, e.g. 28, 32, '
        '64 or 128')
  if config.d_norm not in ('batch', 'layer', 'none'):
    raise ConfigError(
        f'config.model.d_norm={config.d_norm!r} is invalid: expected one of '
        "['batch', 'layer', 'none']")
  for field in ('g_features', 'd_features'):
    if config[field] <= 0:
      raise ConfigError(
          f'config.model.{field}={config[field]} is invalid: expected an '
          'integer > 0')
  dtype = layers.compute_dtype(config)
  return (DCGANGenerator(output_shape=data_shape, features=config.g_features,
                         upsample=layers.resolve_upsample(config),
                         num_classes=num_classes,
                         spectral_norm=config.get('g_spectral_norm', False),
                         dtype=dtype),
          DCGANDiscriminator(features=config.d_features, norm=config.d_norm,
                             num_classes=num_classes,
                             spectral_norm=config.get('d_spectral_norm', False),
                             dtype=dtype))
