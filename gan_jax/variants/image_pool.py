"""A history of generated images, inside the jitted state (Shrivastava et al. 2017).

CycleGAN (Zhu et al. 2017) updates its discriminators with generated images
drawn from a pool of the last 50, not only the newest batch. Kept in Python,
such a pool forces a host round-trip every step; here it is a fixed-size array
and a fill count in the training state, updated by a `lax.scan` over the
batch with the same per-image rule as the reference implementation:

  while the pool is not full: store the image and return it;
  once full: with probability 1/2 return a random stored image and put the
  new one in its place, otherwise return the new image.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ImagePool:
  images: jax.Array   # (capacity, *image_shape)
  count: jax.Array    # int32 scalar: filled slots, at most capacity


def create(capacity: int, image_shape: tuple[int, ...],
           dtype=jnp.float32) -> ImagePool:
  """An empty pool for `capacity` images (0 disables it: `query` passes through)."""
  return ImagePool(images=jnp.zeros((capacity,) + tuple(image_shape), dtype),
                   count=jnp.zeros((), jnp.int32))


def query(pool: ImagePool, images: jax.Array,
          key: jax.Array) -> tuple[ImagePool, jax.Array]:
  """Returns (updated pool, a batch of stored or current images).

  Args:
    pool: the pool.
    images: the newest generated batch, (batch, *image_shape).
    key: PRNG key for the swap decisions and slots.
  """
  capacity = pool.images.shape[0]
  if capacity == 0:
    return pool, images

  def one(carry, inputs):
    stored, count = carry
    image, image_key = inputs
    swap_key, slot_key = jax.random.split(image_key)
    not_full = count < capacity
    swap = jax.random.uniform(swap_key) < 0.5
    random_slot = jax.random.randint(slot_key, (), 0, capacity)
    slot = jnp.where(not_full, count, random_slot)
    out = jnp.where(not_full | ~swap, image, stored[random_slot])
    keep = not_full | swap
    stored = stored.at[slot].set(jnp.where(keep, image, stored[slot]))
    return (stored, count + not_full.astype(jnp.int32)), out

  keys = jax.random.split(key, images.shape[0])
  (stored, count), out = jax.lax.scan(one, (pool.images, pool.count),
                                      (images, keys))
  return ImagePool(images=stored, count=count), out
