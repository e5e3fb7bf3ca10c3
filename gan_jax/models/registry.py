"""The table of network pairs by `config.model.name`, filled by the model files.

A model file registers its builder with `@register(name)`:

    @registry.register('dcgan')
    def build(config, data_shape, num_classes=0):
      return generator, discriminator

`variant` names the contract the pair follows (`gan_jax.variants`):
'standard' (G: noise -> data, D: data -> logit) unless the file says
otherwise (CycleGAN's image-to-image networks say 'cyclegan').
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn
import ml_collections

from gan_jax.registry import Registry

Builder = Callable[[ml_collections.ConfigDict, tuple[int, ...], int],
                   tuple[nn.Module, nn.Module]]


@dataclasses.dataclass(frozen=True)
class Model:
  """A registered (generator, discriminator) builder."""
  build: Builder
  variant: str


MODELS = Registry('model')     # name -> Model


def register(name: str, variant: str = 'standard'):
  """Registers the decorated builder under `name`."""
  def decorator(build: Builder) -> Builder:
    MODELS.add(name, Model(build, variant))
    return build
  return decorator
