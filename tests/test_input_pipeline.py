"""The input layer: every source, deterministic resumable batches, errors."""

import gzip
import os

import jax
import numpy as np
import pytest
from PIL import Image

from conftest import MNIST_ENV, tiny_dcgan_config
from gan_jax import config_lib
from gan_jax import errors
from gan_jax.data import batching
from gan_jax.data import dataset as dataset_lib
from gan_jax.data import prepare
from gan_jax.data import sources
from gan_jax.data.sources import idx
from gan_jax.data.sources import stacked
from gan_jax.data.sources import synthetic
from gan_jax.training import experiment as experiment_lib

SHARED_MNIST = os.environ.get(MNIST_ENV, '')


def dataset_config(**kw):
  config = config_lib.default_config().dataset
  config.update(kw)
  return config


def first_batch(dataset, batch_size=8, **kw):
  return next(batching.batches(dataset, batch_size, seed=0, **kw))


# --- embedded sources ---------------------------------------------------------

@pytest.mark.parametrize('res,channels', [(8, 1), (28, 1), (32, 3)])
def test_digits_are_real_resized_and_scaled(res, channels):
  ds = sources.load_dataset(dataset_config(resolution=res,
                                           channels=channels))
  x = ds.examples(2000)
  assert x.shape == (1797, res, res, channels) and x.dtype == np.float32
  assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(1.0)
  assert ds.num_classes == 10
  labels = [int(ds.domains['x'][i]['label']) for i in range(len(ds))]
  np.testing.assert_array_equal(np.bincount(labels),
                                [178, 182, 177, 183, 181, 182, 181, 179, 174,
                                 180])


def test_digits_at_native_resolution_are_the_sklearn_pixels():
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  ds = sources.load_dataset(dataset_config(resolution=8))
  expected = datasets.load_digits().images / 16.0 * 2 - 1
  # Stored as uint8: at most half a level (0.5 / 127.5) from the original.
  np.testing.assert_allclose(ds.examples(2000)[..., 0], expected,
                             atol=0.5 / 127.5 + 1e-6)


@pytest.mark.parametrize('name,means,std', [
    ('gaussian_ring', synthetic.ring_means(), synthetic.RING_STD),
    ('gaussian_grid', synthetic.grid_means(), synthetic.GRID_STD)])
def test_gaussian_mixtures(name, means, std):
  ds = sources.load_dataset(dataset_config(name=name,
                                           num_examples=20_000))
  source = ds.domains['x']
  x, mode = source.arrays['x'], source.arrays['label']
  assert x.shape == (20_000, 2) and ds.num_classes == len(means)
  assert np.std(x - means[mode]) == pytest.approx(std, rel=0.05)
  # Every point is nearest to its own mode, and modes are equally likely.
  nearest = np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(nearest, mode)
  assert np.bincount(mode, minlength=len(means)).min() > 0.8 * 20_000 / len(
      means)


def test_ring_and_grid_geometry():
  np.testing.assert_allclose(
      np.linalg.norm(synthetic.ring_means(), axis=1), 1.0)
  assert sorted(set(synthetic.grid_means()[:, 0].tolist())) == [
      -4, -2, 0, 2, 4]


# --- IDX ------------------------------------------------------------------------

def write_idx(path, array, compress):
  header = bytes([0, 0, 8, array.ndim]) + b''.join(
      int(n).to_bytes(4, 'big') for n in array.shape)
  data = header + array.astype(np.uint8).tobytes()
  with (gzip.open(path, 'wb') if compress else open(path, 'wb')) as f:
    f.write(data)


@pytest.mark.parametrize('compress', [True, False])
def test_idx_reader_on_files_the_test_writes(tmp_path, compress):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
  labels = np.arange(12) % 4
  suffix = '.gz' if compress else ''
  write_idx(tmp_path / f'train-images-idx3-ubyte{suffix}', images, compress)
  write_idx(tmp_path / f'train-labels-idx1-ubyte{suffix}', labels, compress)
  np.testing.assert_array_equal(
      idx.read_idx(str(tmp_path / f'train-images-idx3-ubyte{suffix}')),
      images)
  ds = sources.load_dataset(dataset_config(name=f'idx:{tmp_path}',
                                           resolution=28))
  assert len(ds) == 12 and ds.num_classes == 4
  np.testing.assert_allclose(ds.examples(12)[..., 0], images / 127.5 - 1,
                             atol=1e-6)


