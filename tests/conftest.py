"""Shared fixtures: small configs that train in seconds on 2 CPU cores."""

import atexit
import os
import shutil
import sys
import tempfile

# Tests run in several worker processes (pytest-xdist, setup.cfg); on a GPU
# each would otherwise reserve most of its memory at start.
os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax.data.sources.idx import write_idx  # pylint: disable=wrong-import-position


def _session_dir(env: str, prefix: str) -> str:
  """$env if set, else a new temporary folder that this process removes at
  exit. The first pytest process makes it; xdist's workers and the tests'
  subprocesses inherit it through the environment and leave it alone."""
  if env not in os.environ:
    os.environ[env] = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, os.environ[env], ignore_errors=True)
  return os.environ[env]


# Many tests compile the same small train steps: a persistent compilation
# cache for the session turns the repeats into cache hits (XLA:CPU spends
# seconds compiling each).
_CACHE_DIR = _session_dir('JAX_COMPILATION_CACHE_DIR', 'gan_jax_xla_cache_')
# Classifiers built by eval.classifier='auto' go to a cache of the session's.
_session_dir('GAN_JAX_CACHE', 'gan_jax_cache_')
jax.config.update('jax_compilation_cache_dir', _CACHE_DIR)
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs')


def load_config(name: str, arg: str | None = None):
  """configs/<name>.py, as --config=configs/<name>.py:arg gives it."""
  return config_lib.load(os.path.join(CONFIGS, f'{name}.py'), arg)


def tiny_dcgan_config(res: int = 16, **overrides):
  """DCGAN with 8-channel layers on 16 px digits: one step takes ~10 ms."""
  config = load_config('dcgan', f'res={res}')
  config.batch_size = 8
  config.num_train_steps = 6
  config.log_every_steps = 2
  config.checkpoint_every_steps = 3
  config.sample_every_steps = 3
  config.num_samples = 4
  config.model.latent_dim = 8
  config.model.g_features = 8
  config.model.d_features = 8
  return apply_overrides(without_monitoring(config), overrides)


def without_monitoring(config):
  """No evaluations and no health monitor: the shipped configs evaluate FID
  with a classifier they build; tests that want those ask for them."""
  for metric in config.evals:
    config.evals[metric] = 0
  config.health.enabled = False
  return config


apply_overrides = config_lib.set_fields   # {'a.b': value}: --config.a.b=value


@pytest.fixture
def tiny_config():
  return tiny_dcgan_config()


def subprocess_env():
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
  env.setdefault('JAX_PLATFORMS', 'cpu')
  return env


PYTHON = sys.executable


# Real MNIST, where the machine has it: `.ci/run` sets GAN_JAX_MNIST to
# ../shared/data/mnist. Elsewhere (a fresh clone) the tests make MNIST-format
# files from scikit-learn's digits, which every install has.
MNIST_ENV = 'GAN_JAX_MNIST'


@pytest.fixture(scope='session')
def mnist_dir(tmp_path_factory) -> str:
  """A directory of MNIST-format IDX files: train and t10k, 28 px, 10 classes."""
  path = os.environ.get(MNIST_ENV)
  if path:
    if not os.path.isdir(path):
      pytest.fail(f'{MNIST_ENV}={path} is not a directory')
    return path
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = np.stack([
      np.asarray(Image.fromarray(np.uint8(image * 255 / 16)).resize(
          (20, 20), Image.BILINEAR)) for image in digits.images])
  images = np.pad(images, ((0, 0), (4, 4), (4, 4)))   # MNIST: 20 px in 28
  directory = tmp_path_factory.mktemp('digits_as_mnist')
  for prefix, part in (('train', slice(0, 1300)), ('t10k', slice(1300, None))):
    write_idx(str(directory / f'{prefix}-images-idx3-ubyte'), images[part])
    write_idx(str(directory / f'{prefix}-labels-idx1-ubyte'),
              digits.target[part])
  return str(directory)
