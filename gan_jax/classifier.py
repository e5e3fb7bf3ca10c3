"""A small CNN classifier that gan_jax trains itself, to judge samples.

It labels generated images for the conditional GAN's conditional accuracy
(and, later, domain features for FID-like metrics) without any downloaded
weights. Two 3x3 conv layers with max-pooling and a dense layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class SmallCNN(nn.Module):
  """(N, H, W, C) in [-1, 1] -> (N, num_classes) logits."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = nn.max_pool(nn.relu(nn.Conv(32, (3, 3))(x)), (2, 2), (2, 2))
    x = nn.max_pool(nn.relu(nn.Conv(64, (3, 3))(x)), (2, 2), (2, 2))
    x = nn.relu(nn.Dense(128)(x.reshape((x.shape[0], -1))))
    return nn.Dense(self.num_classes)(x)


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int,
                     steps: int = 1500, batch_size: int = 128,
                     seed: int = 0) -> tuple[SmallCNN, dict]:
  """Trains SmallCNN with Adam(1e-3) and small random shifts (2 px).

  Returns:
    (model, params).
  """
  model = SmallCNN(num_classes)
  key = jax.random.PRNGKey(seed)
  params = jax.jit(model.init)(key, jnp.zeros((1,) + images.shape[1:]))
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, x, y, i):
    shift = jax.random.randint(jax.random.fold_in(key, i), (2,), -2, 3)
    x = jnp.roll(x, shift, axis=(1, 2))

    def loss_fn(params):
      logits = model.apply(params, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  rng = np.random.default_rng(seed)
  for i in range(steps):
    idx = rng.integers(0, len(images), batch_size)
    params, opt_state = step(params, opt_state, images[idx], labels[idx], i)
  return model, params


def predict(model: SmallCNN, params, images: np.ndarray,
            batch_size: int = 1000) -> np.ndarray:
  """Predicted class of every image."""
  apply = jax.jit(lambda x: jnp.argmax(model.apply(params, x), -1))
  return np.concatenate([np.asarray(apply(images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])
