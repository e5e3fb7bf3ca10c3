"""Batches: deterministic, resumable, per host; and their trip to the device.

Batching uses grain (`grain.MapDataset`) over a random-access sequence of
batches: per host, batch s of a domain holds the examples at positions
[s mod n] of a permutation of the host's shard, drawn fresh every epoch from
(seed, epoch); they are converted to float32 in [-1, 1] (the last partial
batch of an epoch is dropped) and optionally flipped at random per example.
PacGAN's fixed real packs permute groups of consecutive examples instead
(`group`). Batch number s is a pure function of (seed, s), so a run resumed
at step s reads exactly the batches an uninterrupted run reads: the data
position is the step, which the checkpoint restores.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
from typing import Iterable, Iterator

import grain
import jax
import numpy as np

from gan_jax.data.dataset import Dataset
from gan_jax.data.prepare import Example, to_model_inputs
from gan_jax.errors import ConfigError


def _flip_half(batch: Example, rng: np.random.Generator) -> Example:
  flip = rng.random(len(batch['x'])) < 0.5
  batch = dict(batch)
  batch['x'] = np.where(flip[:, None, None, None], batch['x'][:, :, ::-1],
                        batch['x'])
  return batch


class _EpochOrder:
  """Which examples batch s holds: epoch s // batches_per_epoch is one fresh
  permutation of this host's shard, drawn whole with numpy from (seed,
  epoch) and kept while the epoch lasts.

  With `group` = m > 1 the permutation moves fixed groups of m consecutive
  examples ([0, m), [m, 2m), ...) and keeps each together, in order: a
  batch is whole groups. That is PacGAN's authors' real data: packs drawn
  once and reshuffled as packs every epoch (`config.dataset.fixed_packs`).
  Hosts shard whole groups. With m = 1 it is the plain permutation.

  grain's `MapDataset.shuffle` computes its shuffled index per example in
  Python: for 5 seeds x 512 images that alone held the host to 23 population
  steps/s against 53 with this order, below the H200's 148 for the step
  (experiments/input_benchmark.py --order).
  """

  def __init__(self, size: int, batch_size: int, seed: int,
               shard_index: int, shard_count: int, group: int = 1):
    self.shard = np.arange(shard_index, size // group, shard_count)
    self.group, self.seed = group, seed
    self.groups_per_batch = batch_size // group
    self.batches_per_epoch = len(self.shard) // self.groups_per_batch
    self._epoch = (-1, self.shard)

  def __call__(self, step: int) -> np.ndarray:
    epoch, position = divmod(step, self.batches_per_epoch)
    cached, order = self._epoch       # one read: safe across threads
    if cached != epoch:
      order = np.random.default_rng([self.seed, epoch]).permutation(
          self.shard)
      self._epoch = (epoch, order)
    groups = order[position * self.groups_per_batch:
                   (position + 1) * self.groups_per_batch]
    if self.group == 1:
      return groups
    return (groups[:, None] * self.group + np.arange(self.group)).ravel()


class _Batches:
  """Random access to every batch of a source, by step (an unbounded
  sequence: epoch after epoch)."""

  def __init__(self, source, order: _EpochOrder, scale: bool):
    self.source, self.order, self.scale = source, order, scale

  def __len__(self) -> int:
    return sys.maxsize

  def __getitem__(self, step: int) -> Example:
    indices = self.order(step)
    if hasattr(self.source, 'take'):   # in memory: the batch in one gather
      return to_model_inputs(self.source.take(indices), self.scale)
    examples = [to_model_inputs(self.source[int(i)], self.scale)
                for i in indices]
    return {key: np.stack([e[key] for e in examples]) for key in examples[0]}


def domain_batches(source, batch_size: int, seed: int, *,
                   random_flip: bool = False, scale: bool = True,
                   group: int = 1, shard_index: int = 0,
                   shard_count: int = 1) -> grain.MapDataset:
  """All batches of one source as a random-access grain dataset.

  Batch s is a pure function of (seed, s): each epoch is a new permutation of
  this host's shard; the last partial batch of an epoch is dropped. Sources
  with `take` (held in memory) are gathered a batch at a time, the others
  read example by example: the same batches either way. With
  `scale=False` images stay uint8 (`prepare.scale_images` on the device).
  With `group` = m, fixed groups of m consecutive examples stay together
  (`_EpochOrder`): `batch_size` must be a multiple of m.
  """
  if batch_size % group:
    raise ConfigError(
        f'a batch of {batch_size} examples per host does not hold whole '
        f'fixed packs of {group}: make config.batch_size / hosts a multiple '
        'of config.model.pack')
  order = _EpochOrder(len(source), batch_size, seed, shard_index,
                      shard_count, group)
  if order.batches_per_epoch == 0:
    raise ConfigError(
        f'a train step needs {batch_size} examples per host (batch_size x '
        f'd_steps_per_g_step) but the dataset has '
        f'{len(order.shard) * group}: lower config.batch_size')
  dataset = grain.MapDataset.source(_Batches(source, order, scale))
  if random_flip:
    dataset = dataset.random_map(_flip_half, seed=seed)
  return dataset


class _ZippedDomains:
  """Random access over the batch streams of several domains, by step."""

  def __init__(self, streams: dict[str, grain.MapDataset]):
    self.streams = streams

  def __len__(self) -> int:
    return min(len(stream) for stream in self.streams.values())

  def __getitem__(self, index: int) -> Example:
    return {name: stream[index]['x'] for name, stream in self.streams.items()}


def batches(dataset: Dataset, batch_size: int, seed: int, start: int = 0,
            random_flip: bool = False, num_workers: int = 0,
            scale: bool = True, group: int = 1) -> Iterator[Example]:
  """Yields this host's batches start, start + 1, ... as numpy dicts.

  One domain gives {'x', 'label'?}; two give {'a', 'b'}, each domain with its
  own shuffling seed so that the pairs are never the same twice.

  Args:
    dataset: the sources.
    batch_size: the global batch size (split evenly over hosts).
    seed: the shuffling (and flipping) seed.
    start: the index of the first batch: the train step to resume at.
    random_flip: flip each image horizontally with probability 1/2.
    num_workers: grain worker processes that read and decode in parallel; 0
      reads in the calling thread (enough when the data is in memory).
    scale: images as float32 in [-1, 1]; False leaves them uint8, for
      `prepare.scale_images` to finish on the device (what the training
      loop does: a quarter of the bytes to stack and transfer).
    group: keep fixed groups of this many consecutive examples together
      (PacGAN's fixed real packs, `config.dataset.fixed_packs`).
  """
  host, hosts = jax.process_index(), jax.process_count()
  if batch_size % hosts:
    raise ConfigError(f'the global batch {batch_size} does not split over '
                      f'{hosts} hosts: make config.batch_size a multiple')
  streams = {
      name: domain_batches(source, batch_size // hosts, seed + 7919 * i,
                           random_flip=random_flip, scale=scale,
                           group=group, shard_index=host,
                           shard_count=hosts)
      for i, (name, source) in enumerate(dataset.domains.items())}
  stream = (streams['x'] if set(streams) == {'x'}
            else grain.MapDataset.source(_ZippedDomains(streams)))
  if num_workers:
    return iter(stream[start:].to_iter_dataset().mp_prefetch(
        grain.MultiprocessingOptions(num_workers=num_workers)))
  # Indexing directly: grain's default iterator adds a pool of 16 reader
  # threads, which costs more than it gives on few cores (measured).
  return (stream[index] for index in itertools.count(start))


def stack_batches(iterator: Iterator[Example],
                  lengths: Iterable[int]) -> Iterator[Example]:
  """Groups consecutive batches: one (n, ...) stacked batch per length n.

  Feeds `train_step.scan_steps`, which runs n train steps per dispatch.
  """
  for length in lengths:
    group = [next(iterator) for _ in range(length)]
    yield jax.tree.map(lambda *leaves: np.stack(leaves), *group)


def prefetch_to_device(iterator: Iterator, size: int,
                       sharding: jax.sharding.Sharding | None = None
                       ) -> Iterator:
  """Moves batches to the device on a background thread, `size` ahead.

  The training loop then never waits for host-side batch assembly or the
  host-to-device copy while the previous step runs. With a `sharding` each
  host's batch is its slice of the global batch
  (`jax.make_array_from_process_local_data`).
  """
  def to_device(item):
    if sharding is None:
      return jax.device_put(item)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, x), item)

  buffer: queue.Queue = queue.Queue(maxsize=size)
  done = object()

  def produce():
    try:
      for item in iterator:
        buffer.put(to_device(item))
    except Exception as e:  # pylint: disable=broad-except
      buffer.put(e)
      return
    buffer.put(done)

  threading.Thread(target=produce, daemon=True).start()
  while True:
    item = buffer.get()
    if item is done:
      return
    if isinstance(item, Exception):
      raise item
    yield item
