"""Input: one layer for every variant, from a dataset name to device batches.

  sources/     datasets by `config.dataset.name` (one file per kind)
  prepare.py   decode, crop, resize, scale an image; examples -> model inputs
  dataset.py   `Dataset`: one random-access source per domain
  batching.py  resumable grain batches per host, device prefetch

This package owns `config.dataset` (`dataset_config`, `validate`).
"""

import ml_collections

from gan_jax.data import sources
from gan_jax.errors import check


def dataset_config() -> ml_collections.ConfigDict:
  """`config.dataset`: what to read and how to prepare it."""
  return ml_collections.ConfigDict(dict(
      name='digits',           # see gan_jax.data.sources
      split='train',           # train | test (tfds: any split name)
      data_dir=ml_collections.config_dict.placeholder(str),  # tfds data_dir
      resolution=32,           # images are resized to resolution x resolution
      channels=1,              # 1 (grey) or 3 (RGB)
      crop_size=0,             # central square crop first; 0: largest square
      random_flip=False,       # random horizontal flips (not for digits!)
      num_examples=100_000,    # size of a synthetic dataset (Gaussian mixtures)
      # PacGAN's authors' real packs: with model.pack = m, D's real packs are
      # fixed groups of m consecutive examples, reshuffled as packs every
      # epoch; False re-pairs the shuffled examples every epoch.
      fixed_packs=False,
      prefetch=2,              # batches prepared ahead on the device
      num_workers=0,           # grain reader processes (0: a thread suffices)
      # folder: an undecodable image file stops the run, naming it; True
      # decodes every file at load and leaves the bad ones out (warning).
      skip_bad_images=False,
  ))


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks `config.dataset` (ConfigError naming the first bad field)."""
  dataset = config.dataset
  check(sources.dataset_kind(dataset.name) in sources.SOURCES, 'dataset.name',
        dataset.name, f'one of {sorted(sources.SOURCES)}')
  check(dataset.channels in (1, 3), 'dataset.channels', dataset.channels,
        '1 or 3')
  check(dataset.resolution > 0, 'dataset.resolution', dataset.resolution,
        'an integer > 0')
  check(dataset.crop_size >= 0, 'dataset.crop_size', dataset.crop_size,
        'an integer >= 0 (0: largest square)')
  check(dataset.num_workers >= 0, 'dataset.num_workers', dataset.num_workers,
        'an integer >= 0')
  check(dataset.prefetch >= 1, 'dataset.prefetch', dataset.prefetch,
        'an integer >= 1')
