"""The health monitor, the end-of-run report and the auto-built classifier."""

import json
import os

import numpy as np
import pytest

from conftest import tiny_dcgan_config
from gan_jax.data.sources.idx import write_idx
from gan_jax.eval import auto_classifier
from gan_jax.training import health
from gan_jax.training import loop
from gan_jax.training import summary


def thresholds(**overrides):
  config = health.health_config()
  config.update(overrides)
  return config


def run_monitor(streams, loss_name='non_saturating', **overrides):
  """Feeds (means, signals) pairs to a Monitor; returns its record."""
  monitor = health.Monitor(thresholds(warmup_steps=0, **overrides), loss_name)
  for step, (means, signals) in enumerate(streams, 1):
    monitor.check(100 * step, means, signals)
  return monitor.record


def healthy_means(step, rng):
  return {'d_loss': 1.2 + 0.05 * rng.standard_normal(),
          'g_loss': 0.9 + 0.05 * rng.standard_normal(),
          'd_real': 0.6, 'd_fake': 0.4, 'g_grad_norm': 1.0 + 0.1 * (step % 3)}


def test_a_healthy_run_raises_nothing():
  rng = np.random.default_rng(0)
  streams = [(healthy_means(i, rng), {'diversity_ratio': 0.9 + 0.01 * i,
                                      'entropy_ratio': 0.95})
             for i in range(300)]
  streams = [({**m, 'eval/fid': 50.0 - i}, s)
             for i, (m, s) in enumerate(streams)]
  record = run_monitor(streams)
  assert all(not steps for steps in record.flagged_at.values())


def test_a_collapsing_run_is_flagged_once_it_collapses(caplog):
  rng = np.random.default_rng(1)
  ratios = [0.9] * 10 + [0.9 - 0.1 * i for i in range(1, 9)] + [0.05] * 10
  streams = [(healthy_means(i, rng), {'diversity_ratio': r})
             for i, r in enumerate(ratios)]
  record = run_monitor(streams)
  first = record.flagged_at['collapse'][0]
  collapsed_from = ratios.index(next(r for r in ratios if r < 0.5)) + 1
  assert first == 100 * (collapsed_from + 2)     # patience: 3 checks in a row
  # One warning when it starts, not one per check.
  assert caplog.text.count('health: collapse') == 1
  assert not record.flagged_at['oscillation']


def test_collapse_by_class_entropy_and_by_modes():
  assert health.collapse({'entropy_ratio': 0.3}, thresholds())
  assert health.collapse({'mode_fraction': 0.2}, thresholds())
  assert not health.collapse({'diversity_ratio': 0.8, 'entropy_ratio': 0.9,
                              'mode_fraction': 0.9}, thresholds())
  one_class = np.zeros(100, int)
  assert health.histogram_entropy(one_class, 10) == 0.0
  assert health.histogram_entropy(np.arange(100) % 10, 10) == pytest.approx(
      np.log(10))


def test_an_oscillating_run_is_flagged():
  rng = np.random.default_rng(2)
  streams = []
  for i in range(60):
    amplitude = 0.01 if i < 30 else 2.0      # the swings grow
    means = {**healthy_means(i, rng),
             'g_loss': 1.0 + amplitude * (-1) ** i}
    streams.append((means, {}))
  record = run_monitor(streams)
  assert record.flagged_at['oscillation']
  assert record.flagged_at['oscillation'][0] > 100 * 30


def test_a_winning_discriminator_is_flagged_when_g_gradients_vanish():
  early = [{'d_real': 0.7, 'd_fake': 0.3, 'd_loss': 1.0, 'g_loss': 1.0,
            'g_grad_norm': 5.0}] * 5
  won = [{'d_real': 0.99, 'd_fake': 0.01, 'd_loss': 0.02, 'g_loss': 5.0,
          'g_grad_norm': 0.1}] * 5
  record = run_monitor([(m, {}) for m in early + won])
  assert record.flagged_at['d_wins'][0] == 100 * (5 + 3)   # patience 3
  # Separated, but G still gets gradients: not (yet) a win.
  strong = [{**m, 'g_grad_norm': 4.0} for m in won]
  assert not run_monitor([(m, {}) for m in early + strong]).flagged_at[
      'd_wins']
  # The hinge loss: D's loss near zero.
  hinge = [{'d_loss': 0.01, 'g_loss': 3.0, 'd_real': 4.0, 'd_fake': -4.0,
            'g_grad_norm': 0.01}] * 4
  assert run_monitor([(m, {}) for m in early + hinge], 'hinge').flagged_at[
      'd_wins']


