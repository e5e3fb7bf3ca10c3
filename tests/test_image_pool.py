"""The image history pool: only stored or current images, swaps at 1/2, jits."""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.variants import image_pool

query = jax.jit(image_pool.query)


def batch(start, size=4):
  """Images whose every pixel is their own id: easy to trace."""
  ids = jnp.arange(start, start + size, dtype=jnp.float32)
  return jnp.broadcast_to(ids[:, None, None, None], (size, 2, 2, 1))


def ids(images):
  return np.asarray(images[:, 0, 0, 0]).astype(int).tolist()


def test_pool_fills_first_and_returns_the_current_images():
  pool = image_pool.create(6, (2, 2, 1))
  pool, out = query(pool, batch(0), jax.random.PRNGKey(0))
  assert ids(out) == [0, 1, 2, 3] and int(pool.count) == 4
  pool, out = query(pool, batch(10), jax.random.PRNGKey(1))
  # Two slots were free: images 10 and 11 are stored and returned as they are.
  assert ids(out)[:2] == [10, 11] and int(pool.count) == 6
  assert sorted(ids(pool.images)) == [0, 1, 2, 3, 10, 11]


def test_full_pool_returns_only_stored_or_current_and_swaps_half():
  pool = image_pool.create(50, (2, 2, 1))
  pool, _ = query(pool, batch(0, 50), jax.random.PRNGKey(0))
  from_pool = 0
  for step in range(40):
    before = set(ids(pool.images))
    new = batch(1000 + 4 * step)
    pool, out = query(pool, new, jax.random.PRNGKey(step + 1))
    for i, image_id in enumerate(ids(out)):
      assert image_id == ids(new)[i] or image_id in before
      from_pool += image_id != ids(new)[i]
    assert int(pool.count) == 50
  # 160 queries with swap probability 1/2: 80 expected, sd ~6.3.
  assert 55 < from_pool < 105


def test_full_pool_conserves_images():
  """Each image is either returned or kept: pool + out == old pool + new."""
  pool = image_pool.create(5, (2, 2, 1))
  pool, _ = query(pool, batch(0, 5), jax.random.PRNGKey(0))
  for step in range(10):
    new = batch(100 + 8 * step, 8)
    before = ids(pool.images)
    pool, out = query(pool, new, jax.random.PRNGKey(step + 1))
    assert sorted(ids(pool.images) + ids(out)) == sorted(before + ids(new))


def test_zero_capacity_passes_through():
  pool = image_pool.create(0, (2, 2, 1))
  pool, out = image_pool.query(pool, batch(7), jax.random.PRNGKey(0))
  assert ids(out) == [7, 8, 9, 10]
