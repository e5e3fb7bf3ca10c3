"""Turning any image into what the models read, and examples into model inputs."""

from __future__ import annotations

from typing import Any

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


def to_model_inputs(example: Example) -> Example:
  """uint8 images -> float32 `x` in [-1, 1]; points and labels pass through."""
  if 'image' not in example:
    return example
  out = {key: value for key, value in example.items() if key != 'image'}
  out['x'] = example['image'].astype(np.float32) / 127.5 - 1.0
  return out