def test_a_game_that_has_not_started_is_flagged_until_d_starts(caplog):
  # PacGAN's late start (docs/results.md): D at chance for thousands of steps
  # while the samples are a cloud, then D separates and the samples sharpen.
  chance = [({'d_real': 0.501, 'd_fake': 0.499, 'd_loss': 1.386,
              'g_loss': 0.693}, {'high_quality': 0.02})] * 10
  started = [({'d_real': 0.62, 'd_fake': 0.38, 'd_loss': 1.3,
               'g_loss': 0.9}, {'high_quality': 0.1})] * 5
  record = run_monitor(chance + started)
  assert record.flagged_at['stalled'] == [100 * i for i in range(3, 11)]
  assert caplog.text.count('health: stalled') == 1
  assert 'train longer' in caplog.text
  # One check at chance, or two, is a blip.
  assert not run_monitor(started + chance[:2] + started).flagged_at['stalled']


def test_d_at_chance_on_samples_like_the_data_is_not_a_stall():
  at_chance = {'d_real': 0.5, 'd_fake': 0.5, 'd_loss': 1.386, 'g_loss': 0.693}
  # A generator that matches a 2-D mixture leaves D at chance too.
  assert not run_monitor([(at_chance, {'high_quality': 0.95})] * 6
                         ).flagged_at['stalled']
  assert run_monitor([(at_chance, {'high_quality': 0.3})] * 6
                     ).flagged_at['stalled']
  # Least squares: scores against targets 1 and 0, at chance alike.
  assert run_monitor([(at_chance, {})] * 6, 'least_squares'
                     ).flagged_at['stalled']
  # No probability scale for the hinge and Wasserstein losses' raw scores.
  for loss in ('hinge', 'wasserstein'):
    assert not run_monitor([(at_chance, {})] * 6, loss).flagged_at['stalled']
  # A discriminator that separates, however little the samples look right.
  assert not run_monitor([({**at_chance, 'd_real': 0.53, 'd_fake': 0.47},
                           {'high_quality': 0.0})] * 6).flagged_at['stalled']


def test_stall_on_images_asks_whether_the_samples_lie_on_the_data():
  # Off a 2-D mixture the probe measures likeness as improved precision
  # (k = 3) against the real examples: fresh draws of the data lie inside
  # the real k-NN balls, noise does not.
  rng = np.random.default_rng(0)
  centres = rng.standard_normal((10, 64))

  def draw(n):
    return centres[rng.integers(0, 10, n)] + 0.1 * rng.standard_normal(
        (n, 64))
  probe = health.DiversityProbe(lambda x: x, draw(256))
  like = probe.signals(draw(256))
  cloud = probe.signals(rng.standard_normal((256, 64)))
  assert like['precision'] > 0.7 and 'high_quality' not in like
  assert cloud['precision'] < 0.05
  at_chance = {'d_real': 0.5, 'd_fake': 0.5, 'd_loss': 1.386, 'g_loss': 0.693}
  assert not run_monitor([(at_chance, like)] * 6).flagged_at['stalled']
  assert run_monitor([(at_chance, cloud)] * 6).flagged_at['stalled']
  # The smallest probe (health.num_samples = 2) still measures it.
  tiny = health.DiversityProbe(lambda x: x, draw(2))
  assert tiny.signals(tiny.real_features)['precision'] == 1.0


def test_a_worsening_metric_is_flagged():
  fids = [80, 60, 40, 30, 35, 50, 70, 90]
  assert health.diverging(fids, thresholds())
  assert not health.diverging([80, 60, 40, 30, 32, 31, 29], thresholds())


