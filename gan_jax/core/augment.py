"""Differentiable augmentation (DiffAugment; Zhao et al. 2020, *Differentiable
Augmentation for Data-Efficient GAN Training*).

The discriminator sees real and generated images through the same random
transformations T, in its own loss (D(T(x)), D(T(G(z)))) and in the
generator's (D(T(G(z)))); every T is differentiable, so the generator's
gradient flows through it. This keeps a discriminator trained on little data
from memorising it, without the augmentations leaking into the samples.

`config.augment.policy` lists the operations, applied in this order, each
with its own random draw per image (images in [-1, 1], NHWC):

  color        brightness + U[-0.5, 0.5); saturation x U[0, 2) around the
               per-pixel channel mean; contrast x U[0.5, 1.5) around the
               image mean (grey images: brightness and contrast)
  translation  a shift by up to 1/8 of the side in each direction, the
               uncovered border filled with 0
  cutout       a square of half the side set to 0, centred uniformly

as defined in the paper's code (the same magnitudes). Randomness comes from
the train step's key, so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import check

OPERATIONS = ('color', 'translation', 'cutout')
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def augment_config() -> ml_collections.ConfigDict:
  """`config.augment`: DiffAugment's policy ('' = off)."""
  return ml_collections.ConfigDict(dict(
      policy='',   # comma-separated subset of color,translation,cutout
  ))


def parse_policy(policy: str) -> tuple[str, ...]:
  return tuple(op.strip() for op in policy.split(',') if op.strip())


def validate(config: ml_collections.ConfigDict) -> None:
  ops = parse_policy(config.augment.policy)
  check(all(op in OPERATIONS for op in ops) and len(set(ops)) == len(ops),
        'augment.policy', config.augment.policy,
        f"'' (off) or a comma-separated subset of {list(OPERATIONS)}, e.g. "
        "'color,translation,cutout'")


def _uniform(key, images, low, high):
  return jax.random.uniform(key, (images.shape[0], 1, 1, 1), images.dtype,
                            low, high)


def color(images: jax.Array, key: jax.Array) -> jax.Array:
  """Brightness, saturation (RGB only) and contrast, one draw per image."""
  brightness, saturation, contrast = jax.random.split(key, 3)
  images = images + _uniform(brightness, images, -0.5, 0.5)
  if images.shape[-1] > 1:
    mean = images.mean(axis=-1, keepdims=True)
    images = (images - mean) * _uniform(saturation, images, 0.0, 2.0) + mean
  mean = images.mean(axis=(1, 2, 3), keepdims=True)
  return (images - mean) * _uniform(contrast, images, 0.5, 1.5) + mean


def translation(images: jax.Array, key: jax.Array,
                ratio: float = TRANSLATION_RATIO) -> jax.Array:
  """Shifts each image by up to `ratio` of its side; zeros fill the border."""
  batch, height, width, _ = images.shape
  max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
  key_y, key_x = jax.random.split(key)
  dy = jax.random.randint(key_y, (batch,), -max_dy, max_dy + 1)
  dx = jax.random.randint(key_x, (batch,), -max_dx, max_dx + 1)
  padded = jnp.pad(images, ((0, 0), (max_dy, max_dy), (max_dx, max_dx),
                            (0, 0)))

  def shift(image, y, x):
    # Output pixel (i, j) reads input (i - y, j - x): a shift by (y, x).
    return jax.lax.dynamic_slice(image, (max_dy - y, max_dx - x, 0),
                                 (height, width, image.shape[-1]))
  return jax.vmap(shift)(padded, dy, dx)


def cutout(images: jax.Array, key: jax.Array,
           ratio: float = CUTOUT_RATIO) -> jax.Array:
  """Sets a square of `ratio` of the side to 0 in each image."""
  batch, height, width, _ = images.shape
  size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
  key_y, key_x = jax.random.split(key)
  # The square's centre, as the paper's code draws it (it may be clipped).
  cy = jax.random.randint(key_y, (batch, 1, 1), 0, height + (1 - size_y % 2))
  cx = jax.random.randint(key_x, (batch, 1, 1), 0, width + (1 - size_x % 2))
  rows = jnp.arange(height)[None, :, None]
  columns = jnp.arange(width)[None, None, :]
  inside = ((rows >= cy - size_y // 2) & (rows < cy - size_y // 2 + size_y)
            & (columns >= cx - size_x // 2)
            & (columns < cx - size_x // 2 + size_x))
  return images * (~inside)[..., None].astype(images.dtype)


_OPS = {'color': color, 'translation': translation, 'cutout': cutout}


def diff_augment(images: jax.Array, policy: tuple[str, ...] | str,
                 key: jax.Array) -> jax.Array:
  """`images` through the operations of `policy`, in order; identity if empty."""
  if isinstance(policy, str):
    policy = parse_policy(policy)
  for op, op_key in zip(policy, jax.random.split(key, max(len(policy), 1))):
    images = _OPS[op](images, op_key)
  return images
