"""Evaluation: generated samples -> features -> metrics, during training or after.

One `Evaluator` per run serves both the periodic evaluations of
`config.evals` (written to TensorBoard under `eval/`) and the standalone
command `python -m gan_jax.evaluate --workdir=DIR`. Metrics by name:

  fid, kid, precision_recall, density_coverage
      on the features of `config.eval.features` (see `features.py`).
  mode_coverage          2-D Gaussian ring/grid: modes, high-quality fraction,
                         reverse KL (VEEGAN / PacGAN protocol).
  stacked_mnist          modes of the 1,000 and KL to uniform, each channel
                         labelled by the MNIST classifier.
  conditional_accuracy   fraction of class-conditional samples that the
                         classifier assigns to the requested class.
  translation_error      a translation variant on digits_unpaired: MAE and
                         PSNR of its translation against the known transform
                         on held-out digits.

It asks the variant what it produces (`gan.kind`, `gan.num_classes`), never
its class. Samples come from a fixed key (`config.eval.seed`), from the
generator's EMA parameters when there is one, in jitted batches of
`config.eval.batch_size`. This module owns `config.eval` and `config.evals`.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import ml_collections
import numpy as np

from gan_jax.data import sources
from gan_jax.data.dataset import Dataset
from gan_jax.data.sources import synthetic
from gan_jax.errors import ConfigError, check
from gan_jax.eval import metrics as metrics_lib
from gan_jax.eval.features import KINDS, Features

METRICS = ('fid', 'kid', 'precision_recall', 'density_coverage',
           'mode_coverage', 'stacked_mnist', 'conditional_accuracy',
           'translation_error')
FEATURE_METRICS = ('fid', 'kid', 'precision_recall', 'density_coverage')


def eval_config() -> ml_collections.ConfigDict:
  """`config.eval`: how evaluations sample and what features they use."""
  return ml_collections.ConfigDict(dict(
      num_samples=10_000,   # generated samples (and at most this many real)
      batch_size=500,       # generator / feature network batch
      features='auto',      # auto | identity | classifier | inception
      # A directory written by `python -m gan_jax.classifier`, or 'auto': built
      # from the run's labelled training data the first time it is needed
      # and cached (eval/auto_classifier.py); '' = none.
      classifier='auto',
      classifier_steps=600,    # training steps of an 'auto' classifier
      inception='',         # FID Inception-v3 weights (.pth or .npz)
      cache_dir='',         # real-feature cache; '' = <workdir>/eval
      seed=0,               # the fixed key of the evaluation samples
  ))


def evals_config() -> ml_collections.ConfigDict:
  """`config.evals`: each metric's period in train steps (0 = not in training).

  `python -m gan_jax.evaluate` runs the metrics with a nonzero period, or
  those it is asked for.
  """
  return ml_collections.ConfigDict({name: 0 for name in METRICS})


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks `config.eval` and `config.evals`."""
  for name in ('num_samples', 'batch_size'):
    check(config.eval[name] > 0, f'eval.{name}', config.eval[name],
          'an integer > 0')
  check(config.eval.features in KINDS, 'eval.features', config.eval.features,
        f'one of {list(KINDS)}')
  for name, period in config.evals.items():
    check(period >= 0, f'evals.{name}', period,
          'a period in train steps >= 0 (0: not during training)')


def translation_error(translated: np.ndarray, target: np.ndarray
                      ) -> dict[str, float]:
  """MAE and PSNR (peak-to-peak 2) of images in [-1, 1]."""
  mae = float(np.mean(np.abs(translated - target)))
  mse = float(np.mean((translated - target) ** 2))
  return {'translation_mae': mae,
          'translation_psnr': float(10 * np.log10(4.0 / max(mse, 1e-12)))}


