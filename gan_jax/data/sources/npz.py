"""An .npz archive of images (and optional labels)."""

from __future__ import annotations

import os

import ml_collections
import numpy as np

from gan_jax.data.dataset import Dataset, images_in_memory
from gan_jax.data.sources.registry import register
from gan_jax.errors import DataError


@register('npz', takes_argument=True)
def load_npz(config: ml_collections.ConfigDict, path: str) -> Dataset:
  """An .npz with `images` (N, H, W[, C]) and optional `labels` (N,)."""
  if not os.path.isfile(path):
    raise DataError(f'config.dataset.name=npz:{path}: no such file')
  with np.load(path) as data:
    if 'images' not in data:
      raise DataError(f'{path} has arrays {sorted(data.files)}: expected '
                      "'images' (N, H, W[, C]) and optionally 'labels' (N,)")
    images = data['images']
    labels = data['labels'] if 'labels' in data else None
  if images.ndim not in (3, 4) or (labels is not None
                                   and labels.shape != (len(images),)):
    raise DataError(f'{path}: images {images.shape}, labels '
                    f'{None if labels is None else labels.shape}: expected '
                    'images (N, H, W[, C]) and labels (N,)')
  num_classes = 0 if labels is None else int(labels.max()) + 1
  return Dataset({'x': images_in_memory(images, labels, config)}, num_classes)
