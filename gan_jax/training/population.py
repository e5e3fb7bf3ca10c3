"""Populations: K runs that differ only in numbers, trained as one program.

Members whose configs differ only in numeric hyperparameters and seeds
(`VECTORIZABLE`) share every array shape, so their training states stack
along a leading member axis and the one train step runs under `jax.vmap`:
K GANs train in one compiled program, each with its own parameters,
optimizer states, hyperparameters, random stream and data order.

How the numbers reach the step: the variant and the optimizers are built
*inside* the vmapped function from a copy of the config whose varying fields
hold the traced per-member values. Code that switches a term on by a value
(`if loss.r1_weight:`) asks `core.switches.is_enabled`, which keeps the term for
traced values and weights it by each member's value (0 = off).

A member of a population computes what the same config computes alone, up to
floating-point reassociation (tests/test_population.py).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import jax
import ml_collections
import numpy as np

from gan_jax import config_lib
from gan_jax import variants
from gan_jax.core import jit_once
from gan_jax.core import optim
from gan_jax.core import state as state_lib
from gan_jax.core import train_step as train_step_lib
from gan_jax.data import batching
from gan_jax.data.dataset import Dataset
from gan_jax.errors import ConfigError

# Fields that may differ between the members of one population.
VECTORIZABLE = (
    'seed', 'ema_decay',
    'loss.label_smoothing', 'loss.gradient_penalty_weight', 'loss.r1_weight',
    'loss.cycle_weight', 'loss.identity_weight',
) + tuple(f'optimizer.{side}.{name}'
          for side in ('generator', 'discriminator')
          for name in ('learning_rate', 'b1', 'b2', 'weight_decay'))


def flatten(config: ml_collections.ConfigDict, prefix: str = '') -> dict:
  """{'a.b.c': value} for every leaf of `config`."""
  leaves = {}
  for key, value in config.items():
    path = f'{prefix}{key}'
    if isinstance(value, ml_collections.ConfigDict):
      leaves.update(flatten(value, path + '.'))
    else:
      leaves[path] = value
  return leaves


def differing_fields(configs: Sequence[ml_collections.ConfigDict]) -> list:
  """The dotted fields whose values are not the same in every config."""
  flat = [flatten(c) for c in configs]
  return sorted(k for k in flat[0]
                if any(f.get(k) != flat[0][k] for f in flat[1:]))


@dataclasses.dataclass(frozen=True)
class Population:
  """Members that differ only in `fields`, with their values per member."""
  members: tuple[ml_collections.ConfigDict, ...]
  names: tuple[str, ...]
  fields: tuple[str, ...]
  values: dict[str, np.ndarray]        # field -> (K,) per-member values

  @classmethod
  def create(cls, members: Sequence[ml_collections.ConfigDict],
             names: Sequence[str]) -> 'Population':
    """Raises ConfigError when members differ in a structural field."""
    fields = differing_fields(members)
    structural = [f for f in fields if f not in VECTORIZABLE]
    if structural:
      raise ConfigError(
          f'population members differ in {structural}, which change the '
          f'program; only {list(VECTORIZABLE)} may differ within one '
          'population (gan_jax.sweep runs the others one after another)')
    values = {f: np.asarray([flatten(m)[f] for m in members]) for f in fields}
    return cls(tuple(members), tuple(names), tuple(fields), values)

  def _build(self, values: dict, data_shape, num_classes):
    """Config, variant and optimizers of one member with `values` set."""
    # type_safe=False: the fields receive traced arrays inside vmap.
    config = ml_collections.ConfigDict(self.members[0].to_dict(),
                                       type_safe=False)
    for field, value in values.items():
      config_lib.set_field(config, field, value)
    gan = variants.build(config, data_shape, num_classes)
    g_tx, d_tx = optim.make_optimizers(config)
    return config, gan, g_tx, d_tx

  def init(self, example_batches: dict, data_shape, num_classes
           ) -> state_lib.GANState:
    """Every member's initial state, stacked: as each config alone would."""
    def one(values, batch):
      config, gan, g_tx, d_tx = self._build(values, data_shape, num_classes)
      return state_lib.init_state(gan, g_tx, d_tx, batch,
                                       jax.random.PRNGKey(config.seed),
                                       config.ema_decay)
    return jit_once.run(jax.vmap(one), self.values, example_batches)

  def train_step(self, data_shape, num_classes):
    """`step(states, batches)`: the shared train step, vmapped over members."""
    def one(values, state, batch):
      config, gan, g_tx, d_tx = self._build(values, data_shape, num_classes)
      return train_step_lib.make_train_step_for(gan, g_tx, d_tx, config)(
          state, batch)
    values = self.values
    return lambda states, batches: jax.vmap(one)(values, states, batches)

  def batches(self, dataset: Dataset, batch_size: int,
              start: int = 0, random_flip: bool = False,
              num_workers: int = 0, scale: bool = True,
              group: int = 1) -> Iterator[dict]:
    """(K, batch, ...) batches: member k reads in its own seed's order."""
    streams = [batching.batches(dataset, batch_size, member.seed,
                                start=start, random_flip=random_flip,
                                num_workers=num_workers, scale=scale,
                                group=group)
               for member in self.members]
    for member_batches in zip(*streams):
      yield jax.tree.map(lambda *leaves: np.stack(leaves), *member_batches)


def member_state(states: state_lib.GANState, index: int):
  """Member `index` of a population state: an ordinary single-run state."""
  return jax.tree.map(lambda x: x[index], states)