def test_idx_writer_writes_the_format_and_the_reader_reads_it(tmp_path):
  images = np.random.default_rng(1).integers(0, 256, (3, 4, 5), np.uint8)
  idx.write_idx(str(tmp_path / 'library'), images)
  write_idx(tmp_path / 'test', images, compress=False)
  assert (tmp_path / 'library').read_bytes() == (tmp_path / 'test').read_bytes()
  np.testing.assert_array_equal(idx.read_idx(str(tmp_path / 'library')), images)


def test_idx_corrupt_header_is_a_clear_error(tmp_path):
  path = tmp_path / 'train-images-idx3-ubyte'
  write_idx(path, np.zeros((4, 5, 5)), compress=False)
  data = bytearray(path.read_bytes())
  data[4:8] = (9).to_bytes(4, 'big')       # claims 9 images, holds 4
  path.write_bytes(bytes(data))
  with pytest.raises(errors.DataError, match=r'corrupt.*\(9, 5, 5\)'):
    idx.read_idx(str(path))
  path.write_bytes(b'\x00\x00\x0d\x03' + bytes(data[4:]))  # float32 type code
  with pytest.raises(errors.DataError, match='not an IDX file of unsigned'):
    idx.read_idx(str(path))


@pytest.mark.skipif(not SHARED_MNIST, reason=f'{MNIST_ENV} does not name the '
                    'real MNIST files (.ci/run sets it to ../shared/data/mnist)')
