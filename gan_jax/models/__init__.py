"""Generator and discriminator networks, looked up by `config.model.name`.

Each entry builds a (generator, discriminator) pair of Flax modules from the
model config and the shape of one data example:

    generator(z, train=...)          # (batch, latent_dim) -> (batch, *shape)
    discriminator(x, train=...)      # (batch, *shape) -> (batch,) logits

A new architecture is one file here plus one line in MODELS.
"""

from typing import Callable

import flax.linen as nn
import ml_collections

from gan_jax.models import dcgan, mlp

Builder = Callable[[ml_collections.ConfigDict, tuple[int, ...]],
                   tuple[nn.Module, nn.Module]]

MODELS: dict[str, Builder] = {
    'mlp': mlp.build,
    'dcgan': dcgan.build,
}


def build(model_config: ml_collections.ConfigDict,
          data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
  """Returns the (generator, discriminator) pair named by model_config.name."""
  return MODELS[model_config.name](model_config, tuple(data_shape))
