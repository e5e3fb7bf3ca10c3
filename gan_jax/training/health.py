"""A health monitor for the three ways GAN training goes wrong.

Computed from what the run already has, at its log steps: the logged means
(losses, D outputs, gradient norms), the evaluations, and a fixed batch of
samples compared with real data in one feature space. Each condition is a
detector, a pure function of the streams so far (testable on made-up
streams), that says whether it holds now:

  collapse      mode collapse: the samples' diversity (mean pairwise distance
                of `health.num_samples` samples from fixed noise, in the
                evaluation's feature space) below `diversity_ratio` of the
                real data's; or, with a classifier, the entropy of the
                samples' class histogram below `entropy_ratio` of the real
                one's; or, on a 2-D mixture, fewer than `mode_fraction` of
                the modes occupied (nearest mode to at least a quarter of
                their fair share of the samples; while the samples spread no
                wider than 1.5x the data); at `patience` checks in a row
  d_wins        the discriminator wins: D(x) above 1 - `d_margin` and
                D(G(z)) below `d_margin` (probabilities; least-squares scores
                against their targets 1 and 0; for the hinge loss d_loss
                below `d_margin`; not defined for the Wasserstein loss) for
                `patience` checks in a row, with G's gradient norm below
                `grad_fraction` of its largest
  stalled       the game has not started: D cannot tell real from generated
                (|D(x) - D(G(z))| below `chance_margin`, as probabilities;
                least-squares scores likewise; not defined for the hinge and
                Wasserstein losses) while the samples are not yet the data's
                (fewer than `stall_quality` of them like the data: within 3
                std of a mode on a 2-D mixture, else inside the real
                examples' k-NN balls, the improved precision with k = 3, in
                the probe's feature space; a generator that matches the data
                also leaves D at chance. Without a probe D at chance alone
                counts), for `patience` checks in a row. A packed D under
                PacGAN's protocol sits here for 10,000 steps and more
                (docs/results.md); the flag's end is where D starts
  oscillation   the losses swing: the variance of g_loss (or d_loss) over
                the last `window` checks above `variance_growth` times that
                of the `window` before, and its standard deviation at least
                `swing_fraction` of the loss's mean magnitude (a small wobble
                after a very flat stretch is not a swing), at `patience`
                checks in a row
  diverging     the quality metric (FID, or KID) worse at each of the last
                `patience` evaluations, `metric_growth` times its best; or
                the samples spread `spread_ratio` times wider than the data
                at `patience` checks in a row
NaN losses stop the run (`hooks.MetricsBuffer`).

Nothing is flagged before `warmup_steps`, and the checks that need `patience`
in a row count only from there: a generator that has not spread yet at the
end of the warm-up is not a collapse. Each condition is written as
`health/<name>` (0 or 1) with its signals (`health/diversity_ratio`, ...)
to TensorBoard, gives one warning line when it starts (not at every check),
and ends up in the run's report with the steps where it held.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from gan_jax.errors import check
from gan_jax.eval import metrics

CONDITIONS = ('collapse', 'd_wins', 'stalled', 'oscillation', 'diverging')
# Losses whose D outputs (as logged) aim at 1 for real and 0 for generated.
_TARGET_LOSSES = ('minimax', 'non_saturating', 'least_squares')


def health_config() -> ml_collections.ConfigDict:
  """`config.health`: the monitor's thresholds (see the module doc)."""
  return ml_collections.ConfigDict(dict(
      enabled=True,
      warmup_steps=500,        # no flag before this step
      num_samples=256,         # fixed-noise samples for the diversity check
      diversity_ratio=0.5,     # collapse: sample / real mean pairwise distance
      entropy_ratio=0.6,       # collapse: sample / real class-histogram entropy
      mode_fraction=0.5,       # collapse: occupied / all modes (2-D mixtures)
      d_margin=0.05,           # d_wins: D(x) > 1 - m and D(G(z)) < m
      grad_fraction=0.1,       # d_wins: g_grad_norm < this x its largest
      chance_margin=0.02,      # stalled: |D(x) - D(G(z))| below this
      stall_quality=0.5,       # stalled: high-quality share / precision
      patience=3,              # checks in a row (collapse, d_wins, stalled,
                               # samples spreading) / evaluations (metric
                               # worsening)
      window=10,               # oscillation: checks per window
      variance_growth=10.0,    # oscillation: variance ratio of the windows
      swing_fraction=0.25,     # oscillation: last window's std / mean |loss|
      metric_growth=1.5,       # diverging: metric > this x its best
      spread_ratio=10.0,       # diverging: sample / real pairwise distance
  ))