@pytest.mark.parametrize('split', ['train', 'test'])
def test_idx_reader_on_shared_mnist(split):
  ds = sources.load_dataset(dataset_config(
      name=f'idx:{SHARED_MNIST}', split=split, resolution=28))
  source = ds.domains['x']
  assert source.arrays['image'].shape == (10_000, 28, 28, 1)
  assert source.arrays['image'].dtype == np.uint8 and ds.num_classes == 10
  counts = np.bincount(source.arrays['label'])
  if split == 'test':   # the official test split's label counts
    np.testing.assert_array_equal(
        counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
  else:                 # the shared subset: about 1,000 per class
    assert counts.sum() == 10_000 and len(counts) == 10 and counts.min() > 800


# --- NPZ and image folders ------------------------------------------------------

def test_npz_source_with_labels_and_float_images(tmp_path):
  images = np.random.default_rng(0).random((10, 16, 16, 3)).astype(np.float32)
  np.savez(tmp_path / 'd.npz', images=images, labels=np.arange(10) % 2)
  ds = sources.load_dataset(dataset_config(
      name=f'npz:{tmp_path / "d.npz"}', resolution=16, channels=3))
  assert ds.num_classes == 2 and ds.example_shape == (16, 16, 3)
  np.testing.assert_allclose(ds.examples(10), images * 2 - 1,
                             atol=0.5 / 127.5 + 1e-6)


def test_npz_without_images_is_a_clear_error(tmp_path):
  np.savez(tmp_path / 'd.npz', pictures=np.zeros((3, 4, 4)))
  with pytest.raises(errors.DataError, match="'pictures'.*expected 'images'"):
    sources.load_dataset(dataset_config(
        name=f'npz:{tmp_path / "d.npz"}'))


def save_images(directory, count, value, size=(20, 12)):
  os.makedirs(directory, exist_ok=True)
  for i in range(count):
    Image.new('RGB', size, (value, value, value)).save(
        os.path.join(directory, f'{i}.png'))


def test_folder_with_class_subfolders_gives_labels_and_centre_crops(tmp_path):
  save_images(tmp_path / 'cat', 3, 0)
  save_images(tmp_path / 'dog', 2, 255)
  ds = sources.load_dataset(dataset_config(
      name=f'folder:{tmp_path}', resolution=8, channels=3))
  assert len(ds) == 5 and ds.num_classes == 2
  examples = [ds.domains['x'][i] for i in range(5)]
  assert [int(e['label']) for e in examples] == [0, 0, 0, 1, 1]
  assert examples[0]['image'].shape == (8, 8, 3)   # 20x12 -> 12x12 -> 8x8
  assert examples[0]['image'].max() == 0 and examples[4]['image'].min() == 255


@pytest.mark.parametrize('layout', ['trainA_trainB', 'comma'])
def test_two_domain_batches_come_from_the_right_domains(tmp_path, layout):
  if layout == 'trainA_trainB':
    save_images(tmp_path / 'trainA', 6, 0)
    save_images(tmp_path / 'trainB', 5, 255)
    name = f'folder:{tmp_path}'
  else:
    save_images(tmp_path / 'x', 6, 0)
    save_images(tmp_path / 'y', 5, 255)
    name = f'folder:{tmp_path / "x"},{tmp_path / "y"}'
  ds = sources.load_dataset(dataset_config(name=name, resolution=4))
  assert sorted(ds.domains) == ['a', 'b']
  it = batching.batches(ds, batch_size=2, seed=0)
  for _ in range(4):
    batch = next(it)
    assert sorted(batch) == ['a', 'b']
    assert np.all(batch['a'] == -1.0) and np.all(batch['b'] == 1.0)


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
  with pytest.raises(errors.DataError, match='holds no images'):
    sources.load_dataset(dataset_config(name=f'folder:{tmp_path}'))
  with pytest.raises(errors.DataError, match='does not exist'):
    sources.load_dataset(dataset_config(
        name=f'folder:{tmp_path / "nope"}'))
  with pytest.raises(errors.DataError, match='no such directory'):
    sources.load_dataset(dataset_config(name=f'idx:{tmp_path / "no"}'))


# --- tensorflow-datasets (mocked: no download, no TensorFlow) ------------------

@pytest.mark.parametrize('name,shape,classes', [
    ('mnist', (28, 28, 1), 10), ('cifar10', (32, 32, 3), 10),
    ('celeb_a', (64, 64, 3), 0)])
def test_tfds_source_with_mock_data(name, shape, classes):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=6,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = sources.load_dataset(dataset_config(
        name=f'tfds:{name}', resolution=shape[0], channels=shape[2]))
    assert len(ds) == 6 and ds.num_classes == classes
    batch = first_batch(ds, batch_size=4)
  assert batch['x'].shape == (4,) + shape
  assert batch['x'].min() >= -1.0 and batch['x'].max() <= 1.0
  assert ('label' in batch) == bool(classes)


def test_tfds_cycle_gan_gives_two_domains():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=5,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = sources.load_dataset(dataset_config(
        name='tfds:cycle_gan/horse2zebra', resolution=16, channels=3))
    batch = first_batch(ds, batch_size=2)
  assert sorted(batch) == ['a', 'b'] and batch['a'].shape == (2, 16, 16, 3)


def test_unprepared_tfds_dataset_says_how_to_prepare_it(tmp_path):
  with pytest.raises(errors.DataError,
                     match=r"'mnist'.*not prepared.*download_and_prepare"):
    sources.load_dataset(dataset_config(name='tfds:mnist',
                                        data_dir=str(tmp_path)))


# --- batching -------------------------------------------------------------------

def array_dataset(n):
  return dataset_lib.Dataset({'x': dataset_lib.ArraySource(
      {'x': np.arange(n, dtype=np.float32)[:, None],
       'label': np.arange(n, dtype=np.int32)})})


def test_an_epoch_visits_every_example_once_then_reshuffles():
  it = batching.batches(array_dataset(10), batch_size=3, seed=0)
  epoch0 = np.concatenate([next(it)['label'] for _ in range(3)])
  epoch1 = np.concatenate([next(it)['label'] for _ in range(3)])
  assert len(set(epoch0.tolist())) == 9 and len(set(epoch1.tolist())) == 9
  assert not np.array_equal(epoch0, epoch1)


def test_resumed_iterator_gives_the_same_batches():
  ds = array_dataset(50)
  full = batching.batches(ds, batch_size=7, seed=3)
  uninterrupted = [next(full) for _ in range(20)]
  resumed = batching.batches(ds, batch_size=7, seed=3, start=13)
  for expected in uninterrupted[13:]:
    got = next(resumed)
    for key in expected:
      np.testing.assert_array_equal(got[key], expected[key])


def test_random_flip_is_deterministic_and_flips_about_half():
  image = np.tile(np.arange(4, dtype=np.uint8) * 60, (4, 1))[..., None]
  ds = dataset_lib.Dataset({'x': dataset_lib.ArraySource(
      {'image': np.stack([image] * 64)})})
  a = first_batch(ds, batch_size=64, random_flip=True)['x']
  b = first_batch(ds, batch_size=64, random_flip=True)['x']
  np.testing.assert_array_equal(a, b)
  original = image.astype(np.float32) / 127.5 - 1.0
  flipped = np.all(a == original[:, ::-1][None], axis=(1, 2, 3))
  unchanged = np.all(a == original[None], axis=(1, 2, 3))
  assert np.all(flipped ^ unchanged)
  assert 16 < int(flipped.sum()) < 48
  assert np.all(first_batch(ds, batch_size=64)['x'] == original[None])


def test_batches_in_any_order_are_the_batches_in_sequence():
  stream = batching.domain_batches(array_dataset(10).domains['x'],
                                   batch_size=3, seed=4)
  in_sequence = [stream[step]['label'] for step in range(9)]  # 3 epochs
  for step in (7, 0, 8, 4, 1, 3):      # across epochs, back and forth
    np.testing.assert_array_equal(stream[step]['label'], in_sequence[step])


def test_unscaled_batches_are_uint8_and_scale_on_device_to_the_batches():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (12, 4, 4, 1), dtype=np.uint8)
  one = dataset_lib.Dataset({'x': dataset_lib.ArraySource(
      {'image': images, 'label': np.arange(12, dtype=np.int32)})})
  two = dataset_lib.Dataset({d: dataset_lib.ArraySource({'image': images})
                             for d in ('a', 'b')})
  for ds in (one, two):
    kw = dict(batch_size=4, seed=3, start=2, random_flip=True)
    scaled = next(batching.batches(ds, **kw))
    raw = next(batching.batches(ds, scale=False, **kw))
    for key, value in raw.items():
      assert value.dtype == (np.uint8 if key != 'label' else np.int32)
    on_device = jax.jit(prepare.scale_images)(raw)
    for key in scaled:       # to the bit: the host's values, not within ulps
      np.testing.assert_array_equal(np.asarray(on_device[key]), scaled[key])
      assert on_device[key].dtype == scaled[key].dtype
  points = array_dataset(12)
  np.testing.assert_array_equal(
      next(batching.batches(points, 4, seed=0, scale=False))['x'],
      next(batching.batches(points, 4, seed=0))['x'])


