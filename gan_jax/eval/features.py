"""Feature spaces for the distribution metrics (FID, KID, precision/recall).

`Features(config, dataset, cache_dir)` maps samples to features of the kind
`config.eval.features` names:

  identity     the samples themselves, flattened (the default for 2-D points)
  classifier   the 256-d features of a gan_jax classifier
               (`config.eval.classifier`; the default for images)
  inception    the FID Inception-v3 pool features (`config.eval.inception`)

and computes the real data's features once, caching them on disk under a
key of everything they depend on (dataset config, feature network, count).
"""

from __future__ import annotations

import hashlib
import json
import os

from absl import logging
import jax
import ml_collections
import numpy as np

from gan_jax.data.dataset import Dataset
from gan_jax.errors import ConfigError, WorkdirError, describe_os_error
from gan_jax.eval import auto_classifier as auto
from gan_jax.eval import classifier as classifier_lib

KINDS = ('auto', 'identity', 'classifier', 'inception')


class Features:
  """The feature network of one run, and its real-data features."""

  def __init__(self, config: ml_collections.ConfigDict, dataset: Dataset,
               cache_dir: str):
    self.config = config
    self.eval = config.eval
    self.dataset = dataset
    self.cache_dir = cache_dir
    self._classifier = None
    self._fn = None
    self._warned = False

  @property
  def kind(self) -> str:
    """`config.eval.features` with 'auto' resolved.

    auto: points are their own features; images get Inception features when
    a weights file is given, else the domain classifier's (given, or built
    for labelled data), else their pixels (with a warning at the first
    evaluation: such numbers compare runs on the same data only).
    """
    kind = self.eval.features
    if kind == 'auto':
      if len(self.dataset.example_shape) == 1:
        return 'identity'
      if self.eval.inception:
        return 'inception'
      if self.eval.classifier and (self.eval.classifier != auto.AUTO
                                   or self.dataset.num_classes):
        return 'classifier'
      if not self._warned:
        logging.warning(
            'No feature network for %s (unlabelled, no config.eval.inception):'
            ' FID/KID/precision/recall are computed on raw pixels; compare '
            'them only between runs on the same data and resolution.',
            self.config.dataset.name)
        self._warned = True
      return 'identity'
    return kind

  @property
  def classifier(self) -> classifier_lib.Classifier:
    if self._classifier is None:
      self._classifier = classifier_lib.load(auto.resolve(self.config))
    return self._classifier

  def check_classifier(self, shape: tuple[int, ...], what: str) -> None:
    """Raises unless a classifier is configured, loads, and takes `shape`.

    With config.eval.classifier='auto' this builds (or reuses) it.
    """
    if not self.eval.classifier:
      raise ConfigError(
          f'{what} needs a classifier: set config.eval.classifier to a '
          'directory built by python -m gan_jax.classifier --dataset=... '
          '--out=DIR (or, for FID on Inception features, '
          'config.eval.features=inception and config.eval.inception='
          '<weights>)')
    self.classifier.check_shape(shape, f'the inputs of {what}')

  def check(self, what: str) -> None:
    """Raises ConfigError, before training, if these features cannot run."""
    if self.kind == 'classifier':
      self.check_classifier(self.dataset.example_shape, what)
    elif self.kind == 'inception':
      from gan_jax.models import inception  # pylint: disable=g-import-not-at-top
      if not self.eval.inception:
        raise ConfigError('config.eval.features=inception needs '
                          'config.eval.inception=<path of the weights>')
      if not os.path.isfile(os.path.expanduser(self.eval.inception)):
        raise ConfigError(f'config.eval.inception={self.eval.inception}: '
                          f'no such file. {inception.WEIGHTS_HELP}')

  def __call__(self, samples: np.ndarray) -> np.ndarray:
    """(N, d) features of samples."""
    if self._fn is None:
      if self.kind == 'identity':
        self._fn = lambda x: np.asarray(x).reshape(len(x), -1)
      elif self.kind == 'classifier':
        self._fn = lambda x: self.classifier.features(x, self.eval.batch_size)
      else:
        from gan_jax.models import inception  # pylint: disable=g-import-not-at-top
        network = inception.InceptionFeatures(self.eval.inception)
        self._fn = lambda x: network(x, min(self.eval.batch_size, 200))
    return self._fn(samples)

  def real(self) -> np.ndarray:
    """Features of up to `eval.num_samples` real examples, cached on disk."""
    source = {'identity': '', 'classifier': self.eval.classifier,
              'inception': self.eval.inception}[self.kind]
    count = min(self.eval.num_samples, len(self.dataset))
    key = json.dumps([self.config.dataset.to_dict(), self.kind,
                      os.path.abspath(source) if source else '', count],
                     sort_keys=True, default=str)
    path = os.path.join(self.cache_dir, 'real_features_'
                        + hashlib.sha256(key.encode()).hexdigest()[:16]
                        + '.npy')
    if os.path.exists(path):
      try:
        return np.load(path)
      except (OSError, ValueError):
        pass    # a damaged cache file is recomputed and replaced
    features = self(self.dataset.examples(count))
    if jax.process_index() == 0:
      try:
        os.makedirs(self.cache_dir, exist_ok=True)
        temporary = path + '.tmp.npy'
        np.save(temporary, features)
        os.replace(temporary, path)
      except OSError as e:
        raise WorkdirError(describe_os_error(
            e, f'cannot cache real features in {self.cache_dir}')) from e
    return features
