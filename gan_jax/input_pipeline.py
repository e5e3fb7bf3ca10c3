"""Input: datasets by name, deterministic resumable batches, device prefetch.

Every source produces a `Dataset`: random-access arrays of examples (`x` in
[-1, 1], optional integer `label`). Batches are a pure function of
(seed, batch index): batch b of an epoch of N // B batches takes a slice of a
permutation seeded by (seed, epoch). A run resumed at step s therefore reads
exactly the batches an uninterrupted run would: the data position is the step,
which the checkpoint restores.

Sources (`config.dataset.name`):
  digits          scikit-learn's bundled 8x8 digits (1,797 real images, 10
                  classes), resized to config.dataset.resolution. No download.
  gaussian_ring   2-D mixture of 8 Gaussians on the unit circle, std 0.01.
  gaussian_grid   2-D mixture of 25 Gaussians on {-4,-2,0,2,4}^2, std 0.05.
                  (The mode-collapse benchmarks of VEEGAN, Srivastava et al.
                  2017, and PacGAN, Lin et al. 2018, as PacGAN describes them.)

A new source is a function `config.dataset -> Dataset` added to DATASETS; a
`kind:argument` name (e.g. `idx:/path/to/mnist`) is looked up by its kind.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from typing import Callable, Iterator

import jax
import ml_collections
import numpy as np

from gan_jax import config_lib


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Examples held as arrays with a common leading axis."""
  arrays: dict[str, np.ndarray]     # 'x': float32 in [-1, 1]; 'label': int32
  num_classes: int = 0              # 0 for unlabelled data

  def __len__(self) -> int:
    return len(self.arrays['x'])

  @property
  def example_shape(self) -> tuple[int, ...]:
    return tuple(self.arrays['x'].shape[1:])


def dataset_kind(name: str) -> str:
  """'idx:/path' -> 'idx'; 'digits' -> 'digits'."""
  return name.split(':', 1)[0]


def resize_images(images: np.ndarray, resolution: int,
                  channels: int) -> np.ndarray:
  """Resizes (N, H, W, C) float images bilinearly; converts 1 <-> 3 channels."""
  n, height, width, in_channels = images.shape
  if (height, width) != (resolution, resolution):
    images = np.asarray(jax.image.resize(
        images, (n, resolution, resolution, in_channels), method='linear'))
  if in_channels == 1 and channels == 3:
    images = np.repeat(images, 3, axis=-1)
  elif in_channels == 3 and channels == 1:
    images = images.mean(axis=-1, keepdims=True)
  return images.astype(np.float32)


def load_digits(config: ml_collections.ConfigDict) -> Dataset:
  """scikit-learn's 1,797 8x8 digits (values 0..16) in [-1, 1]."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = (digits.images.astype(np.float32) / 16.0)[..., None]
  images = resize_images(images, config.resolution, config.channels)
  images = np.clip(images, 0.0, 1.0) * 2.0 - 1.0
  return Dataset({'x': images, 'label': digits.target.astype(np.int32)},
                 num_classes=10)


def gaussian_mixture(means: np.ndarray, std: float, num_examples: int,
                     seed: int) -> Dataset:
  """Points from an equal-weight mixture; `label` is each point's mode."""
  rng = np.random.default_rng(seed)
  modes = rng.integers(len(means), size=num_examples)
  points = means[modes] + std * rng.standard_normal((num_examples, 2))
  return Dataset({'x': points.astype(np.float32),
                  'label': modes.astype(np.int32)}, num_classes=len(means))


RING_STD = 0.01
GRID_STD = 0.05


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(side: int = 5, spacing: float = 2.0) -> np.ndarray:
  coords = spacing * (np.arange(side) - (side - 1) / 2)
  return np.stack(np.meshgrid(coords, coords, indexing='ij'),
                  axis=-1).reshape(-1, 2)


# A synthetic dataset is drawn once from its own fixed seed, so that changing
# config.seed changes the training run, not the data.
_DATA_SEED = 1234

DATASETS: dict[str, Callable[[ml_collections.ConfigDict], Dataset]] = {
    'digits': load_digits,
    'gaussian_ring': lambda c: gaussian_mixture(
        ring_means(), RING_STD, c.num_examples, _DATA_SEED),
    'gaussian_grid': lambda c: gaussian_mixture(
        grid_means(), GRID_STD, c.num_examples, _DATA_SEED),
}


def load_dataset(config: ml_collections.ConfigDict) -> Dataset:
  """Loads the dataset named by `config.name` (a `config.dataset`)."""
  kind = dataset_kind(config.name)
  if kind not in DATASETS:
    raise config_lib.ConfigError(
        f'config.dataset.name={config.name!r} is unknown: expected one of '
        f'{sorted(DATASETS)}')
  return DATASETS[kind](config)


def batch_indices(num_examples: int, batch_size: int, seed: int,
                  batch_index: int) -> np.ndarray:
  """Example indices of global batch `batch_index` (drop-remainder epochs)."""
  batches_per_epoch = num_examples // batch_size
  epoch, position = divmod(batch_index, batches_per_epoch)
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  return order[position * batch_size:(position + 1) * batch_size]


def batches(dataset: Dataset, batch_size: int, seed: int,
            start: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """Yields batches start, start + 1, ... as dicts of numpy arrays.

  Raises:
    ConfigError: if one batch is larger than the dataset.
  """
  if batch_size > len(dataset):
    raise config_lib.ConfigError(
        f'a train step needs {batch_size} examples (batch_size x '
        f'd_steps_per_g_step) but the dataset has {len(dataset)}: lower '
        'config.batch_size')
  index = start
  while True:
    idx = batch_indices(len(dataset), batch_size, seed, index)
    yield {key: value[idx] for key, value in dataset.arrays.items()}
    index += 1


def prefetch_to_device(iterator: Iterator, size: int,
                       sharding: jax.sharding.Sharding | None = None
                       ) -> Iterator:
  """Moves batches to the device on a background thread, `size` ahead.

  The training loop then never waits for host-side batch assembly or the
  host-to-device copy while the previous step runs.
  """
  buffer: queue.Queue = queue.Queue(maxsize=size)
  done = object()

  def produce():
    try:
      for item in iterator:
        buffer.put(jax.device_put(item, sharding))
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