class Evaluator:
  """Computes named metrics of a generator's samples for one run.

  Args:
    config: the run's config (`config.eval` says how).
    dataset: the run's training data (the real reference).
    gan: the run's variant.
    workdir: where real features are cached when `config.eval.cache_dir`
      is empty.
  """

  def __init__(self, config: ml_collections.ConfigDict, dataset: Dataset,
               gan, workdir: str):
    self.config = config
    self.eval = config.eval
    self.dataset = dataset
    self.gan = gan
    self.features = Features(
        config, dataset, self.eval.cache_dir or os.path.join(workdir, 'eval'))
    self._sample = None
    self._translation_task = None   # (jitted translation, held-out a, target)

  def feature_kind(self) -> str:
    return self.features.kind

  def check(self, names) -> None:
    """Raises ConfigError, before any training, for metrics that cannot run."""
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
      raise ConfigError(f'unknown metrics {unknown}: expected some of '
                        f'{list(METRICS)}')
    translation = self.gan.kind == 'translation'
    dataset = sources.dataset_kind(self.config.dataset.name)
    for name in names:
      if translation != (name == 'translation_error'):
        raise ConfigError(
            f'metric {name!r} does not apply to model '
            f'{self.config.model.name!r}: translation_error is the metric '
            'of cyclegan (a translation variant), the others are for '
            'generators of noise')
      if name == 'translation_error' and dataset != 'digits_unpaired':
        raise ConfigError('translation_error needs the known translation of '
                          'config.dataset.name=digits_unpaired')
      if name == 'mode_coverage' and dataset not in synthetic.MIXTURES:
        raise ConfigError(f'mode_coverage is for the 2-D mixtures '
                          f'{sorted(synthetic.MIXTURES)}, not {dataset!r}')
      if name == 'stacked_mnist' and dataset != 'stacked_mnist':
        raise ConfigError('stacked_mnist needs config.dataset.name='
                          'stacked_mnist:<MNIST IDX directory>')
      if name == 'conditional_accuracy' and not self.gan.num_classes:
        raise ConfigError('conditional_accuracy needs a class-conditional '
                          'model (config.model.conditional=True)')
      # Loaded now, so a missing or mismatched network stops the run before
      # training rather than at its first evaluation.
      if name == 'stacked_mnist':   # labelled channel by channel
        self.features.check_classifier(
            self.dataset.example_shape[:-1] + (1,), f'metric {name!r}')
      if name == 'conditional_accuracy':
        self.features.check_classifier(self.dataset.example_shape,
                                       f'metric {name!r}')
      if name in FEATURE_METRICS:
        self.features.check(f'metric {name!r}')

  def generate(self, params, model_state) -> dict[str, np.ndarray]:
    """`eval.num_samples` samples from the fixed key: {'x'[, 'label']}."""
    if self._sample is None:
      self._sample = jax.jit(self.gan.sample)
    key = jax.random.PRNGKey(self.eval.seed)
    batch = self.eval.batch_size
    chunks, count, index = [], 0, 0
    # A conditional batch holds whole rows of classes, so it may fall a few
    # samples short of `batch`: draw until there are enough.
    while count < self.eval.num_samples:
      inputs = self.gan.sample_inputs(jax.random.fold_in(key, index), batch)
      images = self._sample(params, model_state, inputs)
      chunks.append({'x': np.asarray(images),
                     **({'label': np.asarray(inputs['label'])}
                        if 'label' in inputs else {})})
      count, index = count + len(images), index + 1
    return {name: np.concatenate([c[name] for c in chunks])[
        :self.eval.num_samples] for name in chunks[0]}

  def evaluate(self, params, model_state, names) -> dict[str, float]:
    """The metrics `names` of the generator (params, model_state).

    Returns:
      A flat dict of floats (e.g. fid, kid, kid_std, precision, recall,
      modes, high_quality, reverse_kl).
    """
    self.check(names)
    if 'translation_error' in names:
      return self._translation_error(params, model_state)
    samples = self.generate(params, model_state)
    results: dict[str, Any] = {}
    if any(name in FEATURE_METRICS for name in names):
      results.update(self.distribution_metrics(samples['x'], names))
    if 'mode_coverage' in names:
      means, std = synthetic.MIXTURES[sources.dataset_kind(
          self.config.dataset.name)]
      results.update(metrics_lib.mixture_coverage(samples['x'], means(), std))
    if 'stacked_mnist' in names:
      results.update({f'stacked_{k}': v for k, v in
                      self.stacked_mnist_coverage(samples['x']).items()})
    if 'conditional_accuracy' in names:
      predicted = self.features.classifier.predict(samples['x'],
                                                   self.eval.batch_size)
      results['conditional_accuracy'] = float(
          np.mean(predicted == samples['label']))
    return results

  def distribution_metrics(self, samples: np.ndarray, names) -> dict:
    """FID/KID/precision-recall/density-coverage (those in `names`) of any
    images, e.g. a baseline's, against the real features G is judged by."""
    real, fake = self.features.real(), self.features(samples)
    results = {}
    if 'fid' in names:
      results['fid'] = metrics_lib.frechet_distance_of(real, fake)
    if 'kid' in names:
      results['kid'], results['kid_std'] = metrics_lib.kernel_distance(
          real, fake)
    if 'precision_recall' in names:
      results['precision'], results['recall'] = (
          metrics_lib.precision_recall(real, fake))
    if 'density_coverage' in names:
      results['density'], results['coverage'] = (
          metrics_lib.density_coverage(real, fake))
    return results

  def stacked_mnist_coverage(self, images: np.ndarray) -> dict:
    """Labels each channel with the 1-channel classifier: 1,000 modes."""
    n, h, w, c = images.shape
    channels = np.moveaxis(images, -1, 1).reshape(n * c, h, w, 1)
    classifier = self.features.classifier
    classifier.check_shape(channels.shape[1:], 'Stacked MNIST channels')
    labels = classifier.predict(channels, self.eval.batch_size)
    return metrics_lib.label_coverage(
        metrics_lib.stacked_mode(labels.reshape(n, c)), 1000)

  def _translation_error(self, params, model_state) -> dict[str, float]:
    if self._translation_task is None:   # loaded and compiled once per run
      test = self.config.dataset.copy_and_resolve_references()
      test.split = 'test'
      held_out = sources.load_dataset(test)
      self._translation_task = (
          jax.jit(self.gan.translate),
          held_out.examples(len(held_out), 'a'),
          held_out.examples(len(held_out), 'b'))
    translate, a, target = self._translation_task
    return translation_error(np.asarray(translate(params, model_state, a)),
                             target)


def due(config: ml_collections.ConfigDict, step: int, is_last: bool
        ) -> list[str]:
  """The metrics of `config.evals` to run after train step `step`."""
  return [name for name in METRICS
          if config.evals[name] and (step % config.evals[name] == 0
                                     or is_last)]


def format_table(results: dict[str, float]) -> str:
  """Two aligned columns: metric, value."""
  width = max(len(name) for name in results)
  return '\n'.join(f'{name:<{width}}  {value:.6g}'
                   for name, value in results.items())
