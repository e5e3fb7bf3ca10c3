"""An .npz archive of images (and optional labels)."""

from __future__ import annotations

import os
import zipfile
import zlib

import ml_collections
import numpy as np

from gan_jax.data.dataset import Dataset, images_in_memory
from gan_jax.data.prepare import check_images, check_labels
from gan_jax.data.sources.registry import register
from gan_jax.errors import DataError

_EXPECTED = ("'images' (N, H, W[, C]), uint8 or floats in [0, 1], and "
             "optionally 'labels' (N,), as numpy.savez writes them")


@register('npz', takes_argument=True)
def load_npz(config: ml_collections.ConfigDict, path: str) -> Dataset:
  """An .npz with `images` (N, H, W[, C]) and optional `labels` (N,).

  Raises:
    DataError: naming the file for a missing, unreadable, corrupt or
      mis-shaped archive, and for images with NaNs or out-of-range values.
  """
  if not os.path.isfile(path):
    raise DataError(f'config.dataset.name=npz:{path}: no such file')
  if not zipfile.is_zipfile(path):
    raise DataError(f'{path} is not a readable .npz archive (not a zip file): '
                    f'expected arrays {_EXPECTED}')
  try:
    with np.load(path, allow_pickle=False) as data:
      if 'images' not in data:
        raise DataError(f'{path} has arrays {sorted(data.files)}: expected '
                        + _EXPECTED)
      images = data['images']
      labels = data['labels'] if 'labels' in data else None
  except DataError:
    raise
  except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
    raise DataError(f'{path} is not a readable .npz archive '
                    f'({type(e).__name__}: {e}): expected arrays {_EXPECTED}'
                    ) from e
  if images.ndim not in (3, 4) or not len(images):
    raise DataError(f'{path}: images of shape {images.shape}: expected '
                    '(N >= 1, H, W[, C])')
  images = check_images(images, path)
  if labels is not None:
    labels = check_labels(labels, len(images), path)
  num_classes = 0 if labels is None else int(labels.max()) + 1
  return Dataset({'x': images_in_memory(images, labels, config)}, num_classes)