def validate(config: ml_collections.ConfigDict) -> None:
  health = config.health
  for name in ('warmup_steps',):
    check(health[name] >= 0, f'health.{name}', health[name], 'an integer >= 0')
  for name in ('num_samples', 'patience', 'window'):
    check(health[name] >= 1 if name != 'num_samples' else health[name] >= 2,
          f'health.{name}', health[name], 'a positive integer (>= 2 samples)')
  for name in ('diversity_ratio', 'entropy_ratio', 'mode_fraction',
               'd_margin', 'grad_fraction', 'chance_margin', 'stall_quality'):
    check(0 < health[name] < 1, f'health.{name}', health[name],
          'a number in (0, 1)')
  for name in ('variance_growth', 'metric_growth', 'spread_ratio'):
    check(health[name] > 1, f'health.{name}', health[name], 'a number > 1')
  check(health.swing_fraction >= 0, 'health.swing_fraction',
        health.swing_fraction, 'a number >= 0')


# --- the detectors: pure functions of what was seen so far ---------------------------


def mean_pairwise_distance(features: np.ndarray) -> float:
  """Mean Euclidean distance between distinct rows of (N, d) features."""
  features = np.asarray(features, np.float64).reshape(len(features), -1)
  squared = np.sum(features ** 2, axis=1)
  distances = np.sqrt(np.maximum(
      squared[:, None] + squared[None] - 2 * features @ features.T, 0.0))
  n = len(features)
  return float(distances.sum() / max(n * (n - 1), 1))


def histogram_entropy(labels: np.ndarray, num_classes: int) -> float:
  counts = np.bincount(np.asarray(labels), minlength=num_classes)
  p = counts[counts > 0] / counts.sum()
  return float(-np.sum(p * np.log(p)))


def collapse(signals: dict, health: ml_collections.ConfigDict) -> bool:
  """Whether one check's signals (diversity_ratio, entropy_ratio,
  mode_fraction) look collapsed; the monitor flags `patience` in a row.

  Few modes occupied counts only while the samples are not spread wider than
  the data (samples flying off are divergence, see `spreading`).
  """
  diversity = signals.get('diversity_ratio', 1.0)
  return (diversity < health.diversity_ratio
          or signals.get('entropy_ratio', 1.0) < health.entropy_ratio
          or (signals.get('mode_fraction', 1.0) < health.mode_fraction
              and diversity <= 1.5))


def d_wins(history: Sequence[dict], loss_name: str,
           health: ml_collections.ConfigDict) -> bool:
  """history: the logged means at each check (d_real, d_fake, d_loss, ...)."""
  if len(history) < health.patience:
    return False
  largest_grad = max(h.get('g_grad_norm', 0.0) for h in history)

  def winning(h):
    if loss_name in _TARGET_LOSSES:
      if 'd_real' not in h or 'd_fake' not in h:
        return False      # means without D outputs (none logged yet)
      separated = (h['d_real'] > 1 - health.d_margin
                   and h['d_fake'] < health.d_margin)
    elif loss_name == 'hinge':
      separated = h['d_loss'] < health.d_margin
    else:
      return False        # no scale on which D's win is defined
    return separated and h.get('g_grad_norm', 0.0) < (
        health.grad_fraction * largest_grad)
  return all(winning(h) for h in history[-health.patience:])


