"""GAN variants: what each supplies to the one shared train step.

`base.Variant` is the contract; `standard.StandardGAN` (vanilla GAN, DCGAN,
conditional GAN, PacGAN) and `cyclegan.CycleGAN` implement it. The model
named by `config.model.name` says which variant its networks follow, so
`build(config, ...)` needs no list of variants: every module of this package
is imported when the package is, and each registers itself
(`registry.register`). A new variant is one file here.
"""

import importlib
import pkgutil

import ml_collections

from gan_jax import models
from gan_jax.variants.base import Variant
from gan_jax.variants.registry import VARIANTS

for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f'{__name__}.{_module.name}')


def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0) -> Variant:
  """Builds the variant of `config.model.name`'s networks.

  Args:
    config: the run's config.
    data_shape: the shape of one example.
    num_classes: the dataset's number of classes (0: unlabelled); used when
      `config.model.conditional`.
  """
  variant = VARIANTS[models.get(config.model.name).variant]
  return variant.build(config, tuple(data_shape), num_classes)
