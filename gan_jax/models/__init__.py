"""Generator and discriminator networks, looked up by `config.model.name`.

Each entry builds a (generator, discriminator) pair of Flax modules from the
model config and the shape of one data example:

    generator(z, labels, train=...)      # (batch, latent_dim) -> (batch, *shape)
    discriminator(x, labels, train=...)  # (batch, *shape) -> (batch,) logits

`labels` (batch,) int32 is used when the pair is built with num_classes > 0
(class-conditional) and is None otherwise.

A new architecture is one file here plus one line in MODELS.
"""

from typing import Callable

import flax.linen as nn
import ml_collections

from gan_jax.models import cyclegan, dcgan, mlp

Builder = Callable[[ml_collections.ConfigDict, tuple[int, ...], int],
                   tuple[nn.Module, nn.Module]]

MODELS: dict[str, Builder] = {
    'mlp': mlp.build,
    'dcgan': dcgan.build,
    'cyclegan': cyclegan.build,
}


def build(model_config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
  """The (generator, discriminator) pair named by model_config.name.

  Args:
    model_config: `config.model`.
    data_shape: the shape of one example.
    num_classes: > 0 builds class-conditional networks.
  """
  return MODELS[model_config.name](model_config, tuple(data_shape),
                                   num_classes)