def stalled(means: dict, signals: dict, loss_name: str,
            health: ml_collections.ConfigDict) -> bool:
  """Whether one check looks like a game that has not started: D's outputs
  on real and generated samples within `chance_margin` of each other while
  the samples are unlike the data; the monitor flags `patience` in a row."""
  if loss_name not in _TARGET_LOSSES or 'd_real' not in means or (
      'd_fake' not in means):
    return False
  at_chance = abs(means['d_real'] - means['d_fake']) < health.chance_margin
  like_data = signals.get('high_quality', signals.get('precision', 0.0))
  return at_chance and like_data < health.stall_quality


def _swinging(values: Sequence[float], health: ml_collections.ConfigDict
              ) -> bool:
  window = health.window
  if len(values) < 2 * window:
    return False
  before, last = values[-2 * window:-window], values[-window:]
  return (np.var(last) > health.variance_growth * max(np.var(before), 1e-12)
          and np.std(last) >= health.swing_fraction * np.mean(np.abs(last)))


def oscillation(history: Sequence[dict],
                health: ml_collections.ConfigDict) -> bool:
  """The variance of a loss over the last `window` checks `variance_growth`
  times that of the window before, at each of the last `patience` checks
  (so that one noisy window is not an oscillation)."""
  for name in ('g_loss', 'd_loss'):
    values = [h[name] for h in history if name in h]
    if all(_swinging(values[:len(values) - lag], health)
           for lag in range(health.patience)):
      return True
  return False


def spreading(signals: dict, health: ml_collections.ConfigDict) -> bool:
  """One check's samples spread `spread_ratio` times wider than the data."""
  return signals.get('diversity_ratio', 1.0) > health.spread_ratio


def diverging(metric_values: Sequence[float],
              health: ml_collections.ConfigDict,
              signals: dict | None = None) -> bool:
  """metric_values: a lower-is-better metric at each evaluation; signals: a
  diversity check whose samples have left the data (`spreading`; the monitor
  asks for `patience` such checks in a row)."""
  if signals is not None and spreading(signals, health):
    return True
  patience = health.patience
  if len(metric_values) <= patience:
    return False
  recent = metric_values[-patience - 1:]
  worsening = all(b > a for a, b in zip(recent[:-1], recent[1:]))
  return worsening and recent[-1] > health.metric_growth * min(metric_values)


# --- the monitor ------------------------------------------------------------------------


@dataclasses.dataclass
class Record:
  """What the monitor saw of one member, for the hook and the report."""
  history: list[dict] = dataclasses.field(default_factory=list)
  metric: list[float] = dataclasses.field(default_factory=list)
  active: dict[str, bool] = dataclasses.field(
      default_factory=lambda: {name: False for name in CONDITIONS})
  flagged_at: dict[str, list[int]] = dataclasses.field(
      default_factory=lambda: {name: [] for name in CONDITIONS})
  # Checks in a row (after the warm-up) at which one check's signals looked
  # collapsed / spread off the data.
  streak: dict[str, int] = dataclasses.field(
      default_factory=lambda: {'collapse': 0, 'stalled': 0, 'spreading': 0})


class Monitor:
  """Runs the detectors on one member's streams at each check."""

  def __init__(self, health: ml_collections.ConfigDict, loss_name: str):
    self.health, self.loss_name = health, loss_name
    self.record = Record()

  def check(self, step: int, means: dict, signals: dict) -> dict[str, float]:
    """The health scalars at `step`; warns when a condition starts."""
    record, health = self.record, self.health
    record.history.append(means)
    metric = means.get('eval/fid', means.get('eval/kid'))
    if metric is not None and (not record.metric
                               or metric != record.metric[-1]):
      record.metric.append(float(metric))
    warm = step >= health.warmup_steps
    for name, now in (
        ('collapse', collapse(signals, health)),
        ('stalled', stalled(means, signals, self.loss_name, health)),
        ('spreading', spreading(signals, health))):
      record.streak[name] = record.streak[name] + 1 if (now and warm) else 0
    held = {name: count >= health.patience
            for name, count in record.streak.items()}
    states = {
        'collapse': held['collapse'],
        'd_wins': d_wins(record.history, self.loss_name, health),
        'stalled': held['stalled'],
        'oscillation': oscillation(record.history, health),
        'diverging': held['spreading'] or diverging(record.metric, health),
    }
    scalars = {f'health/{name}': value for name, value in signals.items()}
    for name, value in states.items():
      value = bool(value) and warm
      if value and not record.active[name]:
        logging.warning('health: %s at step %d (%s)', name, step,
                        _explain(name, signals, means, held['spreading']))
      if value:
        record.flagged_at[name].append(step)
      record.active[name] = value
      scalars[f'health/{name}'] = float(value)
    return scalars


