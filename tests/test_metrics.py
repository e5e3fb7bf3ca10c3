"""Metrics on hand-made inputs, against NumPy/SciPy references."""

import numpy as np
import pytest
from scipy import linalg

from gan_jax.data.sources import synthetic
from gan_jax.eval import metrics


def _gaussian(rng, n, d, shift=0.0, scale=1.0):
  mixing = rng.standard_normal((d, d)) / np.sqrt(d)
  return shift + scale * rng.standard_normal((n, d)) @ mixing


def _scipy_frechet(x, y):
  mu1, mu2 = x.mean(0), y.mean(0)
  s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  root = linalg.sqrtm(s1 @ s2).real
  return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)


def test_frechet_distance_of_identical_features_is_zero():
  x = _gaussian(np.random.default_rng(0), 500, 16)
  assert metrics.frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize('shift,scale', [(0.0, 1.0), (0.5, 1.0), (0.0, 2.0),
                                         (1.0, 0.5)])
def test_frechet_distance_matches_scipy(shift, scale):
  rng = np.random.default_rng(1)
  x = _gaussian(rng, 400, 12)
  y = _gaussian(rng, 300, 12, shift, scale)
  expected = _scipy_frechet(x, y)
  assert metrics.frechet_distance_of(x, y) == pytest.approx(expected,
                                                            rel=1e-6)
  if shift or scale != 1.0:
    assert expected > 0.1      # the case really differs


def test_frechet_distance_of_known_gaussians():
  # N(0, I) vs N(m, 4 I) in d dims: |m|^2 + d (1 + 4 - 2 * 2) = |m|^2 + d.
  d, m = 5, np.full(5, 0.3)
  assert metrics.frechet_distance(np.zeros(d), np.eye(d), m, 4 * np.eye(d)) \
      == pytest.approx(5 * 0.09 + d)


def test_kid_is_unbiased_for_one_distribution():
  rng = np.random.default_rng(2)
  estimates = [metrics.kernel_distance(rng.standard_normal((200, 8)),
                                       rng.standard_normal((200, 8)),
                                       num_subsets=1, subset_size=200,
                                       seed=s)[0] for s in range(40)]
  mean, error = np.mean(estimates), np.std(estimates) / np.sqrt(40)
  # Unbiased: the mean is 0 within 3 standard errors, and single estimates
  # go negative (a biased, V-statistic estimate would stay positive).
  assert abs(mean) < 3 * error
  assert min(estimates) < 0


def test_kid_grows_with_the_difference():
  rng = np.random.default_rng(3)
  x = rng.standard_normal((500, 8))
  near = metrics.kernel_distance(x, rng.standard_normal((500, 8)) + 0.1,
                                 num_subsets=10, subset_size=250)[0]
  far = metrics.kernel_distance(x, rng.standard_normal((500, 8)) + 1.0,
                                num_subsets=10, subset_size=250)[0]
  assert 0 < near < far


def test_kid_matches_a_numpy_reference():
  rng = np.random.default_rng(4)
  x, y = rng.standard_normal((50, 6)), rng.standard_normal((50, 6)) + 0.2
  kernel = lambda a, b: (a @ b.T / 6 + 1) ** 3
  m = 50
  expected = ((kernel(x, x).sum() - np.trace(kernel(x, x))) / (m * (m - 1))
              + (kernel(y, y).sum() - np.trace(kernel(y, y))) / (m * (m - 1))
              - 2 * kernel(x, y).mean())
  mean, std = metrics.kernel_distance(x, y, num_subsets=3, subset_size=50)
  # Subsets of the whole set are the whole set: every subset gives the same.
  assert mean == pytest.approx(expected, rel=1e-4)
  assert std == pytest.approx(0.0, abs=1e-6)


def test_precision_recall_on_hand_made_points():
  # Real: 4 points on a unit square; k = 1 balls have radius 1.
  real = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
  inside = np.array([[0.5, 0.5], [0.1, 0.0]], np.float32)
  outside = np.array([[5.0, 5.0], [-3.0, 0.0]], np.float32)
  precision, _ = metrics.precision_recall(real, np.concatenate([inside,
                                                                outside]), k=1)
  assert precision == pytest.approx(0.5)
  # Generated points all at one corner: their balls (radius 0 for k = 1 at
  # a duplicate) cover only that corner of the real set.
  collapsed = np.array([[0, 0], [0, 0], [0.0, 0.0]], np.float32)
  precision, recall = metrics.precision_recall(real, collapsed, k=1)
  assert precision == 1.0 and recall == pytest.approx(0.25)
  precision, recall = metrics.precision_recall(real, real, k=1)
  assert precision == 1.0 and recall == 1.0


