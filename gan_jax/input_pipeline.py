"""Input: datasets by name, deterministic resumable batches, device prefetch.

A dataset is one or more random-access *sources* (`len(source)`,
`source[i]` -> one example): `{'x': source}` for ordinary data, `{'a': ...,
'b': ...}` for the two unpaired domains of CycleGAN. Image sources yield
`{'image': uint8 (H, W, C), 'label': int}` already cropped and resized to the
config's resolution; point sources yield `{'x': float32 (2,)}`.

Batching uses grain (`grain.MapDataset`): per host, each domain is sliced to
the host's shard, shuffled with a seed (a fresh permutation every epoch),
converted to float32 in [-1, 1], batched with drop_remainder, repeated, and
optionally flipped at random per example. Batch number s is a pure function
of (seed, s), so a run resumed at step s reads exactly the batches an
uninterrupted run reads: the data position is the step, which the checkpoint
restores.

Sources (`config.dataset.name`):
  digits                 scikit-learn's bundled 8x8 digits (1,797 real images,
                         10 classes). No download.
  digits_unpaired        two domains: digits (A) and inverted, transposed digits
                         (B) from disjoint halves; a known translation.
  gaussian_ring          2-D mixture of 8 Gaussians on the unit circle, std 0.01.
  gaussian_grid          2-D mixture of 25 Gaussians on {-4,..,4}^2, std 0.05.
                         (The mode-collapse benchmarks of VEEGAN, Srivastava et
                         al. 2017, and PacGAN, Lin et al. 2018.)
  idx:<dir>              MNIST-format IDX files, gzipped or not (MNIST,
                         Fashion-MNIST); `dataset.split` train or test.
  stacked_mnist:<dir>    Stacked MNIST from IDX digits: three random digits as
                         the R, G, B channels, label = one of 1,000 modes;
                         `dataset.num_examples` triples, channels=3.
  npz:<file>             array `images` (N, H, W[, C]), uint8 or float in
                         [0, 1]; optional `labels` (N,).
  folder:<dir>           image files; class sub-folders give labels; a
                         `trainA`/`trainB` pair of sub-folders gives two domains.
  folder:<dirA>,<dirB>   two unpaired domains.
  tfds:<name>[/<config>] tensorflow-datasets, read with `tfds.data_source`
                         (prepared ArrayRecord data; reading needs no
                         TensorFlow). `cycle_gan/*` gives domains trainA/trainB.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import os
import queue
import threading
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import grain
import jax
import ml_collections
import numpy as np
from PIL import Image

from gan_jax.errors import ConfigError, DataError

Example = dict[str, Any]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp')


# --- turning any image into what the model reads -------------------------------

def prepare_image(image: np.ndarray, resolution: int, channels: int,
                  crop_size: int = 0) -> np.ndarray:
  """Centre-crops, resizes and converts one image to uint8 (res, res, C).

  Args:
    image: (H, W) or (H, W, C) with C in 1, 3, 4; uint8, or float in [0, 1].
    resolution: output height and width.
    channels: output channels, 1 (luminance) or 3.
    crop_size: side of the central square crop taken first; 0 takes the
      largest central square (a no-op for square images).

  Returns:
    The uint8 image.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8:
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 3 and image.shape[-1] == 4:
    image = image[..., :3]            # drop alpha
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
    raise DataError(f'cannot read an image of shape {image.shape}: expected '
                    '(H, W), (H, W, 1), (H, W, 3) or (H, W, 4)')
  height, width = image.shape[:2]
  side = min(crop_size or min(height, width), height, width)
  top, left = (height - side) // 2, (width - side) // 2
  image = image[top:top + side, left:left + side]
  picture = Image.fromarray(image)
  if side != resolution:              # Pillow antialiases when shrinking
    picture = picture.resize((resolution, resolution), Image.BILINEAR)
  picture = picture.convert('L' if channels == 1 else 'RGB')
  out = np.asarray(picture)
  return out[..., None] if channels == 1 else out


# --- sources --------------------------------------------------------------------

class ArraySource:
  """Examples held in memory as arrays with a common leading axis."""

  def __init__(self, arrays: Mapping[str, np.ndarray]):
    self.arrays = dict(arrays)

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  def __getitem__(self, index: int) -> Example:
    return {key: value[index] for key, value in self.arrays.items()}


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


