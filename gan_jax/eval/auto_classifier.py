"""The domain classifier evaluation needs, built the first time it is needed.

With `config.eval.classifier = 'auto'` (the default), a run on labelled
images gets its feature network without a download or a separate command:
gan_jax trains `classifier.SmallCNN` (16 and 32 channels) on the dataset's
training split (`config.eval.classifier_steps` steps, batch 64), measures its
accuracy on
the test split (or on a held-out tenth when there is none), and caches it in

    $GAN_JAX_CACHE/classifiers/<key>/     (default ~/.cache/gan_jax)

where <key> is a hash of the dataset's identity: its name and split, the
resolution and channels, and the bytes of its training images and labels.
The next run on the same data reuses it; changed data build a new one.
Stacked MNIST is judged channel by channel: its classifier is the
underlying MNIST's.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from absl import logging
import jax
import ml_collections
import numpy as np

from gan_jax.data import sources
from gan_jax.errors import ConfigError
from gan_jax.eval import classifier as classifier_lib

AUTO = 'auto'
CACHE_ENV = 'GAN_JAX_CACHE'
VERSION = 'smallcnn-v3'     # change when the network or its training changes
# Half the channels of `python -m gan_jax.classifier`'s: built inside a run,
# it has to be quick (about 30 s on the embedded digits on 2 CPU cores).
WIDTHS = (16, 32)


def cache_root() -> str:
  return os.path.join(os.environ.get(CACHE_ENV) or os.path.join(
      os.path.expanduser('~'), '.cache', 'gan_jax'), 'classifiers')


def classifier_dataset(config: ml_collections.ConfigDict
                       ) -> ml_collections.ConfigDict | None:
  """The labelled dataset (a `config.dataset`) a classifier for this run's
  data trains on, or None for data without labels."""
  dataset = config.dataset.copy_and_resolve_references()
  kind, _, argument = dataset.name.partition(':')
  if kind == 'stacked_mnist':           # channel by channel: plain MNIST
    dataset.name, dataset.channels = f'idx:{argument}', 1
  elif kind in ('gaussian_ring', 'gaussian_grid', 'digits_unpaired'):
    return None
  dataset.split = 'train'
  dataset.random_flip = False
  return dataset


def _labelled(dataset_config) -> tuple[np.ndarray, np.ndarray]:
  dataset = sources.load_dataset(dataset_config)
  if set(dataset.domains) != {'x'} or not dataset.num_classes:
    raise ConfigError(
        f'config.eval.classifier=auto needs labelled images, and '
        f'{dataset_config.name} has none: give config.eval.classifier=DIR '
        '(python -m gan_jax.classifier), config.eval.inception=<weights>, '
        'or config.eval.features=identity')
  source = dataset.domains['x']
  images = dataset.examples(len(source))
  labels = np.array([source[i]['label'] for i in range(len(source))])
  return images, labels


def _key(dataset_config, images: np.ndarray, labels: np.ndarray,
         steps: int) -> str:
  identity = {k: dataset_config[k] for k in
              ('name', 'resolution', 'channels', 'crop_size', 'num_examples')}
  digest = hashlib.sha256(json.dumps([identity, steps, VERSION],
                                     sort_keys=True).encode())
  digest.update(np.ascontiguousarray(images).tobytes())
  digest.update(np.ascontiguousarray(labels).tobytes())
  return digest.hexdigest()[:20]


def _test_split(dataset_config, images, labels):
  """The test split, or a held-out tenth of the training split (for data
  without a separate test split, like the digits)."""
  test = dataset_config.copy_and_resolve_references()
  test.split = 'test'
  try:
    test_images, test_labels = _labelled(test)
    separate = not (test_images.shape == images.shape
                    and np.array_equal(test_images, images))
  except Exception:  # pylint: disable=broad-except
    separate = False
  if separate:
    return (images, labels), (test_images, test_labels)
  held_out = max(len(images) // 10, 1)
  order = np.random.default_rng(0).permutation(len(images))
  train, test_index = order[held_out:], order[:held_out]
  return ((images[train], labels[train]),
          (images[test_index], labels[test_index]))


def resolve(config: ml_collections.ConfigDict) -> str:
  """The classifier directory for `config`: as given, or built and cached."""
  if config.eval.classifier != AUTO:
    return config.eval.classifier
  dataset_config = classifier_dataset(config)
  if dataset_config is None:
    raise ConfigError(f'config.dataset.name={config.dataset.name!r} has no '
                      'images with labels to build a classifier from')
  images, labels = _labelled(dataset_config)
  steps = config.eval.classifier_steps
  directory = os.path.join(cache_root(), _key(dataset_config, images, labels,
                                              steps))
  if os.path.exists(os.path.join(directory, 'classifier.json')):
    return directory
  start = time.perf_counter()
  (train_x, train_y), (test_x, test_y) = _test_split(dataset_config, images,
                                                     labels)
  model = classifier_lib.train_classifier(
      train_x, train_y, int(labels.max()) + 1, steps=steps, batch_size=64,
      widths=WIDTHS)
  accuracy = float(np.mean(model.predict(test_x) == test_y))
  seconds = time.perf_counter() - start
  if jax.process_index() == 0:
    classifier_lib.save(model, directory, dict(
        dataset=dataset_config.to_dict(), test_accuracy=accuracy,
        test_examples=len(test_x), train_examples=len(train_x), steps=steps,
        seconds=round(seconds, 1), built_by='gan_jax.eval.auto_classifier'))
  logging.info('Built the %s classifier for evaluation in %.0f s: accuracy '
               '%.1f%% on %d held-out images; cached in %s',
               dataset_config.name, seconds, 100 * accuracy, len(test_x),
               directory)
  return directory