def test_density_coverage_on_hand_made_points():
  real = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
  # (0.5, 0.5) is at distance 0.707 from all four centres (radius 1 at k=1).
  density, coverage = metrics.density_coverage(
      real, np.array([[0.5, 0.5]], np.float32), k=1)
  assert density == pytest.approx(4.0) and coverage == 1.0
  density, coverage = metrics.density_coverage(
      real, np.array([[0.0, -0.5], [9.0, 9.0]], np.float32), k=1)
  assert density == pytest.approx(0.5) and coverage == pytest.approx(0.25)


def test_manifold_metrics_across_row_blocks(monkeypatch):
  """Blocked pairwise work gives what one block gives."""
  rng = np.random.default_rng(5)
  real, fake = rng.standard_normal((70, 3)), rng.standard_normal((50, 3))
  whole = (metrics.precision_recall(real, fake),
           metrics.density_coverage(real, fake))
  monkeypatch.setattr(metrics, '_BLOCK', 16)
  assert (metrics.precision_recall(real, fake),
          metrics.density_coverage(real, fake)) == whole


def test_mixture_coverage_counts_modes():
  means = synthetic.grid_means()
  std = synthetic.GRID_STD
  rng = np.random.default_rng(6)
  every_mode = np.repeat(means, 100, axis=0) + std * rng.standard_normal(
      (2500, 2))
  result = metrics.mixture_coverage(every_mode, means, std)
  assert result['modes'] == 25
  assert result['high_quality'] > 0.98       # 3 sigma in 2-D: 98.9%
  assert result['reverse_kl'] < 0.01

  one_mode = means[7] + std * rng.standard_normal((2500, 2))
  result = metrics.mixture_coverage(one_mode, means, std)
  assert result['modes'] == 1
  assert result['reverse_kl'] == pytest.approx(np.log(25))

  off_mode = (means[:5] + means[5:10]) / 2   # half way between modes
  on_mode = np.repeat(means[7:8], 100, axis=0)
  result = metrics.mixture_coverage(
      np.concatenate([on_mode, np.repeat(off_mode, 20, axis=0)]), means, std)
  assert result['modes'] == 1
  assert result['high_quality'] == pytest.approx(100 / 200)

  too_few = metrics.mixture_coverage(one_mode[:19], means, std)
  assert too_few['modes'] == 0               # under min_count samples


def test_mixture_coverage_pacgan_rules():
  """PacGAN's code: one high-quality sample covers a mode; its reverse KL
  is over the high-quality samples' modes only."""
  means, std = synthetic.grid_means(), synthetic.GRID_STD
  on_mode = np.repeat(means[7:8], 100, axis=0)
  singles = means[:3] + 0.5 * std                # one good sample in 3 modes
  stray = np.repeat((means[10:15] + means[15:20]) / 2, 40, axis=0)
  result = metrics.mixture_coverage(
      np.concatenate([on_mode, singles, stray]), means, std)
  assert result['modes'] == 1 and result['modes_pacgan'] == 4
  assert result['high_quality'] == pytest.approx(103 / 303)
  histogram = np.array([1, 1, 1, 100]) / 103
  assert result['reverse_kl_pacgan'] == pytest.approx(
      np.sum(histogram * np.log(histogram * 25)))
  # Over every sample's nearest mode, the strays spread the histogram.
  assert result['reverse_kl'] < result['reverse_kl_pacgan']
  none = metrics.mixture_coverage(stray, means, std)
  assert none['modes_pacgan'] == 0 and none['reverse_kl_pacgan'] == np.inf


def test_label_coverage_and_stacked_modes():
  assert list(metrics.stacked_mode(np.array([[1, 2, 3], [0, 0, 9]]))) == [
      123, 9]
  uniform = metrics.label_coverage(np.arange(1000), 1000)
  assert uniform == {'modes': 1000, 'kl': pytest.approx(0.0)}
  half = metrics.label_coverage(np.arange(500), 1000)
  assert half['modes'] == 500 and half['kl'] == pytest.approx(np.log(2))