# --- the sources by name --------------------------------------------------------

def load_digits(config: ml_collections.ConfigDict, argument: str) -> Dataset:
  """scikit-learn's 1,797 8x8 digits (values 0..16)."""
  del argument
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  return Dataset({'x': images_in_memory(digits.images / 16.0, digits.target,
                                        config)}, num_classes=10)


def digit_transform(images: np.ndarray) -> np.ndarray:
  """The known A -> B map of the embedded CycleGAN task: invert, transpose."""
  return np.ascontiguousarray(255 - np.swapaxes(images, -3, -2))


def load_unpaired_digits(config: ml_collections.ConfigDict,
                         argument: str) -> Dataset:
  """Two unpaired domains with a known translation, for measuring CycleGAN.

  A = digits, B = digit_transform(digits), drawn from disjoint halves of the
  first 1,600 digits (split 'train': no pair is ever seen). Split 'test'
  gives the last 197 digits in A and their exact transforms in B, aligned by
  index: the ground truth for the translation error.
  """
  images = load_digits(config, argument).domains['x'].arrays['image']
  if config.split == 'test':
    a, b = images[1600:], digit_transform(images[1600:])
  else:
    a, b = images[:800], digit_transform(images[800:1600])
  return Dataset({'a': ArraySource({'image': a}),
                  'b': ArraySource({'image': b})})


RING_STD = 0.01
GRID_STD = 0.05
# A synthetic dataset is drawn once from its own fixed seed, so that changing
# config.seed changes the training run, not the data.
_DATA_SEED = 1234


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(side: int = 5, spacing: float = 2.0) -> np.ndarray:
  coords = spacing * (np.arange(side) - (side - 1) / 2)
  return np.stack(np.meshgrid(coords, coords, indexing='ij'),
                  axis=-1).reshape(-1, 2)


def gaussian_mixture(means: np.ndarray, std: float, num_examples: int,
                     seed: int = _DATA_SEED) -> Dataset:
  """Points from an equal-weight mixture; `label` is each point's mode."""
  rng = np.random.default_rng(seed)
  modes = rng.integers(len(means), size=num_examples)
  points = means[modes] + std * rng.standard_normal((num_examples, 2))
  return Dataset({'x': ArraySource({'x': points.astype(np.float32),
                                    'label': modes.astype(np.int32)})},
                 num_classes=len(means))


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
            'label': np.int32(self.labels[triple] @ np.array([100, 10, 1]))}


def load_stacked_mnist(config: ml_collections.ConfigDict,
                       directory: str) -> Dataset:
  """`config.dataset.num_examples` stacked triples of the IDX digits."""
  if config.channels != 3:
    raise ConfigError(f'config.dataset.channels={config.channels} is invalid '
                      'for stacked_mnist: expected 3 (one digit per channel)')
  grey = config.copy_and_resolve_references()
  grey.channels = 1
  digits = load_idx(grey, directory).domains['x']
  seed = _DATA_SEED + (0 if config.split == 'train' else 1)
  return Dataset({'x': StackedSource(digits, config.num_examples, seed)},
                 num_classes=1000)


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


def _read_image_file(record: tuple[str, int | None]):
  path, label = record
  with Image.open(path) as picture:
    return np.asarray(picture.convert('RGB')), label


def _image_files(directory: str) -> list[str]:
  return sorted(os.path.join(root, name)
                for root, _, names in os.walk(directory) for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS))


def _folder_source(directory: str, config) -> tuple[ImageSource, int]:
  """Labels from class sub-folders when every image lies in one."""
  if not os.path.isdir(directory):
    raise DataError(f'image folder {directory} does not exist')
  files = _image_files(directory)
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


