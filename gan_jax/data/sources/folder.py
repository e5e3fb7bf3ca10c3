"""Folders of image files: class sub-folders give labels; two folders give two domains."""

from __future__ import annotations

import os

from absl import logging
import ml_collections
import numpy as np
from PIL import Image

from gan_jax.data.dataset import Dataset, ImageSource
from gan_jax.data.sources.registry import register
from gan_jax.errors import DataError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp')


def _read_image_file(record: tuple[str, int | None]):
  """(RGB array, label) of one file; DataError naming an undecodable one."""
  path, label = record
  try:
    with Image.open(path) as picture:
      return np.asarray(picture.convert('RGB')), label
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise DataError(
        f'{path} is not a decodable image ({type(e).__name__}: {e}): repair or '
        'remove it, or set config.dataset.skip_bad_images=True to leave out '
        'every such file (checked when the folder is loaded)') from e


def _decodable(path: str) -> bool:
  try:
    with Image.open(path) as picture:
      picture.convert('RGB').load()
    return True
  except (OSError, ValueError, Image.DecompressionBombError):
    return False


def _image_files(directory: str) -> list[str]:
  return sorted(os.path.join(root, name)
                for root, _, names in os.walk(directory) for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS))


def _folder_source(directory: str, config) -> tuple[ImageSource, int]:
  """Labels from class sub-folders when every image lies in one."""
  if not os.path.isdir(directory):
    raise DataError(f'image folder {directory} does not exist')
  files = _image_files(directory)
  if files and config.get('skip_bad_images', False):
    # Opted in: decode every file once now and leave out the bad ones.
    good = [f for f in files if _decodable(f)]
    if len(good) < len(files):
      logging.warning('%s: left out %d of %d image files that do not decode '
                      '(config.dataset.skip_bad_images=True), e.g. %s',
                      directory, len(files) - len(good), len(files),
                      sorted(set(files) - set(good))[0])
    files = good
  if not files:
    raise DataError(f'image folder {directory} holds no images: expected '
                    f'files ending in {list(IMAGE_EXTENSIONS)}')
  classes = sorted(name for name in os.listdir(directory)
                   if os.path.isdir(os.path.join(directory, name)))
  labelled = classes and all(os.path.dirname(f) != directory for f in files)
  records = [(f, classes.index(os.path.relpath(f, directory).split(os.sep)[0])
              if labelled else None) for f in files]
  return (ImageSource(records, _read_image_file, config),
          len(classes) if labelled else 0)


@register('folder', takes_argument=True)
def load_folder(config: ml_collections.ConfigDict, argument: str) -> Dataset:
  """`dir` (classes from sub-folders), `dir` with trainA/trainB, or `dA,dB`."""
  if ',' in argument:
    dir_a, dir_b = argument.split(',', 1)
  elif os.path.isdir(os.path.join(argument, 'trainA')):
    dir_a, dir_b = (os.path.join(argument, 'trainA'),
                    os.path.join(argument, 'trainB'))
  else:
    source, num_classes = _folder_source(argument, config)
    return Dataset({'x': source}, num_classes)
  return Dataset({'a': _folder_source(dir_a, config)[0],
                  'b': _folder_source(dir_b, config)[0]})
