"""Turning any image into what the models read, and examples into model inputs."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from PIL import Image

from gan_jax.errors import DataError

Example = dict[str, Any]


def prepare_image(image: np.ndarray, resolution: int, channels: int,
                  crop_size: int = 0) -> np.ndarray:
  """Centre-crops, resizes and converts one image to uint8 (res, res, C).

  Args:
    image: (H, W) or (H, W, C) with C in 1, 3, 4; uint8, or float in [0, 1].
    resolution: output height and width.
    channels: output channels, 1 (luminance) or 3.
    crop_size: side of the central square crop taken first; 0 takes the
      largest central square (a no-op for square images).

  Returns:
    The uint8 image.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8:
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 3 and image.shape[-1] == 4:
    image = image[..., :3]            # drop alpha
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
    raise DataError(f'cannot read an image of shape {image.shape}: expected '
                    '(H, W), (H, W, 1), (H, W, 3) or (H, W, 4)')
  height, width = image.shape[:2]
  side = min(crop_size or min(height, width), height, width)
  top, left = (height - side) // 2, (width - side) // 2
  image = image[top:top + side, left:left + side]
  picture = Image.fromarray(image)
  if side != resolution:              # Pillow antialiases when shrinking
    picture = picture.resize((resolution, resolution), Image.BILINEAR)
  picture = picture.convert('L' if channels == 1 else 'RGB')
  out = np.asarray(picture)
  return out[..., None] if channels == 1 else out


def to_model_inputs(example: Example, scale: bool = True) -> Example:
  """uint8 images -> float32 `x` in [-1, 1]; points and labels pass through.

  With `scale=False` the image is only renamed `x` and stays uint8, a
  quarter of the bytes to batch and copy to the device, where
  `scale_images` finishes the job inside the compiled step.
  """
  if 'image' not in example:
    return example
  out = {key: value for key, value in example.items() if key != 'image'}
  out['x'] = scale_images(example['image']) if scale else example['image']
  return out


# uint8 level -> float32 in [-1, 1]. The device looks levels up rather than
# dividing, so that it gives the host's values to the bit (XLA turns the
# division into a multiplication by the reciprocal, one ulp off for some
# levels); the host divides, which is faster than numpy's gather.
_LEVELS = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1)


def scale_images(tree):
  """Every uint8 leaf (an image batch) -> float32 in [-1, 1]; other leaves
  (points, labels) unchanged. numpy or jax arrays, inside jit or not."""
  def scale(leaf):
    if leaf.dtype != np.uint8:
      return leaf
    if isinstance(leaf, np.ndarray):
      return leaf.astype(np.float32) / np.float32(127.5) - np.float32(1)
    return jax.numpy.asarray(_LEVELS)[leaf]
  return jax.tree.map(scale, tree)


def check_images(images: np.ndarray, where: str) -> np.ndarray:
  """Refuses image arrays gan_jax would silently damage; returns them usable.

  uint8 passes; other integers must lie in [0, 255] (they become uint8);
  floats must be finite and in [0, 1].

  Raises:
    DataError: naming `where`, what is wrong (how many values, the first
      image index) and what would be valid.
  """
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images
  per_image = images.reshape(len(images), -1) if len(images) else images
  if np.issubdtype(images.dtype, np.integer):
    bad = np.any((per_image < 0) | (per_image > 255), axis=1)
    if bad.any():
      raise DataError(
          f'{where}: integer images must lie in [0, 255], but {int(bad.sum())} '
          f'images do not (the first is index {int(np.argmax(bad))}): store '
          'uint8, or floats in [0, 1]')
    return images.astype(np.uint8)
  if not np.issubdtype(images.dtype, np.floating):
    raise DataError(f'{where}: images of dtype {images.dtype} cannot be read: '
                    'expected uint8, or floats in [0, 1]')
  finite = np.isfinite(per_image)
  if not finite.all():
    rows = ~finite.all(axis=1)
    raise DataError(
        f'{where}: {int((~finite).sum())} pixel values are NaN or infinite, '
        f'in {int(rows.sum())} images (the first is index '
        f'{int(np.argmax(rows))}): remove or repair those images')
  outside = np.any((per_image < 0) | (per_image > 1), axis=1)
  if outside.any():
    largest = float(np.max(np.abs(per_image[outside])))
    raise DataError(
        f'{where}: float images must lie in [0, 1], but {int(outside.sum())} '
        f'images do not (the first is index {int(np.argmax(outside))}, values '
        f'up to {largest:g}): divide by 255, or store uint8')
  return images


def check_labels(labels: np.ndarray, count: int, where: str) -> np.ndarray:
  """Labels must be `count` integers >= 0 (returned as int32)."""
  labels = np.asarray(labels)
  if labels.shape != (count,) or not (
      np.issubdtype(labels.dtype, np.integer)
      or (np.issubdtype(labels.dtype, np.floating)
          and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))):
    raise DataError(f'{where}: labels of shape {labels.shape} and dtype '
                    f'{labels.dtype}: expected ({count},) whole numbers >= 0')
  if count and labels.min() < 0:
    raise DataError(f'{where}: label {labels.min()} at index '
                    f'{int(np.argmin(labels))} is negative: expected class '
                    'numbers 0, 1, ...')
  return labels.astype(np.int32)