def _explain(name: str, signals: dict, means: dict, spread: bool) -> str:
  if name == 'collapse':
    return ', '.join(f'{k}={v:.3g}' for k, v in signals.items())
  if name == 'd_wins':
    return ', '.join(f'{k}={means[k]:.3g}' for k in
                     ('d_real', 'd_fake', 'd_loss', 'g_grad_norm')
                     if k in means)
  if name == 'stalled':
    seen = {**means, **signals}
    shown = ', '.join(f'{k}={seen[k]:.3g}' for k in
                      ('d_real', 'd_fake', 'high_quality', 'precision')
                      if k in seen)
    return (f'{shown}: D cannot tell real from generated samples and the '
            'samples are not yet the data\'s. A packed or strongly '
            'regularized D can take 10,000+ steps to start: train longer, '
            'or give D more capacity or a larger learning rate')
  if name == 'oscillation':
    return 'the losses\' variance grew over the last checks'
  if spread:
    return (f'the samples spread {signals["diversity_ratio"]:.3g}x as wide as '
            'the data')
  return 'the quality metric got worse at each of the last evaluations'


class DiversityProbe:
  """Sample diversity against real data in one feature space.

  Args:
    features: maps (N, ...) samples to (N, d) features (the evaluator's, or
      the samples themselves).
    real: real examples (as many as the samples).
    classify: optional (N, ...) -> class labels; with `num_classes`.
    mixture: optional (means, std) of a 2-D mixture.
  """

  def __init__(self, features: Callable, real: np.ndarray,
               classify: Callable | None = None, num_classes: int = 0,
               mixture=None):
    self.features, self.classify = features, classify
    self.num_classes, self.mixture = num_classes, mixture
    self.real_features = np.asarray(features(real))
    self.real_distance = mean_pairwise_distance(self.real_features)
    self.real_entropy = (histogram_entropy(classify(real), num_classes)
                         if classify else None)

  def signals(self, samples: np.ndarray) -> dict[str, float]:
    features = np.asarray(self.features(samples))
    signals = {'diversity_ratio': mean_pairwise_distance(features)
                                  / max(self.real_distance, 1e-12)}
    if self.classify is not None and self.real_entropy:
      signals['entropy_ratio'] = histogram_entropy(
          self.classify(samples), self.num_classes) / self.real_entropy
    if self.mixture is not None:
      means, std = self.mixture
      # Occupancy (every sample's nearest mode), not sharpness: a blurred
      # mode is not a lost one.
      counts, good = metrics.mode_histograms(samples, means, std)
      fair_share = len(samples) / len(means)
      signals['mode_fraction'] = float(np.mean(counts >= fair_share / 4))
      signals['high_quality'] = float(good.sum() / len(samples))
    else:
      # How much of the samples lies on the data: improved precision (k = 3,
      # fewer for a tiny probe) against the real examples, in the same space.
      signals['precision'] = metrics.precision(
          self.real_features, features, k=min(3, len(self.real_features) - 1))
    return signals


def summary_lines(record: Record) -> list[str]:
  """The report's lines for one member: each condition and where it held."""
  lines = []
  for name in CONDITIONS:
    steps = record.flagged_at[name]
    if steps:
      lines.append(f'- **{name}**: flagged at {len(steps)} checks, first at '
                   f'step {steps[0]}, last at step {steps[-1]}')
    else:
      lines.append(f'- {name}: never flagged')
  return lines


def is_finite(value) -> bool:
  return isinstance(value, (int, float)) and math.isfinite(value)


def member_samples(samples, index: int, population: bool):
  return jax.tree.map(lambda x: x[index], samples) if population else samples
