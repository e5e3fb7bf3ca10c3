"""Generator and discriminator networks, looked up by `config.model.name`.

Each model file builds a (generator, discriminator) pair of Flax modules from
the model config and the shape of one data example, and registers it
(`registry.register`). For the standard variant:

    generator(z, labels, train=...)      # (batch, latent_dim) -> (batch, *shape)
    discriminator(x, labels, train=...)  # (batch, *shape) -> (batch,) logits

`labels` (batch,) int32 is used when the pair is built with num_classes > 0
(class-conditional) and is None otherwise.

A new architecture is one file here: every module of this package is
imported when the package is, so its `@register` runs; nothing else names it.
This package owns `config.model`'s common fields (`model_config`,
`validate`); a model's own fields (widths, norms) are added by the configs
that use it and checked by its builder.
"""

import importlib
import pkgutil

import flax.linen as nn
import ml_collections

from gan_jax.errors import ConfigError, check
from gan_jax.models import layers
from gan_jax.models.registry import MODELS, Model

for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f'{__name__}.{_module.name}')


LATENT_DISTRIBUTIONS = ('normal', 'uniform')


def model_config() -> ml_collections.ConfigDict:
  """`config.model`: the fields every model has."""
  return ml_collections.ConfigDict(dict(
      name='dcgan',            # a registered model, see MODELS
      latent_dim=100,
      # The latents' distribution: 'normal' N(0, I), or 'uniform' U(-1, 1)^d
      # (the DCGAN paper's and DCGAN-tensorflow's).
      latent_distribution='normal',
      conditional=False,       # class-conditional G and D (needs labels)
      # PacGAN (Lin et al. 2018): D scores this many samples jointly; 1 = off.
      pack=1,
      # Computation dtype of the networks: float32, or bfloat16 for mixed
      # precision (parameters, optimizer states and losses stay float32).
      dtype='float32',
      # Spectral normalization (Miyato et al. 2018) of every Dense/Conv/Embed
      # layer of D / G; one power iteration per update (models/spectral.py).
      d_spectral_norm=False,
      g_spectral_norm=False,
  ))


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks `config.model`'s common fields (ConfigError on the first bad one)."""
  model = config.model
  check(model.name in MODELS, 'model.name', model.name,
        f'one of {sorted(MODELS)}')
  check(model.latent_dim > 0, 'model.latent_dim', model.latent_dim,
        'an integer > 0')
  check(model.latent_distribution in LATENT_DISTRIBUTIONS,
        'model.latent_distribution', model.latent_distribution,
        f'one of {list(LATENT_DISTRIBUTIONS)}')
  check(model.pack >= 1 and config.batch_size % model.pack == 0,
        'model.pack', model.pack,
        f'an integer >= 1 that divides batch_size={config.batch_size}')
  layers.compute_dtype(model)


def get(name: str) -> Model:
  """The registered model `name`."""
  if name not in MODELS:
    raise ConfigError(f'config.model.name={name!r} is invalid: expected one '
                      f'of {sorted(MODELS)}')
  return MODELS[name]


def build(model_config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
  """The (generator, discriminator) pair named by model_config.name.

  Args:
    model_config: `config.model`.
    data_shape: the shape of one example.
    num_classes: > 0 builds class-conditional networks.
  """
  return get(model_config.name).build(model_config, tuple(data_shape),
                                      num_classes)
