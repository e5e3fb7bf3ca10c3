"""ResNet generator and discriminator in the SNGAN / BigGAN style.

After Miyato et al. 2018 (*Spectral Normalization for GANs*, the CIFAR-10
ResNets of its appendix and of the authors' sngan_projection code) and Brock
et al. 2019 (BigGAN) for the wider resolutions:

  G: z -> dense to 4 x 4 x C0 -> up-blocks to the resolution -> BN, ReLU,
     3x3 conv to the channels -> tanh.
     Up-block (pre-activation): BN, ReLU, nearest 2x upsampling, 3x3 conv,
     BN, ReLU, 3x3 conv; shortcut: upsampling, 1x1 conv.
  D: an optimised first block (conv, ReLU, conv, 2x2 average pool; shortcut:
     pool, 1x1 conv), then pre-activation blocks (ReLU, conv, ReLU, conv,
     average pool where it downsamples; a 1x1 conv shortcut where the shape
     changes), ReLU, a sum over positions, a linear logit. Spectral norm on
     every layer of D (`config.model.d_spectral_norm`), no batch norm.

Channels, in units of `g_features` / `d_features` (ch) per block:

  res   G (4x4 input, then per up-block)        D (per block)
  32    4, 4, 4, 4          (SNGAN: ch 64 -> 256) 2, 2, 2, 2  (ch 64 -> 128)
  64    16, 8, 4, 2, 1       (BigGAN)             1, 2, 4, 8, 16
  128   16, 16, 8, 4, 2, 1   (BigGAN)             1, 2, 4, 8, 16, 16

At 32 px D downsamples twice (32 -> 16 -> 8, then two blocks at 8 x 8, as
SNGAN); at 64 and 128 px every block but the last halves the resolution.

Class-conditional (num_classes > 0): G's batch norms take a per-class gain
and bias (categorical conditional batch norm, as the authors' code); D adds
the projection embed(y) . phi(x) (Miyato & Koyama 2018), spectrally
normalized too. `config.model.attention_resolution` > 0 adds a SAGAN
self-attention block (Zhang et al. 2019) where G's and D's feature maps have
that side. Weights: Glorot-uniform with gain sqrt(2) in the residual
branches, 1 elsewhere (the authors' initialisers).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry

G_CHANNELS = {32: (4, 4, 4, 4), 64: (16, 8, 4, 2, 1),
              128: (16, 16, 8, 4, 2, 1)}
D_CHANNELS = {32: (2, 2, 2, 2), 64: (1, 2, 4, 8, 16),
              128: (1, 2, 4, 8, 16, 16)}
_RESIDUAL_INIT = nn.initializers.variance_scaling(2.0, 'fan_avg', 'uniform')
_INIT = nn.initializers.xavier_uniform()


def _upsample(x: jax.Array) -> jax.Array:
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x: jax.Array) -> jax.Array:
  return nn.avg_pool(x, (2, 2), (2, 2))


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose gain and bias are looked up by class (or learned once)."""
  num_classes: int = 0
  train: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, labels=None):
    # Chainer's defaults in the authors' code: decay 0.9, eps 2e-5.
    use_affine = not self.num_classes
    x = nn.BatchNorm(use_running_average=not self.train, momentum=0.9,
                     epsilon=2e-5, use_scale=use_affine, use_bias=use_affine,
                     dtype=self.dtype)(x)
    if self.num_classes:
      gain = nn.Embed(self.num_classes, x.shape[-1],
                      embedding_init=nn.initializers.ones, name='gain')(labels)
      bias = nn.Embed(self.num_classes, x.shape[-1],
                      embedding_init=nn.initializers.zeros, name='bias')(labels)
      x = x * gain[:, None, None].astype(x.dtype) + bias[:, None, None].astype(
          x.dtype)
    return x


