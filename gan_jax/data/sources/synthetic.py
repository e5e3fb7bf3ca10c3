"""2-D Gaussian mixtures: the mode-collapse benchmarks of VEEGAN and PacGAN.

The ring of 8 and the grid of 25 of Srivastava et al. 2017 (VEEGAN) and
Lin et al. 2018 (PacGAN); `label` is each point's mode.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from gan_jax.data.dataset import DATA_SEED, ArraySource, Dataset
from gan_jax.data.sources.registry import register


RING_STD = 0.01
GRID_STD = 0.05


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(side: int = 5, spacing: float = 2.0) -> np.ndarray:
  coords = spacing * (np.arange(side) - (side - 1) / 2)
  return np.stack(np.meshgrid(coords, coords, indexing='ij'),
                  axis=-1).reshape(-1, 2)


def gaussian_mixture(means: np.ndarray, std: float, num_examples: int,
                     seed: int = DATA_SEED) -> Dataset:
  """Points from an equal-weight mixture; `label` is each point's mode."""
  rng = np.random.default_rng(seed)
  modes = rng.integers(len(means), size=num_examples)
  points = means[modes] + std * rng.standard_normal((num_examples, 2))
  return Dataset({'x': ArraySource({'x': points.astype(np.float32),
                                    'label': modes.astype(np.int32)})},
                 num_classes=len(means))


@register('gaussian_ring')
def load_ring(config: ml_collections.ConfigDict, argument: str) -> Dataset:
  """8 Gaussians on the unit circle, std 0.01 (VEEGAN / PacGAN)."""
  del argument
  return gaussian_mixture(ring_means(), RING_STD, config.num_examples)


@register('gaussian_grid')
def load_grid(config: ml_collections.ConfigDict, argument: str) -> Dataset:
  """25 Gaussians on {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN)."""
  del argument
  return gaussian_mixture(grid_means(), GRID_STD, config.num_examples)


# name -> (means, std): what mode coverage measures against.
MIXTURES = {'gaussian_ring': (ring_means, RING_STD),
            'gaussian_grid': (grid_means, GRID_STD)}