def test_prefetch_preserves_order_and_puts_arrays_on_device():
  ds = array_dataset(20)
  host = batching.batches(ds, batch_size=4, seed=1)
  expected = [next(host)['x'] for _ in range(6)]
  device = batching.prefetch_to_device(
      batching.batches(ds, batch_size=4, seed=1), size=2)
  for want in expected:
    got = next(device)['x']
    assert hasattr(got, 'devices')
    np.testing.assert_array_equal(np.asarray(got), want)


# --- bad input ------------------------------------------------------------------

def test_batch_larger_than_dataset_is_a_clear_error():
  with pytest.raises(config_lib.ConfigError, match='batch_size'):
    first_batch(array_dataset(5), batch_size=6)


def test_unknown_dataset_is_a_clear_error():
  with pytest.raises(config_lib.ConfigError, match="dataset.name='cifar'"):
    sources.load_dataset(dataset_config(name='cifar'))
  with pytest.raises(config_lib.ConfigError, match='needs an argument'):
    sources.load_dataset(dataset_config(name='idx'))
  config = tiny_dcgan_config()
  config.dataset.name = 'cifar'
  with pytest.raises(config_lib.ConfigError, match='digits'):
    config_lib.validate(config)


def test_points_for_an_image_model_is_a_clear_error():
  config = tiny_dcgan_config(**{'dataset.name': 'gaussian_ring'})
  with pytest.raises(config_lib.ConfigError, match='square images'):
    experiment_lib.setup(config)


def test_two_domains_for_a_one_domain_model_is_a_clear_error(tmp_path):
  save_images(tmp_path / 'trainA', 9, 0)
  save_images(tmp_path / 'trainB', 9, 255)
  config = tiny_dcgan_config(**{'dataset.name': f'folder:{tmp_path}'})
  with pytest.raises(config_lib.ConfigError, match="domains \\['a', 'b'\\]"):
    experiment_lib.setup(config)


