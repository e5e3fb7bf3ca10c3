"""What the benchmark scripts share: the DCGAN config and the results file."""

import datetime
import json
import os
import platform
import sys

import jax

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from gan_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

# Real MNIST in IDX format beside the repository (see ../shared/data/README.md).
SHARED_MNIST = os.path.join(os.path.dirname(REPO), 'shared', 'data', 'mnist')


def dcgan_config(resolution: int, batch_size: int, upsample: str = 'auto',
                 dataset: str = 'digits', channels: int = 1):
  """pytorch/examples-sized DCGAN (ngf = ndf = 64) for a benchmark."""
  config = config_lib.default_config()
  config.batch_size = batch_size
  config.model.name = 'dcgan'
  config.model.g_features = 64
  config.model.d_features = 64
  config.model.d_norm = 'batch'
  config.model.upsample = upsample
  config.dataset.name = dataset
  config.dataset.resolution = resolution
  config.dataset.channels = channels
  return config


def load_config(name: str, arg: str | None = None):
  """configs/<name>.py's get_config(arg), as --config=configs/<name>.py:arg."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      f'configs_{name}', os.path.join(REPO, 'configs', f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def write_results(name: str, flag_values, flag_names, results,
                  suffix: str = '') -> str:
  """Writes experiments/results/<name>_<backend>[_suffix].json, provenance too."""
  record = dict(
      date=datetime.date.today().isoformat(),
      command=f'python experiments/{name}_benchmark.py ' + ' '.join(
          f'--{k}={getattr(flag_values, k)}' for k in flag_names),
      backend=jax.default_backend(),
      devices=[str(d) for d in jax.devices()],
      machine=f'{platform.processor() or platform.machine()}, '
              f'{os.cpu_count()} cores',
      jax=jax.__version__, results=results)
  directory = os.path.join(REPO, 'experiments', 'results')
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, f'{name}_{jax.default_backend()}'
                      f'{"_" + suffix if suffix else ""}.json')
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)
  print('wrote', path)
  return path
