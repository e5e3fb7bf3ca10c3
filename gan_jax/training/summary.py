"""What a person looks at: TensorBoard scalars and images, PNG sample grids.

Only process 0 writes (multi-host runs share one workdir).
"""

from __future__ import annotations

import glob
import math
import os
import struct

import jax
import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, columns: int | None = None,
               padding: int = 2) -> np.ndarray:
  """Tiles (N, H, W, C) images in [-1, 1] into one uint8 (H', W', C) image."""
  images = np.asarray(images, np.float32)
  n, height, width, channels = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  grid = np.full((rows * (height + padding) + padding,
                  columns * (width + padding) + padding, channels), 255,
                 np.uint8)
  pixels = np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
  for i in range(n):
    top = padding + (i // columns) * (height + padding)
    left = padding + (i % columns) * (width + padding)
    grid[top:top + height, left:left + width] = pixels[i]
  return grid


def scatter_image(points: np.ndarray, reference: np.ndarray,
                  size: int = 384) -> np.ndarray:
  """Draws 2-D `points` (red) over `reference` points (grey) as RGB uint8."""
  limit = 1.25 * float(np.abs(reference).max())
  canvas = np.full((size, size, 3), 255, np.uint8)

  def draw(xy, colour):
    pixel = np.round((np.asarray(xy) / limit + 1.0) * 0.5 * (size - 1))
    pixel = pixel.astype(np.int64)
    inside = np.all((pixel >= 0) & (pixel < size), axis=1)
    col, row = pixel[inside, 0], size - 1 - pixel[inside, 1]
    for dr in (0, 1):
      for dc in (0, 1):
        canvas[np.clip(row + dr, 0, size - 1),
               np.clip(col + dc, 0, size - 1)] = colour

  draw(reference, (170, 170, 170))
  draw(points, (220, 30, 30))
  return canvas


def render_samples(samples: np.ndarray, reference: np.ndarray | None,
                   columns: int | None = None) -> np.ndarray:
  """One picture of generator output: a grid for images, a scatter for points."""
  samples = np.asarray(samples)
  if samples.ndim == 4:
    grid = image_grid(samples, columns)
    return grid[..., 0] if grid.shape[-1] == 1 else grid
  if samples.ndim == 2 and samples.shape[1] == 2:
    return scatter_image(samples, reference)
  raise ValueError(f'cannot draw samples of shape {samples.shape}')


def save_png(path: str, image: np.ndarray) -> None:
  """Writes a uint8 (H, W) or (H, W, 3) array; via a temp file, atomically."""
  tmp = path + '.tmp'
  Image.fromarray(image).save(tmp, format='PNG')
  os.replace(tmp, path)


class MetricWriter:
  """TensorBoard event files in `logdir`, written by process 0 only."""

  def __init__(self, logdir: str):
    self._writer = None
    if jax.process_index() == 0:
      import tensorboardX  # pylint: disable=g-import-not-at-top
      self._writer = tensorboardX.SummaryWriter(logdir)

  def write_scalars(self, step: int, scalars: dict[str, float]) -> None:
    """Finite values only (an infinite KL has no point on a curve)."""
    if self._writer:
      for name, value in scalars.items():
        if math.isfinite(float(value)):
          self._writer.add_scalar(name, float(value), step)

  def write_image(self, step: int, name: str, image: np.ndarray) -> None:
    if self._writer:
      self._writer.add_image(name, image, step,
                             dataformats='HW' if image.ndim == 2 else 'HWC')

  def flush(self) -> None:
    if self._writer:
      self._writer.flush()

  def close(self) -> None:
    if self._writer:
      self._writer.close()


def _events(logdir: str):
  """(file index, event) for each event in `logdir`'s TensorBoard files, in
  file order. Reads the TFRecord framing directly (length, crc, payload,
  crc) and stops a file at a record cut off by a kill."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  for index, path in enumerate(
      sorted(glob.glob(os.path.join(logdir, 'events.out.tfevents.*')))):
    with open(path, 'rb') as f:
      data = f.read()
    offset = 0
    while offset + 12 <= len(data):
      (length,) = struct.unpack('<Q', data[offset:offset + 8])
      payload = data[offset + 12:offset + 12 + length]
      offset += 12 + length + 4
      if len(payload) < length:
        break
      yield index, event_pb2.Event.FromString(payload)


def read_scalars(logdir: str) -> dict[str, dict[int, float]]:
  """{tag: {step: value}} from the TensorBoard event files in `logdir`;
  later files (a resumed run) override earlier values at the same step."""
  scalars: dict[str, dict[int, float]] = {}
  for _, event in _events(logdir):
    for value in event.summary.value:
      if value.HasField('simple_value'):
        scalars.setdefault(value.tag, {})[event.step] = value.simple_value
  return scalars


def training_seconds(logdir: str) -> float:
  """The wall time a run's scalars span: first to last scalar of each event
  file (one per start of the run), summed, so a run stopped and resumed
  later does not count the time it lay stopped. 0 without scalars."""
  spans: dict[int, list[float]] = {}
  for index, event in _events(logdir):
    if any(value.HasField('simple_value') for value in event.summary.value):
      span = spans.setdefault(index, [event.wall_time, event.wall_time])
      span[0], span[1] = min(span[0], event.wall_time), max(span[1],
                                                            event.wall_time)
  return sum(last - first for first, last in spans.values())