def test_worker_processes_give_the_same_batches(tmp_path):
  from absl import flags  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS.is_parsed():   # grain's workers read absl flags
    flags.FLAGS.mark_as_parsed()
  for i in range(12):
    Image.new('L', (6, 6), i * 20).save(tmp_path / f'{i:02d}.png')
  ds = sources.load_dataset(dataset_config(name=f'folder:{tmp_path}',
                                           resolution=4))
  in_thread = batching.batches(ds, batch_size=4, seed=2, start=3)
  workers = batching.batches(ds, batch_size=4, seed=2, start=3,
                             num_workers=1)
  for _ in range(5):
    np.testing.assert_array_equal(next(workers)['x'], next(in_thread)['x'])


def test_host_shards_are_disjoint_and_cover_an_epoch():
  source = array_dataset(12).domains['x']
  seen = []
  for host in range(2):
    shard = batching.domain_batches(source, batch_size=3, seed=0,
                                    shard_index=host, shard_count=2)
    seen.append(np.concatenate([shard[i]['label'] for i in range(2)]))
  assert not set(seen[0].tolist()) & set(seen[1].tolist())
  assert sorted(np.concatenate(seen).tolist()) == list(range(12))


@pytest.mark.parametrize('hosts', [1, 2])
def test_fixed_packs_keep_their_examples_together_every_epoch(hosts):
  """group=m (config.dataset.fixed_packs): a batch is whole fixed packs
  [k m, (k + 1) m) in order; an epoch visits each of this host's packs once
  and the next reshuffles the packs, never their contents."""
  m, n = 3, 36
  source = array_dataset(n).domains['x']
  seen = []
  for host in range(hosts):
    stream = batching.domain_batches(source, batch_size=6, seed=2, group=m,
                                     shard_index=host, shard_count=hosts)
    per_epoch = n // m // hosts // 2
    epochs = [np.concatenate([stream[e * per_epoch + i]['label']
                              for i in range(per_epoch)]) for e in range(2)]
    for labels in epochs:
      packs = labels.reshape(-1, m)
      np.testing.assert_array_equal(packs, packs[:, :1] + np.arange(m))
      assert np.all(packs[:, 0] % m == 0)
      assert len(set(packs[:, 0].tolist())) == len(packs)   # each pack once
    assert sorted(epochs[0].tolist()) == sorted(epochs[1].tolist())
    assert not np.array_equal(epochs[0], epochs[1])
    seen.append(epochs[0])
  assert sorted(np.concatenate(seen).tolist()) == list(range(n))


def test_examples_regroup_without_fixed_packs():
  """The default (group=1) re-pairs: some consecutive pair of a batch is
  not a fixed pack, which is what fixed_packs changes."""
  stream = batching.domain_batches(array_dataset(36).domains['x'],
                                   batch_size=6, seed=2)
  pairs = np.concatenate([stream[i]['label'] for i in range(6)]).reshape(-1, 2)
  assert not np.all((pairs[:, 0] % 2 == 0) & (pairs[:, 1] == pairs[:, 0] + 1))


def test_fixed_packs_need_whole_packs_per_batch():
  with pytest.raises(errors.ConfigError, match='whole fixed packs of 4'):
    batching.domain_batches(array_dataset(36).domains['x'], batch_size=6,
                            seed=0, group=4)


def _stacked_source():
  rng = np.random.default_rng(0)
  digits = dataset_lib.ArraySource({
      'image': rng.integers(0, 256, (30, 5, 5, 1), dtype=np.uint8),
      'label': rng.integers(0, 10, 30).astype(np.int32)})
  return stacked.StackedSource(digits, count=40, seed=1)


@pytest.mark.parametrize('make', [
    lambda: array_dataset(40).domains['x'],
    lambda: sources.load_dataset(dataset_config(
        name='gaussian_grid', num_examples=40)).domains['x'],
    _stacked_source])
@pytest.mark.parametrize('flip,shard', [(False, 0), (True, 1)])
def test_in_memory_batches_are_the_example_by_example_batches(make, flip,
                                                              shard):
  source = make()
  if flip and 'image' not in source[0]:
    flip = False                          # points are never flipped
  kw = dict(batch_size=6, seed=5, random_flip=flip, shard_index=shard,
            shard_count=2)
  gathered = batching.domain_batches(source, **kw)
  one_by_one = batching.domain_batches(dataset_lib.OneByOne(source), **kw)
  for step in (0, 1, 2, 3, 7):           # 3 batches per epoch: epochs 0-2
    want, got = one_by_one[step], gathered[step]
    assert sorted(got) == sorted(want)
    for key in want:
      assert got[key].dtype == want[key].dtype
      np.testing.assert_array_equal(got[key], want[key])