def test_nothing_is_flagged_during_warmup():
  # Collapsed from the first check: the checks in a row count from the end of
  # the warm-up, so the flag comes at its third check.
  monitor = health.Monitor(thresholds(warmup_steps=1000), 'non_saturating')
  flags = [monitor.check(step, {'d_loss': 1.0, 'g_loss': 1.0},
                         {'diversity_ratio': 0.01})['health/collapse']
           for step in range(500, 1600, 100)]
  assert flags == [0.0] * 7 + [1.0] * 4


def test_a_collapse_seen_at_one_or_two_checks_is_not_flagged():
  blips = [0.9] * 5 + [0.2] + [0.9] * 3 + [0.2, 0.2] + [0.9] * 3
  record = run_monitor([({'d_loss': 1.0, 'g_loss': 1.0},
                         {'diversity_ratio': r}) for r in blips])
  assert not record.flagged_at['collapse']


def test_mixture_modes_count_occupancy_not_sharpness():
  rng = np.random.default_rng(0)
  means = np.array([[np.cos(a), np.sin(a)] for a in
                    np.linspace(0, 2 * np.pi, 8, endpoint=False)])
  real = means[rng.integers(0, 8, 256)] + 0.01 * rng.standard_normal((256, 2))
  probe = health.DiversityProbe(lambda x: x, real, mixture=(means, 0.01))
  # Every mode reached but blurred (10x the std): not a collapse.
  blurred = means[rng.integers(0, 8, 256)] + 0.1 * rng.standard_normal(
      (256, 2))
  assert probe.signals(blurred)['mode_fraction'] == 1.0
  assert probe.signals(blurred)['high_quality'] < 0.1      # 3 std of 0.01
  assert not health.collapse(probe.signals(blurred), thresholds())
  # Sharp, but on two modes: collapsed.
  two = means[rng.integers(0, 2, 256)] + 0.01 * rng.standard_normal((256, 2))
  assert probe.signals(two)['mode_fraction'] == 0.25
  assert probe.signals(two)['high_quality'] > 0.95
  assert health.collapse(probe.signals(two), thresholds())


def test_diversity_probe_sees_duplicates():
  rng = np.random.default_rng(0)
  real = rng.standard_normal((64, 8))
  probe = health.DiversityProbe(lambda x: x, real)
  assert probe.signals(rng.standard_normal((64, 8)))['diversity_ratio'] == (
      pytest.approx(1.0, abs=0.15))
  collapsed = np.repeat(rng.standard_normal((2, 8)), 32, axis=0)
  assert probe.signals(collapsed)['diversity_ratio'] < 0.75


def test_a_run_writes_health_scalars_and_a_report(tmp_path):
  config = tiny_dcgan_config(num_train_steps=4, **{
      'health.enabled': True, 'health.num_samples': 16,
      'health.warmup_steps': 0})
  loop.train_and_evaluate(config, str(tmp_path))
  scalars = summary.read_scalars(str(tmp_path))
  for tag in ('health/collapse', 'health/d_wins', 'health/stalled',
              'health/diversity_ratio'):
    assert sorted(scalars[tag]) == [2, 4], tag
  report = (tmp_path / 'report.md').read_text()
  assert 'dcgan on digits' in report and '"num_train_steps": 4' in report
  assert '![Losses](report/losses.png)' in report
  assert (tmp_path / 'report' / 'losses.png').stat().st_size > 1000
  final = json.loads((tmp_path / 'final_metrics.json').read_text())
  assert 'health/collapse' in final


def test_a_report_with_the_monitor_off_says_so(tmp_path):
  # Off is not healthy: the report must not say "never flagged".
  config = tiny_dcgan_config(num_train_steps=2, **{'health.enabled': False})
  loop.train_and_evaluate(config, str(tmp_path))
  report = (tmp_path / 'report.md').read_text()
  assert 'The health monitor was off' in report
  assert 'never flagged' not in report
  assert not any(tag.startswith('health/')
                 for tag in summary.read_scalars(str(tmp_path)))


# --- the auto-built classifier ----------------------------------------------------


