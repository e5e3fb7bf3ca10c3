"""Fully connected generator and discriminator (Goodfellow et al. 2014).

With `num_classes > 0` both are conditioned as in Mirza & Osindero 2014: the
one-hot label is concatenated to z in the generator and to x in the
discriminator.

The paper's discriminator used maxout units and dropout; this one uses
LeakyReLU(0.2), which trains as well on the 2-D mixtures and images here and
keeps the discriminator deterministic (no dropout randomness in the step).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax.errors import ConfigError
from gan_jax.models import layers
from gan_jax.models import registry


class MLPGenerator(nn.Module):
  """z -> ReLU MLP -> a data example; tanh output for images, linear for points."""
  output_shape: tuple[int, ...]
  hidden_dims: Sequence[int]
  num_classes: int = 0
  dtype: jnp.dtype = jnp.float32  # computation dtype; output is float32

  @nn.compact
  def __call__(self, z: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    del train  # no batch statistics
    x = z
    if self.num_classes:
      x = jnp.concatenate([x, jax.nn.one_hot(labels, self.num_classes)], -1)
    for width in self.hidden_dims:
      x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
    x = nn.Dense(int(np.prod(self.output_shape)), dtype=self.dtype)(x)
    x = x.astype(jnp.float32)
    if len(self.output_shape) == 3:  # images live in [-1, 1]
      x = jnp.tanh(x)
    return x.reshape((z.shape[0],) + tuple(self.output_shape))


class MLPDiscriminator(nn.Module):
  """A data example -> LeakyReLU(0.2) MLP -> one logit."""
  hidden_dims: Sequence[int]
  num_classes: int = 0
  dtype: jnp.dtype = jnp.float32  # computation dtype; logits are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, labels: jnp.ndarray | None = None,
               train: bool = True) -> jnp.ndarray:
    del train
    x = x.reshape((x.shape[0], -1))
    if self.num_classes:
      x = jnp.concatenate([x, jax.nn.one_hot(labels, self.num_classes)], -1)
    for width in self.hidden_dims:
      x = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(x),
                        negative_slope=0.2)
    return nn.Dense(1, dtype=self.dtype)(x)[:, 0].astype(jnp.float32)


@registry.register('mlp')
def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """Builds the MLP pair from config.model.{g_hidden,d_hidden}."""
  for field in ('g_hidden', 'd_hidden'):
    widths = config.get(field)
    if widths is None or any(int(w) <= 0 for w in widths):
      raise ConfigError(
          f'config.model.{field}={widths!r} is invalid for the mlp model: '
          'expected a tuple of positive layer widths, e.g. (256, 256)')
  dtype = layers.compute_dtype(config)
  return (MLPGenerator(output_shape=data_shape,
                       hidden_dims=tuple(config.g_hidden),
                       num_classes=num_classes, dtype=dtype),
          MLPDiscriminator(hidden_dims=tuple(config.d_hidden),
                           num_classes=num_classes, dtype=dtype))