class SelfAttention(nn.Module):
  """SAGAN's self-attention: x + gamma * o(softmax(f(x) g(x)^T) h(x)).

  f, g, h, o are 1x1 convolutions (f, g to C/8 channels, h to C/2, o back to
  C); g and h are 2x2 max-pooled, as in BigGAN's block; gamma starts at 0.
  """
  conv: functools.partial
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    batch, height, width, channels = x.shape
    one = functools.partial(self.conv, kernel_size=(1, 1), padding='VALID',
                            use_bias=False)
    theta = one(max(channels // 8, 1), name='theta')(x).reshape(
        batch, height * width, -1)
    pooled = lambda y: nn.max_pool(y, (2, 2), (2, 2))
    phi = pooled(one(max(channels // 8, 1), name='phi')(x)).reshape(
        batch, height * width // 4, -1)
    g = pooled(one(max(channels // 2, 1), name='g')(x)).reshape(
        batch, height * width // 4, -1)
    attention = jax.nn.softmax(
        (theta @ jnp.swapaxes(phi, 1, 2)).astype(jnp.float32), axis=-1)
    o = (attention.astype(g.dtype) @ g).reshape(batch, height, width, -1)
    o = one(channels, name='o')(o)
    gamma = self.param('gamma', nn.initializers.zeros, ())
    return x + gamma.astype(x.dtype) * o


class GeneratorBlock(nn.Module):
  features: int
  conv: functools.partial
  norm: functools.partial

  @nn.compact
  def __call__(self, x, labels):
    h = _upsample(nn.relu(self.norm()(x, labels)))
    h = self.conv(self.features, (3, 3), kernel_init=_RESIDUAL_INIT)(h)
    h = nn.relu(self.norm()(h, labels))
    h = self.conv(self.features, (3, 3), kernel_init=_RESIDUAL_INIT)(h)
    shortcut = self.conv(self.features, (1, 1), padding='VALID',
                         kernel_init=_INIT)(_upsample(x))
    return h + shortcut


class DiscriminatorBlock(nn.Module):
  features: int
  conv: functools.partial
  downsample: bool = True
  first: bool = False     # SNGAN's optimised block: no leading ReLU

  @nn.compact
  def __call__(self, x):
    h = x if self.first else nn.relu(x)
    h = self.conv(self.features, (3, 3), kernel_init=_RESIDUAL_INIT)(h)
    h = self.conv(self.features, (3, 3),
                  kernel_init=_RESIDUAL_INIT)(nn.relu(h))
    if self.downsample:
      h = _downsample(h)
    shortcut = x
    if self.first:
      shortcut = self.conv(self.features, (1, 1), padding='VALID',
                           kernel_init=_INIT)(_downsample(x))
    elif self.downsample or x.shape[-1] != self.features:
      shortcut = self.conv(self.features, (1, 1), padding='VALID',
                           kernel_init=_INIT)(x)
      if self.downsample:
        shortcut = _downsample(shortcut)
    return h + shortcut


class _ResNet(nn.Module):
  """The options both networks take."""
  features: int = 64              # ch: channels in units of it, see above
  num_classes: int = 0            # > 0: class-conditional
  attention_resolution: int = 0   # > 0: self-attention at that side
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32


class ResNetGenerator(_ResNet):
  """z -> (H, W, C) image in [-1, 1] by pre-activation residual up-blocks."""
  resolution: int = 32
  out_channels: int = 3

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    out_channels = self.out_channels
    channels = [m * self.features for m in G_CHANNELS[self.resolution]]
    conv = functools.partial(layers.conv, self.spectral_norm, train,
                             padding=((1, 1), (1, 1)), dtype=self.dtype)
    norm = functools.partial(ConditionalBatchNorm, self.num_classes, train,
                             self.dtype)
    x = layers.dense(self.spectral_norm, train, 16 * channels[0],
                     dtype=self.dtype, kernel_init=_INIT)(z)
    x = x.reshape((z.shape[0], 4, 4, channels[0]))
    for i, features in enumerate(channels[1:]):
      x = GeneratorBlock(features, conv, norm, name=f'block{i}')(x, labels)
      if x.shape[1] == self.attention_resolution:
        x = SelfAttention(conv, self.dtype, name='attention')(x)
    x = nn.relu(norm()(x, labels))
    x = conv(out_channels, (3, 3), kernel_init=_INIT)(x)
    return jnp.tanh(x.astype(jnp.float32))


class ResNetDiscriminator(_ResNet):
  """(H, W, C) image -> logit; projection discriminator when conditional."""

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    resolution = x.shape[1]
    channels = [m * self.features for m in D_CHANNELS[resolution]]
    conv = functools.partial(layers.conv, self.spectral_norm, train,
                             padding=((1, 1), (1, 1)), dtype=self.dtype)
    downsampling = (2 if resolution == 32 else len(channels) - 1)
    attended = False
    for i, features in enumerate(channels):
      x = DiscriminatorBlock(features, conv, downsample=i < downsampling,
                             first=i == 0, name=f'block{i}')(x)
      if x.shape[1] == self.attention_resolution and not attended:
        x = SelfAttention(conv, self.dtype, name='attention')(x)
        attended = True
    features = jnp.sum(nn.relu(x), axis=(1, 2))
    logits = layers.dense(self.spectral_norm, train, 1, dtype=self.dtype,
                          use_bias=False, kernel_init=_INIT)(features)[:, 0]
    if self.num_classes:
      embedding = layers.embed(self.spectral_norm, train, self.num_classes,
                               features.shape[-1], dtype=self.dtype,
                               embedding_init=_INIT, name='label_projection')
      logits += jnp.sum(embedding(labels) * features, axis=-1)
    return logits.astype(jnp.float32)


@registry.register('resnet')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """The ResNet pair for 32, 64 or 128 px square images."""
  if len(data_shape) != 3 or data_shape[0] != data_shape[1] or (
      data_shape[0] not in G_CHANNELS):
    raise ConfigError(
        f'config.dataset.resolution={data_shape[0]} (examples of shape '
        f'{data_shape}) cannot be used by the resnet model: expected square '
        f'images of {sorted(G_CHANNELS)} px')
  attention = config.get('attention_resolution', 0)
  if attention and (attention not in (2 ** k for k in range(3, 8))
                    or attention > data_shape[0]):
    raise ConfigError(
        f'config.model.attention_resolution={attention} is invalid: expected '
        f'0 (none) or a feature-map side 8 ... {data_shape[0]} (a power of 2)')
  for field in ('g_features', 'd_features'):
    if config[field] <= 0:
      raise ConfigError(f'config.model.{field}={config[field]} is invalid: '
                        'expected an integer > 0')
  dtype = layers.compute_dtype(config)
  return (ResNetGenerator(resolution=data_shape[0], out_channels=data_shape[2],
                          features=config.g_features,
                          num_classes=num_classes, attention_resolution=attention,
                          spectral_norm=config.get('g_spectral_norm', False),
                          dtype=dtype),
          ResNetDiscriminator(features=config.d_features,
                              num_classes=num_classes,
                              attention_resolution=attention,
                              spectral_norm=config.get('d_spectral_norm', True),
                              dtype=dtype))


def parameter_count(params) -> int:
  return int(sum(math.prod(p.shape) for p in jax.tree.leaves(params)))
