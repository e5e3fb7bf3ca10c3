"""The training state: one pytree of arrays holding everything training changes.

`GANState` holds both sides' parameters, their non-parameter collections
(batch statistics, spectral-norm vectors), their two separate optax states,
the generator EMA, the variant's own arrays (CycleGAN's image pools), the
step and the base PRNG key. The optax transformations themselves are static
and closed over by the step, so jit, vmap, sharding and orbax all see one
ordinary pytree.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan_jax.core import jit_once
from gan_jax.core.switches import is_enabled

PyTree = Any


@flax.struct.dataclass
class NetworkState:
  """One side of the game: its parameters, batch statistics, optimizer state."""
  params: PyTree
  model_state: dict      # non-parameter collections, e.g. {'batch_stats': ...}
  opt_state: optax.OptState


@flax.struct.dataclass
class GANState:
  """Everything training changes, as one pytree of arrays."""
  step: jax.Array        # int32 scalar: completed train steps
  rng: jax.Array         # uint32[2]: base key; a step uses fold_in(rng, step)
  generator: NetworkState
  discriminator: NetworkState
  ema_params: PyTree     # EMA of generator params; None if ema_decay == 0
  variant_state: PyTree  # the variant's own arrays, e.g. image pools ({})


def _network_state(variables: dict, tx: optax.GradientTransformation):
  variables = dict(variables)
  params = variables.pop('params')
  return NetworkState(params=params, model_state=variables,
                      opt_state=tx.init(params))


def init_state(gan, g_tx: optax.GradientTransformation,
               d_tx: optax.GradientTransformation, example_batch: dict,
               key: jax.Array, ema_decay: float = 0.0) -> GANState:
  """Initialises both sides from `key` and an example batch (traceable)."""
  init_key, train_key = jax.random.split(key)
  g_variables, d_variables = gan.init(init_key, example_batch)
  generator = _network_state(g_variables, g_tx)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      rng=train_key,
      generator=generator,
      discriminator=_network_state(d_variables, d_tx),
      ema_params=(jax.tree.map(jnp.copy, generator.params)
                  if is_enabled(ema_decay) else None),
      variant_state=gan.init_variant_state(example_batch))


def create_train_state(gan, g_tx: optax.GradientTransformation,
                       d_tx: optax.GradientTransformation, example_batch: dict,
                       seed: int, ema_decay: float = 0.0) -> GANState:
  """`init_state` from `seed`, jitted (`jit_once`)."""
  return jit_once.run(initializer(gan, g_tx, d_tx, ema_decay),
                      jax.random.PRNGKey(seed), example_batch)


def initializer(gan, g_tx: optax.GradientTransformation,
                d_tx: optax.GradientTransformation, ema_decay: float = 0.0):
  """`create(key, example_batch) -> GANState`: `init_state` as
  `create_train_state` compiles it."""
  def create(key, batch):
    return init_state(gan, g_tx, d_tx, batch, key, ema_decay)
  return create


def sample_params(state: GANState) -> PyTree:
  """The generator parameters used for samples: the EMA when there is one."""
  return state.generator.params if state.ema_params is None else state.ema_params


def with_hyperparameters_of(restored: GANState, fresh: GANState) -> GANState:
  """`restored` with the optimizer hyperparameters of `fresh` (the config's).

  `optax.inject_hyperparams` keeps numeric hyperparameters (betas, weight
  decay) in the optimizer state, so a restored state would keep the values it
  was saved with; a resumed run takes the config's. Scheduled ones (the
  learning rate) are recomputed from the update count at every update anyway.
  """
  def refresh(restored_side: NetworkState, fresh_side: NetworkState):
    opt_state = restored_side.opt_state._replace(
        hyperparams=fresh_side.opt_state.hyperparams)
    return restored_side.replace(opt_state=opt_state)
  return restored.replace(
      generator=refresh(restored.generator, fresh.generator),
      discriminator=refresh(restored.discriminator, fresh.discriminator))
