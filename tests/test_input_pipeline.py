"""The input layer: embedded sources, deterministic resumable batches."""

import numpy as np
import pytest

from conftest import tiny_dcgan_config
from gan_jax import config_lib
from gan_jax import input_pipeline


def dataset_config(**kw):
  config = config_lib.default_config().dataset
  config.update(kw)
  return config


@pytest.mark.parametrize('res,channels', [(8, 1), (28, 1), (32, 3)])
def test_digits_are_real_resized_and_scaled(res, channels):
  ds = input_pipeline.load_dataset(dataset_config(resolution=res,
                                                  channels=channels))
  x = ds.arrays['x']
  assert x.shape == (1797, res, res, channels) and x.dtype == np.float32
  assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(1.0)
  assert ds.num_classes == 10
  np.testing.assert_array_equal(np.bincount(ds.arrays['label']),
                                [178, 182, 177, 183, 181, 182, 181, 179, 174,
                                 180])


def test_digits_at_native_resolution_are_the_sklearn_pixels():
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  ds = input_pipeline.load_dataset(dataset_config(resolution=8))
  expected = datasets.load_digits().images / 16.0 * 2 - 1
  np.testing.assert_allclose(ds.arrays['x'][..., 0], expected, atol=1e-6)


@pytest.mark.parametrize('name,means,std', [
    ('gaussian_ring', input_pipeline.ring_means(), input_pipeline.RING_STD),
    ('gaussian_grid', input_pipeline.grid_means(), input_pipeline.GRID_STD)])
def test_gaussian_mixtures(name, means, std):
  ds = input_pipeline.load_dataset(dataset_config(name=name,
                                                  num_examples=20_000))
  x, mode = ds.arrays['x'], ds.arrays['label']
  assert x.shape == (20_000, 2) and ds.num_classes == len(means)
  residual = x - means[mode]
  assert np.std(residual) == pytest.approx(std, rel=0.05)
  # Every point is nearest to its own mode, and modes are equally likely.
  nearest = np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(nearest, mode)
  counts = np.bincount(mode, minlength=len(means))
  assert counts.min() > 0.8 * 20_000 / len(means)


def test_ring_and_grid_geometry():
  np.testing.assert_allclose(np.linalg.norm(input_pipeline.ring_means(), axis=1),
                             1.0)
  grid = input_pipeline.grid_means()
  assert sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_an_epoch_visits_every_example_once_then_reshuffles():
  ds = input_pipeline.Dataset({'x': np.arange(10, dtype=np.float32)[:, None]})
  it = input_pipeline.batches(ds, batch_size=3, seed=0)
  epoch0 = np.concatenate([next(it)['x'][:, 0] for _ in range(3)])
  epoch1 = np.concatenate([next(it)['x'][:, 0] for _ in range(3)])
  assert len(set(epoch0.tolist())) == 9 and len(set(epoch1.tolist())) == 9
  assert not np.array_equal(epoch0, epoch1)


def test_resumed_iterator_gives_the_same_batches():
  ds = input_pipeline.Dataset({'x': np.arange(50, dtype=np.float32)[:, None],
                               'label': np.arange(50, dtype=np.int32)})
  full = input_pipeline.batches(ds, batch_size=7, seed=3)
  uninterrupted = [next(full) for _ in range(20)]
  resumed = input_pipeline.batches(ds, batch_size=7, seed=3, start=13)
  for expected in uninterrupted[13:]:
    got = next(resumed)
    for key in expected:
      np.testing.assert_array_equal(got[key], expected[key])


def test_prefetch_preserves_order_and_puts_arrays_on_device():
  ds = input_pipeline.Dataset({'x': np.arange(20, dtype=np.float32)[:, None]})
  host = input_pipeline.batches(ds, batch_size=4, seed=1)
  expected = [next(host)['x'] for _ in range(6)]
  device = input_pipeline.prefetch_to_device(
      input_pipeline.batches(ds, batch_size=4, seed=1), size=2)
  for want in expected:
    got = next(device)['x']
    assert hasattr(got, 'devices')
    np.testing.assert_array_equal(np.asarray(got), want)


def test_batch_larger_than_dataset_is_a_clear_error():
  ds = input_pipeline.Dataset({'x': np.zeros((5, 2), np.float32)})
  with pytest.raises(config_lib.ConfigError, match='batch_size'):
    next(input_pipeline.batches(ds, batch_size=6, seed=0))


def test_unknown_dataset_is_a_clear_error():
  with pytest.raises(config_lib.ConfigError, match="dataset.name='cifar'"):
    input_pipeline.load_dataset(dataset_config(name='cifar'))
  config = tiny_dcgan_config()
  config.dataset.name = 'cifar'
  with pytest.raises(config_lib.ConfigError, match='digits'):
    config_lib.validate(config)
