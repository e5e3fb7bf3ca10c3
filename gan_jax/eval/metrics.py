"""Sample-quality and mode-coverage metrics, as pure functions of features.

Every function takes arrays already computed (features of a feature network,
2-D points, class labels) and returns plain floats, so each can be tested on
hand-made inputs and reused outside training. `gan_jax.eval.evaluator` computes
the features and calls these.

Distribution distances on features (N real, M generated, d dimensions):
  frechet_distance   Fréchet distance of two Gaussians fitted to the features
                     (FID when the features are Inception pool features;
                     Heusel et al. 2017).
  kernel_distance    KID: the unbiased MMD^2 estimate with the cubic
                     polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged
                     over random subsets (Bińkowski et al. 2018).
  precision_recall   improved precision and recall with k-NN balls, k = 3
                     (Kynkäänniemi et al. 2019).
  density_coverage   density and coverage with k-NN balls around the real
                     features only, k = 5 (Naeem et al. 2020).
Mode coverage:
  mixture_coverage   2-D Gaussian mixtures (VEEGAN / PacGAN protocol).
  label_coverage     modes as class labels (Stacked MNIST: 1,000 modes).

The Fréchet distance's matrix square root runs in float64 NumPy on the host
(a d x d problem, once per evaluation); the O(N M d) pairwise work runs
jitted in JAX, in blocks of rows so memory stays O(block x N).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# Rows of a pairwise-distance block: 1,000 x 10,000 float32 is 40 MB.
_BLOCK = 1000


# --- Fréchet distance -------------------------------------------------------------

def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(mean, covariance) of (N, d) features, in float64."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f'features must be (N >= 2, d), got {features.shape}')
  return features.mean(axis=0), np.cov(features, rowvar=False).reshape(
      features.shape[1], features.shape[1])


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) of two Gaussians.

  tr((S1 S2)^(1/2)) is computed as the sum of the square roots of the
  eigenvalues of the symmetric PSD matrix S1^(1/2) S2 S1^(1/2), which has the
  same eigenvalues as S1 S2: symmetric eigendecompositions instead of a
  general matrix square root, and no complex round-off to discard.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1 = np.asarray(sigma1, np.float64)
  sigma2 = np.asarray(sigma2, np.float64)
  values, vectors = np.linalg.eigh(sigma1)
  root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
  middle = root1 @ sigma2 @ root1
  eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
  trace_root = np.sum(np.sqrt(np.clip(eigenvalues, 0, None)))
  distance = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
              - 2 * trace_root)
  return float(max(distance, 0.0))


def frechet_distance_of(real: np.ndarray, fake: np.ndarray) -> float:
  """Fréchet distance between two (N, d) feature sets."""
  return frechet_distance(*feature_statistics(real),
                          *feature_statistics(fake))


# --- KID ----------------------------------------------------------------------------

@jax.jit
def _mmd2_unbiased(x: jax.Array, y: jax.Array) -> jax.Array:
  """Unbiased MMD^2 of two equal-size samples, cubic polynomial kernel."""
  m, d = x.shape
  kernel = lambda a, b: (a @ b.T / d + 1.0) ** 3
  k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
  off_diagonal = lambda k: (jnp.sum(k) - jnp.trace(k)) / (m * (m - 1))
  return off_diagonal(k_xx) + off_diagonal(k_yy) - 2 * jnp.mean(k_xy)


def kernel_distance(real: np.ndarray, fake: np.ndarray, num_subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0
                    ) -> tuple[float, float]:
  """KID: mean and standard deviation of the unbiased MMD^2 over subsets.

  Each subset draws `subset_size` real and generated features without
  replacement (fewer if either set is smaller), as in Bińkowski et al. 2018.
  The estimate is unbiased: its expectation is 0 when both sets come from
  one distribution, so small negative values are expected there.
  """
  size = min(subset_size, len(real), len(fake))
  if size < 2:
    raise ValueError(f'KID needs >= 2 features per set, got {len(real)} real '
                     f'and {len(fake)} generated')
  rng = np.random.default_rng(seed)
  real = jnp.asarray(real, jnp.float32)
  fake = jnp.asarray(fake, jnp.float32)
  values = np.array([
      float(_mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                           fake[rng.choice(len(fake), size, replace=False)]))
      for _ in range(num_subsets)])
  return float(values.mean()), float(values.std())


# --- k-NN manifold metrics ------------------------------------------------------

@jax.jit
def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.maximum(jnp.sum(a * a, -1)[:, None] + jnp.sum(b * b, -1)[None]
                     - 2 * a @ b.T, 0.0)


def _row_blocks(a: jax.Array, b: jax.Array, reduce):
  """reduce(squared distances of a row block of `a` to all of `b`), stacked."""
  return jnp.concatenate([reduce(_squared_distances(a[i:i + _BLOCK], b))
                          for i in range(0, len(a), _BLOCK)])


@functools.partial(jax.jit, static_argnums=1)
def _kth_smallest(squared: jax.Array, k: int) -> jax.Array:
  return -jax.lax.top_k(-squared, k)[0][:, -1]


def knn_radii(features: jax.Array, k: int) -> jax.Array:
  """Squared distance of each feature to its k-th nearest other feature."""
  # The k + 1 smallest include the point itself at distance 0.
  return _row_blocks(features, features,
                     lambda squared: _kth_smallest(squared, k + 1))


def _inside_counts(points: jax.Array, centres: jax.Array,
                   radii: jax.Array) -> jax.Array:
  """For each point, how many balls (centres, squared radii) contain it."""
  return _row_blocks(points, centres,
                     lambda squared: jnp.sum(squared <= radii[None], -1))


def _covered(points: jax.Array, centres: jax.Array, k: int) -> float:
  """Fraction of `points` inside the union of the centres' k-NN balls."""
  return float(jnp.mean(_inside_counts(points, centres, knn_radii(centres, k))
                        > 0))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3
                     ) -> tuple[float, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019).

  precision: fraction of generated features inside the union of the k-NN
  balls of the real features (quality); recall: fraction of real features
  inside the union of the generated features' balls (coverage).
  """
  real = jnp.asarray(real, jnp.float32)
  fake = jnp.asarray(fake, jnp.float32)
  return _covered(fake, real, k), _covered(real, fake, k)


def precision(real: np.ndarray, fake: np.ndarray, k: int = 3) -> float:
  """The precision of `precision_recall` alone."""
  return _covered(jnp.asarray(fake, jnp.float32),
                  jnp.asarray(real, jnp.float32), k)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5
                     ) -> tuple[float, float]:
  """Density and coverage (Naeem et al. 2020), balls around real features only.

  density: mean number of real k-NN balls containing a generated feature,
  divided by k (1 for matching distributions; can exceed 1); coverage:
  fraction of real features whose ball contains any generated feature.
  """
  real = jnp.asarray(real, jnp.float32)
  fake = jnp.asarray(fake, jnp.float32)
  radii = knn_radii(real, k)
  density = jnp.sum(_inside_counts(fake, real, radii)) / (k * len(fake))
  nearest_fake = _row_blocks(real, fake, lambda squared: squared.min(-1))
  coverage = jnp.mean(nearest_fake <= radii)
  return float(density), float(coverage)


# --- mode coverage ------------------------------------------------------------------

def _kl_to_uniform(counts: np.ndarray) -> float:
  """KL(p || uniform) of the histogram `counts` over len(counts) modes."""
  total = counts.sum()
  if total == 0:
    return float('inf')
  p = counts[counts > 0] / total
  return float(np.sum(p * np.log(p * len(counts))))


def mode_histograms(samples: np.ndarray, means: np.ndarray, std: float,
                    radius_stds: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
  """Per mode of a Gaussian mixture: how many samples lie nearest to it, and
  how many of those are high quality (within `radius_stds` of its std)."""
  samples = np.asarray(samples, np.float64)
  distances = np.linalg.norm(samples[:, None] - means[None], axis=-1)
  nearest = distances.argmin(-1)
  good = distances.min(-1) < radius_stds * std
  return (np.bincount(nearest, minlength=len(means)),
          np.bincount(nearest[good], minlength=len(means)))


def mixture_coverage(samples: np.ndarray, means: np.ndarray, std: float,
                     min_count: int = 20, radius_stds: float = 3.0) -> dict:
  """Mode coverage of 2-D samples of a Gaussian mixture (VEEGAN / PacGAN).

  A sample is high quality if it lies within `radius_stds` standard
  deviations of its nearest mode. Two rules for a covered mode, both
  reported (PacGAN's tables use 2,500 samples):

    modes_pacgan  at least one high-quality sample is nearest to it: the rule
                  of the authors' code (PacGAN's `MetricLogger`, the "mode
                  coverage" column behind their Table 1);
    modes         at least `min_count` (20) are: gan_jax's stricter rule, so
                  that a few stray samples do not count as a learnt mode.

  And two reverse KLs to the uniform distribution over the modes:

    reverse_kl_pacgan  of the histogram of the high-quality samples' modes
                       (log K minus the "entropy of coverage" that PacGAN's
                       MetricLogger writes): infinite if none is high quality;
    reverse_kl         of every sample's nearest mode: finite always.

  Returns:
    {'modes', 'modes_pacgan', 'high_quality' (fraction), 'reverse_kl',
     'reverse_kl_pacgan'}.
  """
  counts, good_counts = mode_histograms(samples, means, std, radius_stds)
  return {'modes': int(np.sum(good_counts >= min_count)),
          'modes_pacgan': int(np.sum(good_counts >= 1)),
          'high_quality': float(good_counts.sum() / len(samples)),
          'reverse_kl': _kl_to_uniform(counts),
          'reverse_kl_pacgan': _kl_to_uniform(good_counts)}


def label_coverage(labels: np.ndarray, num_modes: int) -> dict:
  """Modes hit at least once and KL(label histogram || uniform)."""
  counts = np.bincount(np.asarray(labels), minlength=num_modes)
  return {'modes': int(np.sum(counts > 0)), 'kl': _kl_to_uniform(counts)}


def stacked_mode(channel_labels: np.ndarray) -> np.ndarray:
  """(N, 3) digit labels of the R, G, B channels -> mode 100 r + 10 g + b."""
  channel_labels = np.asarray(channel_labels)
  return channel_labels @ np.array([100, 10, 1])
