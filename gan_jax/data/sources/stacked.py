"""Stacked MNIST: three IDX digits as the R, G, B channels, 1,000 modes."""

from __future__ import annotations

import ml_collections
import numpy as np

from gan_jax.data.dataset import DATA_SEED, ArraySource, Dataset, Example
from gan_jax.data.sources.idx import load_idx
from gan_jax.data.sources.registry import register
from gan_jax.errors import ConfigError
from gan_jax.eval.metrics import stacked_mode


class StackedSource:
  """Stacked MNIST: three digits as the channels of one image (1,000 modes).

  Example i stacks the digits `triples[i]` of a one-channel labelled source;
  its label is the mode 100 d_R + 10 d_G + d_B (Srivastava et al. 2017,
  VEEGAN; Lin et al. 2018, PacGAN). Stacked on access, so a large
  `num_examples` costs only its index table.
  """

  def __init__(self, digits: ArraySource, count: int, seed: int):
    self.images = digits.arrays['image']
    self.labels = digits.arrays['label'].astype(np.int32)
    self.triples = np.random.default_rng(seed).integers(
        len(self.images), size=(count, 3))

  def __len__(self) -> int:
    return len(self.triples)

  def __getitem__(self, index: int) -> Example:
    triple = self.triples[index]
    return {'image': np.concatenate(list(self.images[triple]), axis=-1),
            'label': np.int32(stacked_mode(self.labels[triple]))}

  def take(self, indices: np.ndarray) -> Example:
    """Examples `indices` at once: what stacking `self[i]` gives."""
    triples = self.triples[indices]                   # (n, 3)
    digits = self.images[triples]                     # (n, 3, H, W, 1)
    return {'image': np.concatenate([digits[:, c] for c in range(3)], axis=-1),
            'label': stacked_mode(self.labels[triples]).astype(np.int32)}


@register('stacked_mnist', takes_argument=True)
def load_stacked_mnist(config: ml_collections.ConfigDict,
                       directory: str) -> Dataset:
  """`config.dataset.num_examples` stacked triples of the IDX digits."""
  if config.channels != 3:
    raise ConfigError(f'config.dataset.channels={config.channels} is invalid '
                      'for stacked_mnist: expected 3 (one digit per channel)')
  grey = config.copy_and_resolve_references()
  grey.channels = 1
  digits = load_idx(grey, directory).domains['x']
  seed = DATA_SEED + (0 if config.split == 'train' else 1)
  return Dataset({'x': StackedSource(digits, config.num_examples, seed)},
                 num_classes=1000)
