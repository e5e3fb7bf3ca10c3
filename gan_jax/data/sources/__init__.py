"""Datasets by name: `config.dataset.name` -> a `Dataset` of random-access sources.

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

Each lives in its own file here and registers itself (`registry.register`);
every module of this package is imported with it. A new source is one file.
"""

import importlib
import os
import pkgutil

import ml_collections

from gan_jax.data.dataset import Dataset
from gan_jax.data.sources.registry import SOURCES
from gan_jax.errors import ConfigError

for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f'{__name__}.{_module.name}')


def dataset_kind(name: str) -> str:
  """'idx:/path' -> 'idx'; 'digits' -> 'digits'."""
  return name.split(':', 1)[0]


def load_dataset(config: ml_collections.ConfigDict) -> Dataset:
  """Loads the dataset named by `config.name` (a `config.dataset`)."""
  kind, _, argument = config.name.partition(':')
  if kind not in SOURCES:
    with_argument = sorted(k for k, s in SOURCES.items() if s.takes_argument)
    raise ConfigError(
        f'config.dataset.name={config.name!r} is unknown: expected one of '
        f'{sorted(SOURCES)} ({", ".join(with_argument)} take :<argument>)')
  if SOURCES[kind].takes_argument and not argument:
    raise ConfigError(f'config.dataset.name={config.name!r} needs an '
                      f'argument: {kind}:<path or name>')
  return SOURCES[kind].load(config, os.path.expanduser(argument))
