"""A dataset: one random-access source per domain.

A source has `len(source)` and `source[i]` -> one example; a source held in
memory may also have `source.take(indices)` -> those examples at once,
stacked as a batch of `source[i]` would be (batching then gathers a whole
batch in one step instead of example by example). Image sources
yield `{'image': uint8 (H, W, C), 'label': int}` already cropped and resized
to the config's resolution; point sources yield `{'x': float32 (2,)}`.
`Dataset.domains` is `{'x': source}` for ordinary data and `{'a': ...,
'b': ...}` for the two unpaired domains of CycleGAN.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import ml_collections
import numpy as np

from gan_jax.data.prepare import Example, prepare_image, to_model_inputs

# A synthetic dataset is drawn once from its own fixed seed, so that changing
# config.seed changes the training run, not the data.
DATA_SEED = 1234

class ArraySource:
  """Examples held in memory as arrays with a common leading axis."""

  def __init__(self, arrays: Mapping[str, np.ndarray]):
    self.arrays = dict(arrays)

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  def __getitem__(self, index: int) -> Example:
    return {key: value[index] for key, value in self.arrays.items()}

  def take(self, indices: np.ndarray) -> Example:
    return {key: value[indices] for key, value in self.arrays.items()}


class OneByOne:
  """A view of a source without `take`: batching reads it example by example,
  as it reads sources not held in memory (`ImageSource`). For measuring and
  testing that path on data that is in memory."""

  def __init__(self, source):
    self.source = source

  def __len__(self) -> int:
    return len(self.source)

  def __getitem__(self, index: int) -> Example:
    return self.source[index]


class ImageSource:
  """Reads, crops and resizes images on access (datasets too big to hold).

  Args:
    records: random-access records (a list of paths, a tfds data source).
    read: maps a record to (image array, label or None).
    config: `config.dataset` (resolution, channels, crop_size).
  """

  def __init__(self, records: Sequence[Any],
               read: Callable[[Any], tuple[np.ndarray, int | None]],
               config: ml_collections.ConfigDict):
    self.records, self.read = records, read
    self.resolution, self.channels = config.resolution, config.channels
    self.crop_size = config.crop_size

  def __len__(self) -> int:
    return len(self.records)

  def __getitem__(self, index: int) -> Example:
    image, label = self.read(self.records[index])
    example = {'image': prepare_image(image, self.resolution, self.channels,
                                      self.crop_size)}
    if label is not None:
      example['label'] = np.int32(label)
    return example


def images_in_memory(images: np.ndarray, labels: np.ndarray | None,
                     config: ml_collections.ConfigDict) -> ArraySource:
  """Prepares every image once: small datasets are then free to read."""
  prepared = np.stack([prepare_image(image, config.resolution,
                                     config.channels, config.crop_size)
                       for image in images])
  arrays = {'image': prepared}
  if labels is not None:
    arrays['label'] = np.asarray(labels, np.int32)
  return ArraySource(arrays)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One source per domain: {'x': ...}, or {'a': ..., 'b': ...} (unpaired)."""
  domains: dict[str, Any]
  num_classes: int = 0              # 0 when there are no labels

  def __len__(self) -> int:
    return min(len(source) for source in self.domains.values())

  def examples(self, count: int, domain: str | None = None) -> np.ndarray:
    """The first `count` examples of a domain as model inputs (x only)."""
    source = self.domains[domain or next(iter(self.domains))]
    return np.stack([to_model_inputs(source[i])['x']
                     for i in range(min(count, len(source)))])

  @property
  def example_shape(self) -> tuple[int, ...]:
    return self.examples(1).shape[1:]
