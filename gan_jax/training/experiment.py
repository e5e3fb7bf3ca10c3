"""Everything a config determines before training: data, variant, optimizers,
the initial state, the device mesh and the dispatch plan.

`setup(config)` validates the config and builds the pieces without touching
the workdir, so a bad config stops with one error before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import jax
import ml_collections
import numpy as np
import optax

from gan_jax import config_lib
from gan_jax import variants
from gan_jax.core import optim
from gan_jax.core import state as state_lib
from gan_jax.data import batching
from gan_jax.data import sources
from gan_jax.data.dataset import Dataset
from gan_jax.errors import ConfigError
from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.training import checkpoint


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Everything a config determines before training starts."""
  config: ml_collections.ConfigDict
  dataset: Dataset
  gan: variants.Variant
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  step_batch_size: int             # batch_size x d_steps_per_g_step
  initial_state: state_lib.GANState | None   # None: setup(init=False)


def setup(config: ml_collections.ConfigDict, init: bool = True) -> Experiment:
  """Validates `config` and builds data, variant, optimizers and a fresh state.

  With `init=False` the state is left None (a population makes its own).

  Raises:
    ConfigError: for any invalid field, before anything is written.
  """
  config_lib.validate(config)
  dataset = sources.load_dataset(config.dataset)
  gan = variants.build(config, dataset.example_shape, dataset.num_classes)
  unpaired = gan.kind == 'translation'
  if unpaired != (sorted(dataset.domains) == ['a', 'b']):
    raise ConfigError(
        f'config.dataset.name={config.dataset.name!r} has the domains '
        f'{list(dataset.domains)}, but config.model.name='
        f'{config.model.name!r} trains on '
        + ("two unpaired domains ['a', 'b'] (e.g. digits_unpaired, "
           "folder:<dirA>,<dirB>, tfds:cycle_gan/horse2zebra)" if unpaired
           else "one domain ['x']: use configs/cyclegan.py for two domains"))
  # The configured metrics must be computable before any training starts.
  evaluator_lib.Evaluator(config, dataset, gan, workdir='').check(
      [name for name, period in config.evals.items() if period])
  g_tx, d_tx = optim.make_optimizers(config)
  # k minibatches per step, one per discriminator update.
  step_batch_size = config.batch_size * config.d_steps_per_g_step
  state = None
  if init:
    first_batch = next(batching.batches(dataset, step_batch_size,
                                        config.seed))
    state = state_lib.create_train_state(gan, g_tx, d_tx, first_batch,
                                         config.seed, config.ema_decay)
  return Experiment(config, dataset, gan, g_tx, d_tx, step_batch_size, state)


def restore_latest(experiment: Experiment, workdir: str):
  """The newest checkpointed state in `workdir`, or None if there is none."""
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'),
                                         experiment.config.keep_checkpoints)
  try:
    if checkpointer.latest_step() is None:
      return None
    return checkpointer.restore(experiment.initial_state)
  finally:
    checkpointer.close()


def make_mesh(config: ml_collections.ConfigDict) -> jax.sharding.Mesh:
  """The data-parallel mesh `config.mesh` describes.

  Raises:
    ConfigError: for more devices than there are, or a global batch that
      does not split evenly over them.
  """
  devices = jax.devices()
  count = len(devices) if config.mesh.data == -1 else config.mesh.data
  if count > len(devices):
    raise ConfigError(f'config.mesh.data={count} is more than the '
                      f'{len(devices)} devices there are: use -1 (all) or '
                      f'a number up to {len(devices)}')
  if config.batch_size % count:
    raise ConfigError(f'config.batch_size={config.batch_size} does not split '
                      f'over config.mesh.data={count} devices: use a multiple '
                      f'of {count}')
  return jax.sharding.Mesh(np.asarray(devices[:count]), ('data',))


def replicate(tree, sharding: jax.sharding.Sharding):
  """Places a host-identical pytree on every device of `sharding`.

  Each process builds its own shards from its host copy, so this also works
  across hosts (where `device_put` of a local array cannot).
  """
  host = jax.device_get(tree)
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(
          np.shape(x), sharding, lambda index: np.asarray(x)[index]), host)


def dispatch_lengths(config: ml_collections.ConfigDict, start_step: int,
                     periods: Sequence[int] | None = None) -> list[int]:
  """How many train steps each dispatch runs, from `start_step` to the end.

  Up to `config.steps_per_dispatch` per dispatch, cut so that a multiple of
  every period in `periods` (the hooks'; by default the config's log,
  checkpoint, sample and evaluation periods) ends a dispatch: the state is
  within the host's reach exactly there. Periods that are multiples of
  steps_per_dispatch give one length, so the step compiles once.
  """
  if periods is None:
    periods = (config.log_every_steps, config.checkpoint_every_steps,
               config.sample_every_steps, *config.evals.values())
  periods = [p for p in periods if p]
  lengths, step = [], start_step
  while step < config.num_train_steps:
    boundary = min([config.num_train_steps]
                   + [(step // p + 1) * p for p in periods])
    length = min(config.steps_per_dispatch, boundary - step)
    lengths.append(length)
    step += length
  return lengths
