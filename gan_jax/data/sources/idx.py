"""MNIST-format IDX files (MNIST, Fashion-MNIST), gzipped or not."""

from __future__ import annotations

import gzip
import os

import ml_collections
import numpy as np

from gan_jax.data.dataset import Dataset, images_in_memory
from gan_jax.data.sources.registry import register
from gan_jax.errors import ConfigError, DataError


def _open_maybe_gzip(path: str):
  with open(path, 'rb') as f:
    is_gzip = f.read(2) == b'\x1f\x8b'
  return gzip.open(path, 'rb') if is_gzip else open(path, 'rb')


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (gzipped or not) into a uint8 array.

  Raises:
    DataError: for a missing file or a header that does not match the data.
  """
  if not os.path.isfile(path):
    raise DataError(f'IDX file {path} does not exist')
  with _open_maybe_gzip(path) as f:
    data = f.read()
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
    raise DataError(f'{path} is not an IDX file of unsigned bytes: its header '
                    f'starts {data[:4]!r}, expected 00 00 08 <ndim>')
  ndim = data[3]
  header = 4 + 4 * ndim
  shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
                for i in range(ndim))
  if len(data) - header != int(np.prod(shape)):
    raise DataError(f'{path} is corrupt: its header announces shape {shape} '
                    f'({int(np.prod(shape))} bytes) but it holds '
                    f'{len(data) - header} bytes of data')
  return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def write_idx(path: str, array) -> None:
  """Writes a uint8 array as one IDX file, what `read_idx` reads back: e.g.
  your own images as `<dir>/train-images-idx3-ubyte` for `idx:<dir>`."""
  array = np.ascontiguousarray(array, np.uint8)
  header = bytes([0, 0, 8, array.ndim]) + b''.join(
      int(n).to_bytes(4, 'big') for n in array.shape)
  with open(path, 'wb') as f:
    f.write(header + array.tobytes())


def _find_idx(directory: str, prefix: str, kind: str) -> str:
  """The path of `<prefix>-<kind>-idx<n>-ubyte`, gzipped or not."""
  name = f'{prefix}-{kind}-idx{3 if kind == "images" else 1}-ubyte'
  for candidate in (name + '.gz', name):
    path = os.path.join(directory, candidate)
    if os.path.isfile(path):
      return path
  raise DataError(f'no {name}[.gz] in {directory}: expected MNIST-format '
                  f'files such as {prefix}-images-idx3-ubyte.gz and '
                  f'{prefix}-labels-idx1-ubyte.gz')


@register('idx', takes_argument=True)
def load_idx(config: ml_collections.ConfigDict, directory: str) -> Dataset:
  """MNIST-format IDX files: `<prefix>-images-idx3-ubyte[.gz]` and labels."""
  if not os.path.isdir(directory):
    raise DataError(f'config.dataset.name=idx:{directory}: no such directory')
  if config.split not in ('train', 'test'):
    raise ConfigError(f'config.dataset.split={config.split!r} is invalid for '
                      "idx data: expected 'train' or 'test'")
  prefix = 'train' if config.split == 'train' else 't10k'
  images = read_idx(_find_idx(directory, prefix, 'images'))
  labels = read_idx(_find_idx(directory, prefix, 'labels'))
  if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
    raise DataError(f'IDX data in {directory} has images {images.shape} and '
                    f'labels {labels.shape}: expected (N, H, W) and (N,)')
  return Dataset({'x': images_in_memory(images, labels, config)},
                 num_classes=int(labels.max()) + 1)
