"""tensorflow-datasets through `tfds.data_source` (prepared ArrayRecord data, no TensorFlow)."""

from __future__ import annotations

import ml_collections

from gan_jax.data.dataset import Dataset, ImageSource
from gan_jax.data.sources.registry import register
from gan_jax.errors import DataError


@register('tfds', takes_argument=True)
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
