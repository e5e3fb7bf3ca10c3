"""The variant contract: what the one shared train step asks of a GAN.

A variant owns its networks and its two objectives; everything else (the
alternating update, optimizers, EMA, checkpoints, logging, evaluation) is
shared and lives in `gan_jax.core` and `gan_jax.training`. The methods, as
`core.train_step` calls them:

  init(key, batch) -> (g_variables, d_variables)
      Flax variables of the generator side and the discriminator side. A side
      may hold several networks (CycleGAN: two of each) in one pytree; each
      side gets one optax state.

  generate(g_params, g_state, batch, key) -> (outputs, new_g_state)
      Everything the generator side computes in a step (for a standard GAN,
      G(z)). The train step differentiates it with `jax.vjp` once and reuses
      the result for the discriminator update and the generator update, so
      the generator's forward pass runs once per step.

  init_variant_state(batch) -> pytree
  discriminator_inputs(variant_state, outputs, key) -> (outputs, variant_state)
      What the discriminator update sees of the generator's outputs, and any
      arrays the variant keeps across steps (CycleGAN: image history pools).
      The state lives in `GANState.variant_state`, inside the jitted step.

  discriminator_loss(d_params, d_state, outputs, batch, key)
      -> (loss, (new_d_state, metrics))
      Minimised by the discriminator side; `outputs` arrive gradient-stopped.

  generator_loss(d_params, d_state, outputs, batch, key) -> (loss, metrics)
      Minimised by the generator side; differentiated w.r.t. `outputs`.

  sample_inputs(key, num, examples) / sample(g_params, g_state, inputs)
      A fixed input batch (from noise, or from `examples` of real data) and
      the generator's output for the PNG grids and the evaluations;
      `sample_grid_columns(num)`.

What evaluation asks (instead of the variant's class): `kind` says what the
generator produces ('samples' of the data distribution, or 'translation'
between two domains, with `translate(g_params, g_state, x)`), and
`num_classes` > 0 that it is class-conditional (sample inputs then carry a
'label').

`g_state` / `d_state` hold non-parameter collections (batch statistics) as
a dict, `{}` when a network has none.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import ml_collections

PyTree = Any


def apply_train_mode(module: nn.Module, params: PyTree, state: dict,
                     *inputs, frozen: tuple[str, ...] = ()
                     ) -> tuple[jax.Array, dict]:
  """Applies `module` in training mode; returns (output, updated state).

  Collections named in `frozen` are read, not updated (spectral norm's
  vectors after their one update of a step).
  """
  mutable = [collection for collection in state if collection not in frozen]
  if not mutable:
    return module.apply({'params': params, **state}, *inputs,
                        train=True), state
  output, updated = module.apply({'params': params, **state}, *inputs,
                                 train=True, mutable=mutable)
  return output, {**state, **updated}


class Variant:
  """Defaults of the contract; subclasses implement the rest (see above)."""

  kind = 'samples'       # 'samples' | 'translation'
  num_classes = 0        # > 0: class-conditional samples

  @classmethod
  def build(cls, config: ml_collections.ConfigDict,
            data_shape: tuple[int, ...], num_classes: int) -> 'Variant':
    """Checks `config` against what the variant can do and builds it."""
    raise NotImplementedError

  def init_variant_state(self, batch: dict) -> PyTree:
    del batch
    return {}

  def discriminator_inputs(self, variant_state, outputs, key):
    del key
    return outputs, variant_state

  def sample_grid_columns(self, num_images: int) -> int | None:
    """Columns of the sample grid (None: a square grid)."""
    del num_images
    return None
