"""Shared fixtures: small configs that train in seconds on 2 CPU cores."""

import os
import sys
import tempfile

import jax
import pytest

from gan_jax import config_lib

# Many tests compile the same small train steps: a persistent compilation
# cache for the session turns the repeats into cache hits (XLA:CPU spends
# seconds compiling each). Subprocesses get it through the environment.
_CACHE_DIR = os.environ.setdefault(
    'JAX_COMPILATION_CACHE_DIR', tempfile.mkdtemp(prefix='gan_jax_xla_cache_'))
jax.config.update('jax_compilation_cache_dir', _CACHE_DIR)
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs')


def load_config(name: str, arg: str | None = None):
  """Loads configs/<name>.py the way --config=configs/<name>.py:arg does."""
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  path = os.path.join(CONFIGS, f'{name}.py')
  module = config_flags.config_flags._LoadConfigModule(  # pylint: disable=protected-access
      name, path)
  return module.get_config(arg) if arg is not None else module.get_config()


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
  return apply_overrides(config, overrides)


def apply_overrides(config, overrides: dict):
  """Sets dotted fields, as --config.a.b=value does: {'a.b': value}."""
  for key, value in overrides.items():
    config_lib.set_field(config, key, value)
  return config


@pytest.fixture
def tiny_config():
  return tiny_dcgan_config()


def subprocess_env():
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
  env.setdefault('JAX_PLATFORMS', 'cpu')
  return env


PYTHON = sys.executable