def load_tfds(config: ml_collections.ConfigDict, name: str) -> Dataset:
  """tensorflow-datasets through `tfds.data_source` (no TensorFlow needed)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def source(split):
    try:
      return tfds.data_source(name, split=split, data_dir=config.data_dir,
                              download=False)
    except Exception as e:  # tfds raises several types for the same cause
      raise DataError(
          f'tfds dataset {name!r} (split {split!r}) is not prepared in '
          f'{config.data_dir or "~/tensorflow_datasets"} ({type(e).__name__}: '
          f'{str(e).splitlines()[0]}). Prepare it once on a machine with '
          "internet: pip install -e '.[tfds]' && python -c \"import "
          f"tensorflow_datasets as tfds; tfds.builder('{name}', data_dir="
          f"{config.data_dir!r}).download_and_prepare(file_format="
          "'array_record')\"") from e

  def read(record):
    label = record.get('label')
    return record['image'], None if label is None else int(label)

  if name.startswith('cycle_gan'):
    prefix = 'train' if config.split == 'train' else 'test'
    return Dataset({'a': ImageSource(source(prefix + 'A'), read, config),
                    'b': ImageSource(source(prefix + 'B'), read, config)})
  records = source(config.split)
  info = getattr(records, 'dataset_info', None)
  label = info.features['label'] if info and 'label' in info.features else None
  return Dataset({'x': ImageSource(records, read, config)},
                 num_classes=getattr(label, 'num_classes', 0) or 0)


DATASETS: dict[str, Callable[[ml_collections.ConfigDict, str], Dataset]] = {
    'digits': load_digits,
    'digits_unpaired': load_unpaired_digits,
    'gaussian_ring': lambda c, _: gaussian_mixture(ring_means(), RING_STD,
                                                   c.num_examples),
    'gaussian_grid': lambda c, _: gaussian_mixture(grid_means(), GRID_STD,
                                                   c.num_examples),
    'idx': load_idx,
    'stacked_mnist': load_stacked_mnist,
    'npz': load_npz,
    'folder': load_folder,
    'tfds': load_tfds,
}


_TAKES_ARGUMENT = ('idx', 'stacked_mnist', 'npz', 'folder', 'tfds')


def dataset_kind(name: str) -> str:
  """'idx:/path' -> 'idx'; 'digits' -> 'digits'."""
  return name.split(':', 1)[0]


def load_dataset(config: ml_collections.ConfigDict) -> Dataset:
  """Loads the dataset named by `config.name` (a `config.dataset`)."""
  kind, _, argument = config.name.partition(':')
  if kind not in DATASETS:
    raise ConfigError(
        f'config.dataset.name={config.name!r} is unknown: expected one of '
        f'{sorted(DATASETS)} ({", ".join(_TAKES_ARGUMENT)} take '
        ':<argument>)')
  if kind in _TAKES_ARGUMENT and not argument:
    raise ConfigError(f'config.dataset.name={config.name!r} needs an '
                      f'argument: {kind}:<path or name>')
  return DATASETS[kind](config, os.path.expanduser(argument))


# --- batches --------------------------------------------------------------------

def to_model_inputs(example: Example) -> Example:
  """uint8 images -> float32 `x` in [-1, 1]; points and labels pass through."""
  if 'image' not in example:
    return example
  out = {key: value for key, value in example.items() if key != 'image'}
  out['x'] = example['image'].astype(np.float32) / 127.5 - 1.0
  return out


def _flip_half(batch: Example, rng: np.random.Generator) -> Example:
  flip = rng.random(len(batch['x'])) < 0.5
  batch = dict(batch)
  batch['x'] = np.where(flip[:, None, None, None], batch['x'][:, :, ::-1],
                        batch['x'])
  return batch


def domain_batches(source, batch_size: int, seed: int, *,
                   random_flip: bool = False, shard_index: int = 0,
                   shard_count: int = 1) -> grain.MapDataset:
  """All batches of one source as a random-access grain dataset.

  Batch s is a pure function of (seed, s): each epoch is a new permutation of
  this host's shard; the last partial batch of an epoch is dropped.
  """
  dataset = grain.MapDataset.source(source)[shard_index::shard_count]
  if batch_size > len(dataset):
    raise ConfigError(
        f'a train step needs {batch_size} examples per host (batch_size x '
        f'd_steps_per_g_step) but the dataset has {len(dataset)}: lower '
        'config.batch_size')
  dataset = (dataset.shuffle(seed=seed).map(to_model_inputs)
             .batch(batch_size, drop_remainder=True).repeat())
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
            random_flip: bool = False, num_workers: int = 0
            ) -> Iterator[Example]:
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
  """
  host, hosts = jax.process_index(), jax.process_count()
  if batch_size % hosts:
    raise ConfigError(f'the global batch {batch_size} does not split over '
                      f'{hosts} hosts: make config.batch_size a multiple')
  streams = {
      name: domain_batches(source, batch_size // hosts, seed + 7919 * i,
                           random_flip=random_flip, shard_index=host,
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