def write_digits_like(directory, shift=0):
  """Tiny MNIST-format data: class k is a bar at row 2k (+ shift)."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(0)
  for prefix, count in (('train', 200), ('t10k', 50)):
    labels = rng.integers(0, 10, count)
    images = np.zeros((count, 28, 28), np.uint8)
    for i, label in enumerate(labels):
      images[i, 2 * label + 4 + shift, 4:24] = 255
    write_idx(os.path.join(directory, f'{prefix}-images-idx3-ubyte'), images)
    write_idx(os.path.join(directory, f'{prefix}-labels-idx1-ubyte'), labels)


def test_auto_classifier_is_cached_and_rebuilt_when_the_data_change(
    tmp_path, monkeypatch):
  monkeypatch.setenv(auto_classifier.CACHE_ENV, str(tmp_path / 'cache'))
  data = tmp_path / 'bars'
  write_digits_like(data)
  config = tiny_dcgan_config(res=28, **{
      'dataset.name': f'idx:{data}', 'eval.classifier_steps': 30})
  first = auto_classifier.resolve(config)
  meta = json.loads(open(os.path.join(first, 'classifier.json')).read())
  assert meta['test_accuracy'] > 0.5 and meta['steps'] == 30
  built = os.path.getmtime(os.path.join(first, 'params.msgpack'))
  assert auto_classifier.resolve(config) == first          # reused
  assert os.path.getmtime(os.path.join(first, 'params.msgpack')) == built
  write_digits_like(data, shift=1)                         # the data change
  second = auto_classifier.resolve(config)
  assert second != first and os.path.isdir(second)
  assert len(os.listdir(tmp_path / 'cache' / 'classifiers')) == 2


def test_unlabelled_images_fall_back_to_pixels_with_a_warning(tmp_path, caplog):
  from gan_jax.eval import evaluator as evaluator_lib  # pylint: disable=g-import-not-at-top
  from gan_jax.training import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  np.savez(tmp_path / 'faces.npz',
           images=np.random.default_rng(0).random((40, 16, 16)))
  config = tiny_dcgan_config(**{'dataset.name': f'npz:{tmp_path}/faces.npz',
                                'evals.fid': 2, 'eval.num_samples': 20})
  experiment = experiment_lib.setup(config)
  evaluator = evaluator_lib.Evaluator(config, experiment.dataset,
                                      experiment.gan, str(tmp_path))
  assert evaluator.feature_kind() == 'identity'
  assert 'raw pixels' in caplog.text


def test_samples_flying_off_are_divergence_not_collapse():
  spread = {'diversity_ratio': 40.0, 'mode_fraction': 0.0}
  assert not health.collapse(spread, thresholds())
  assert health.diverging([], thresholds(), spread)
  record = run_monitor([({'d_loss': 1.0, 'g_loss': 1.0}, spread)] * 3)
  assert record.flagged_at['diverging'] == [300]
  assert not record.flagged_at['collapse']
  assert health.collapse({'diversity_ratio': 1.0, 'mode_fraction': 0.1},
                         thresholds())


def test_auto_classifier_holds_out_a_tenth_when_there_is_no_test_split(
    tmp_path, monkeypatch):
  monkeypatch.setenv(auto_classifier.CACHE_ENV, str(tmp_path / 'cache'))
  config = tiny_dcgan_config(**{'eval.classifier_steps': 5})
  directory = auto_classifier.resolve(config)     # digits: no test split
  meta = json.loads(open(os.path.join(directory, 'classifier.json')).read())
  assert meta['test_examples'] == 1797 // 10
  assert meta['train_examples'] == 1797 - 1797 // 10


def test_a_small_wobble_after_a_flat_stretch_is_not_an_oscillation():
  # Log-step means of a healthy run: nearly flat, then a few % of noise. The
  # variance grows far more than 10x, the swing stays small.
  rng = np.random.default_rng(3)
  losses = [1.30 + 0.002 * rng.standard_normal() for _ in range(30)] + [
      1.25 + 0.04 * rng.standard_normal() for _ in range(30)]
  streams = [({'d_loss': 1.2, 'g_loss': g, 'd_real': 0.6, 'd_fake': 0.4},
              {}) for g in losses]
  assert not run_monitor(streams).flagged_at['oscillation']
  assert run_monitor(streams, swing_fraction=0.0).flagged_at['oscillation']
