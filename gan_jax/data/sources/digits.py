"""scikit-learn's bundled 8x8 digits, and the unpaired digits task of CycleGAN.

Both are real images shipped inside the scikit-learn wheel: no download.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from gan_jax.data.dataset import ArraySource, Dataset, images_in_memory
from gan_jax.data.sources.registry import register


@register('digits')
def load_digits(config: ml_collections.ConfigDict, argument: str) -> Dataset:
  """scikit-learn's 1,797 8x8 digits (values 0..16)."""
  del argument
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  return Dataset({'x': images_in_memory(digits.images / 16.0, digits.target,
                                        config)}, num_classes=10)


def digit_transform(images: np.ndarray) -> np.ndarray:
  """The known A -> B map of the embedded CycleGAN task: invert, transpose."""
  return np.ascontiguousarray(255 - np.swapaxes(images, -3, -2))


@register('digits_unpaired')
def load_unpaired_digits(config: ml_collections.ConfigDict,
                         argument: str) -> Dataset:
  """Two unpaired domains with a known translation, for measuring CycleGAN.

  A = digits, B = digit_transform(digits), drawn from disjoint halves of the
  first 1,600 digits (split 'train': no pair is ever seen). Split 'test'
  gives the last 197 digits in A and their exact transforms in B, aligned by
  index: the ground truth for the translation error.
  """
  images = load_digits(config, argument).domains['x'].arrays['image']
  if config.split == 'test':
    a, b = images[1600:], digit_transform(images[1600:])
  else:
    a, b = images[:800], digit_transform(images[800:1600])
  return Dataset({'a': ArraySource({'image': a}),
                  'b': ArraySource({'image': b})})
