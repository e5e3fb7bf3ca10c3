"""Losses against golden values computed here from the papers' formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.core import losses

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(16,)) * 3
FAKE = RNG.normal(size=(16,)) * 3


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def close(a, b):
  np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=1e-5,
                             atol=1e-6)


def test_minimax_discriminator_matches_formula():
  expected = (-np.mean(np.log(sigmoid(REAL)))
              - np.mean(np.log(1 - sigmoid(FAKE))))
  close(losses.minimax_discriminator_loss(REAL, FAKE), expected)


def test_minimax_discriminator_at_half_is_two_log_two():
  # D(x) = D(G(z)) = 1/2: -log(1/2) - log(1/2) = 2 log 2 (Goodfellow et al.).
  close(losses.minimax_discriminator_loss(jnp.zeros(8), jnp.zeros(8)),
        2 * np.log(2))


def test_one_sided_label_smoothing_matches_formula():
  s = 0.1
  d_real = sigmoid(REAL)
  expected = (-np.mean((1 - s) * np.log(d_real) + s * np.log(1 - d_real))
              - np.mean(np.log(1 - sigmoid(FAKE))))
  close(losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=s),
        expected)


def test_minimax_generator_matches_formula():
  close(losses.minimax_generator_loss(FAKE),
        np.mean(np.log(1 - sigmoid(FAKE))))


def test_non_saturating_generator_matches_formula():
  close(losses.non_saturating_generator_loss(FAKE),
        -np.mean(np.log(sigmoid(FAKE))))


def test_saturating_generator_gradient_vanishes_when_d_is_confident():
  # The reason for the non-saturating loss (Goodfellow et al. 2014, Sec. 3):
  # when D rejects fakes confidently, log(1 - D) has almost no gradient.
  confident_fake = jnp.full((4,), -10.0)
  saturating = jax.grad(losses.minimax_generator_loss)(confident_fake)
  non_saturating = jax.grad(losses.non_saturating_generator_loss)(
      confident_fake)
  assert np.all(np.abs(saturating) < 1e-4)
  assert np.all(np.abs(non_saturating) > 0.2)


def test_sigmoid_losses_stay_finite_for_extreme_logits():
  big = jnp.array([-200.0, 200.0])
  for value in (losses.minimax_discriminator_loss(big, big),
                losses.minimax_generator_loss(big),
                losses.non_saturating_generator_loss(big)):
    assert np.isfinite(value)


def test_least_squares_matches_formula():
  close(losses.least_squares_discriminator_loss(REAL, FAKE),
        0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2))
  close(losses.least_squares_generator_loss(FAKE),
        0.5 * np.mean((FAKE - 1) ** 2))


def test_hinge_matches_formula():
  close(losses.hinge_discriminator_loss(REAL, FAKE),
        np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)))
  close(losses.hinge_generator_loss(FAKE), -np.mean(FAKE))


def test_wasserstein_matches_formula():
  close(losses.wasserstein_discriminator_loss(REAL, FAKE),
        np.mean(FAKE) - np.mean(REAL))
  close(losses.wasserstein_generator_loss(FAKE), -np.mean(FAKE))


@pytest.mark.parametrize('name', sorted(losses.GAN_LOSSES))
def test_registry_losses_reward_the_right_player(name):
  """D's loss falls when it separates better; G's when D is fooled more."""
  loss = losses.GAN_LOSSES[name]
  # Real 1 / fake 0 are LSGAN's targets, and separate under every loss.
  separated = loss.discriminator(jnp.full(4, 1.0), jnp.full(4, 0.0))
  confused = loss.discriminator(jnp.full(4, 0.5), jnp.full(4, 0.2))
  assert separated < confused
  assert loss.generator(jnp.full(4, 1.0)) < loss.generator(jnp.full(4, -1.0))


def _linear_critic(w):
  return lambda x: jnp.sum(x.reshape(x.shape[0], -1) * w.reshape(-1), axis=1)


def test_gradient_penalty_of_unit_norm_linear_critic_is_zero():
  w = RNG.normal(size=(4, 4, 2))
  w /= np.linalg.norm(w)
  real = jnp.asarray(RNG.normal(size=(8, 4, 4, 2)), jnp.float32)
  fake = jnp.asarray(RNG.normal(size=(8, 4, 4, 2)), jnp.float32)
  gp = losses.gradient_penalty(_linear_critic(jnp.asarray(w, jnp.float32)),
                               real, fake, jax.random.PRNGKey(0))
  assert abs(float(gp)) < 1e-10


def test_gradient_penalty_of_linear_critic_with_norm_three_is_four():
  w = RNG.normal(size=(6,))
  w *= 3 / np.linalg.norm(w)
  real = jnp.asarray(RNG.normal(size=(5, 6)), jnp.float32)
  gp = losses.gradient_penalty(_linear_critic(jnp.asarray(w, jnp.float32)),
                               real, real, jax.random.PRNGKey(1))
  close(gp, (3.0 - 1.0) ** 2)


def test_gradient_penalty_uses_one_coefficient_and_norm_per_example():
  # Quadratic critic 0.5 |x|^2 has gradient x: with real = +1 and fake = -1
  # the gradient at x_hat = eps real + (1 - eps) fake has norm
  # sqrt(D) |2 eps - 1| if eps is drawn once per example.
  shape = (6, 3, 3, 2)
  dim = 3 * 3 * 2
  key = jax.random.PRNGKey(3)
  gp = losses.gradient_penalty(lambda x: 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3)),
                               jnp.ones(shape), -jnp.ones(shape), key)
  eps = np.asarray(jax.random.uniform(key, (6, 1, 1, 1))).reshape(-1)
  norms = np.sqrt(dim) * np.abs(2 * eps - 1)
  close(gp, np.mean((norms - 1) ** 2))


def test_r1_penalty_matches_formula():
  x = jnp.asarray(RNG.normal(size=(7, 5)), jnp.float32)
  # Critic 0.5 |x|^2 -> gradient x -> E |x|^2.
  close(losses.r1_penalty(lambda v: 0.5 * jnp.sum(v ** 2, axis=1), x),
        np.mean(np.sum(np.asarray(x, np.float64) ** 2, axis=1)))
  w = jnp.asarray(RNG.normal(size=(5,)), jnp.float32)
  close(losses.r1_penalty(_linear_critic(w), x), float(jnp.sum(w ** 2)))
