"""Fully connected generator and discriminator (Goodfellow et al. 2014).

With `num_classes > 0` both are conditioned as in Mirza & Osindero 2014: the
one-hot label is concatenated to z in the generator and to x in the
discriminator.

Options (`config.model`), so that the published protocols can be followed:
  g_norm            'none' (default) or 'batch': batch norm before each ReLU
                    of the generator, as PacGAN's 2-D networks (Lin et al.
                    2018, after ALI); hidden layers then have no bias.
  g_norm_groups     1 (default): batch norm over the whole batch; k >= 2:
                    over k interleaved groups (group j: samples j, j + k,
                    j + 2k, ...), each normalised with its own statistics.
                    With pack = k every pack holds one sample of each group,
                    as when PacGAN's code draws a pack's k samples in k
                    generator calls of 100 ("per-call" batch norm).
  d_maxout_pieces   0 (default): LeakyReLU(0.2) hidden units; k >= 2: maxout
                    units of k pieces (Goodfellow et al. 2013), as the
                    original GAN's and PacGAN's discriminators.
  init_std          0 (default): Flax's LeCun-normal weights; s > 0: weights
                    ~ N(0, s^2) and zero biases (PacGAN: 0.02).
The original GAN's discriminator also used dropout; none is applied here,
which keeps the discriminator deterministic (no dropout randomness in the
step).
"""

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry


def _dense(init_std: float, dtype, spectral_norm: bool = False,
           train: bool = True, **kwargs):
  """Dense layers: N(0, init_std^2) weights when init_std > 0; spectrally
  normalized when asked."""
  if init_std > 0:
    kwargs['kernel_init'] = nn.initializers.normal(stddev=init_std)
  return functools.partial(layers.dense, spectral_norm, train, dtype=dtype,
                           **kwargs)


class Maxout(nn.Module):
  """A maxout layer: the max over `pieces` linear maps (Goodfellow et al. 2013)."""
  features: int
  pieces: int
  init_std: float = 0.0
  dtype: jnp.dtype = jnp.float32
  spectral_norm: bool = False
  train: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    y = _dense(self.init_std, self.dtype, self.spectral_norm, self.train)(
        self.features * self.pieces)(x)
    return y.reshape(y.shape[:-1] + (self.features, self.pieces)).max(-1)


class MLPGenerator(nn.Module):
  """z -> ReLU MLP -> a data example; tanh output for images, linear for points."""
  output_shape: tuple[int, ...]
  hidden_dims: Sequence[int]
  num_classes: int = 0
  norm: str = 'none'              # none | batch
  norm_groups: int = 1            # batch norm statistics per group
  init_std: float = 0.0
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32  # computation dtype; output is float32

  @nn.compact
  def __call__(self, z: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    x = z
    if self.num_classes:
      x = jnp.concatenate([x, jax.nn.one_hot(labels, self.num_classes)], -1)
    batch_norm = self.norm == 'batch'
    dense = _dense(self.init_std, self.dtype, self.spectral_norm, train)
    norm = (functools.partial(layers.GroupedBatchNorm, self.norm_groups)
            if self.norm_groups > 1 else nn.BatchNorm)
    for i, width in enumerate(self.hidden_dims):
      x = dense(width, use_bias=not batch_norm)(x)
      if batch_norm:
        # Blocks' BatchNormalization, as PacGAN used it: running averages
        # with weight 0.05 per update, epsilon 1e-4 (arguments by name).
        x = norm(use_running_average=not train, momentum=0.95, epsilon=1e-4,
                 dtype=self.dtype, name=f'BatchNorm_{i}')(x)
      x = nn.relu(x)
    x = dense(int(np.prod(self.output_shape)))(x)
    x = x.astype(jnp.float32)
    if len(self.output_shape) == 3:  # images live in [-1, 1]
      x = jnp.tanh(x)
    return x.reshape((z.shape[0],) + tuple(self.output_shape))


class MLPDiscriminator(nn.Module):
  """A data example -> LeakyReLU(0.2) or maxout MLP -> one logit."""
  hidden_dims: Sequence[int]
  num_classes: int = 0
  maxout_pieces: int = 0          # >= 2: maxout units
  init_std: float = 0.0
  spectral_norm: bool = False
  dtype: jnp.dtype = jnp.float32  # computation dtype; logits are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    x = x.reshape((x.shape[0], -1))
    if self.num_classes:
      x = jnp.concatenate([x, jax.nn.one_hot(labels, self.num_classes)], -1)
    dense = _dense(self.init_std, self.dtype, self.spectral_norm, train)
    for width in self.hidden_dims:
      if self.maxout_pieces >= 2:
        x = Maxout(width, self.maxout_pieces, self.init_std, self.dtype,
                   self.spectral_norm, train)(x)
      else:
        x = nn.leaky_relu(dense(width)(x), negative_slope=0.2)
    return dense(1)(x)[:, 0].astype(jnp.float32)


@registry.register('mlp')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """Builds the MLP pair from config.model.{g_hidden,d_hidden} and options."""
  for field in ('g_hidden', 'd_hidden'):
    widths = config.get(field)
    if widths is None or any(int(w) <= 0 for w in widths):
      raise ConfigError(
          f'config.model.{field}={widths!r} is invalid for the mlp model: '
          'expected a tuple of positive layer widths, e.g. (256, 256)')
  g_norm = config.get('g_norm', 'none')
  if g_norm not in ('none', 'batch'):
    raise ConfigError(f"config.model.g_norm={g_norm!r} is invalid: expected "
                      "one of ['none', 'batch']")
  groups = config.get('g_norm_groups', 1)
  if not (isinstance(groups, int) and groups >= 1) or (
      groups > 1 and g_norm != 'batch'):
    raise ConfigError(f'config.model.g_norm_groups={groups!r} is invalid: '
                      'expected 1, or an integer >= 2 with g_norm=batch')
  pieces = config.get('d_maxout_pieces', 0)
  if pieces < 0 or pieces == 1:
    raise ConfigError(f'config.model.d_maxout_pieces={pieces} is invalid: '
                      'expected 0 (LeakyReLU units) or an integer >= 2')
  init_std = config.get('init_std', 0.0)
  if init_std < 0:
    raise ConfigError(f'config.model.init_std={init_std} is invalid: expected '
                      '0 (LeCun-normal) or a standard deviation > 0')
  dtype = layers.compute_dtype(config)
  return (MLPGenerator(output_shape=data_shape,
                       hidden_dims=tuple(config.g_hidden),
                       num_classes=num_classes, norm=g_norm,
                       norm_groups=groups,
                       init_std=init_std,
                       spectral_norm=config.get('g_spectral_norm', False),
                       dtype=dtype),
          MLPDiscriminator(hidden_dims=tuple(config.d_hidden),
                           num_classes=num_classes, maxout_pieces=pieces,
                           init_std=init_std,
                           spectral_norm=config.get('d_spectral_norm', False),
                           dtype=dtype))
