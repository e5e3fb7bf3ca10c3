"""GAN objectives as pure functions of discriminator outputs (logits).

Every function takes raw discriminator outputs (logits for the sigmoid-based
losses, scores for the others) and returns a scalar to be *minimised*: the
discriminator's ascent on the GAN value is written as descent on its negation.
Means are over the batch; the discriminator losses sum their real and fake
terms, so the minimax discriminator loss at D = 1/2 everywhere is 2 log 2.

| name           | paper                                    |
| -------------- | ---------------------------------------- |
| minimax        | Goodfellow et al. 2014 (saturating G)    |
| non_saturating | Goodfellow et al. 2014, Sec. 3           |
| least_squares  | Mao et al. 2017 (LSGAN, a=0, b=c=1)      |
| hinge          | Lim & Ye 2017; Miyato et al. 2018        |
| wasserstein    | Arjovsky et al. 2017                     |

Penalties: `gradient_penalty` (WGAN-GP, Gulrajani et al. 2017) and
`r1_penalty` (Mescheder et al. 2018).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gan_jax.errors import check

Array = jax.Array


# --- minimax / non-saturating (Goodfellow et al. 2014) -----------------------

def minimax_discriminator_loss(real_logits: Array, fake_logits: Array,
                               label_smoothing: float = 0.0) -> Array:
  """-E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logits).

  Args:
    real_logits: discriminator logits on real data, any shape.
    fake_logits: discriminator logits on generated data, any shape.
    label_smoothing: one-sided label smoothing (Salimans et al. 2016): the
      real target becomes 1 - label_smoothing; fake targets stay 0.

  Returns:
    The scalar loss the discriminator minimises.
  """
  real_target = 1.0 - label_smoothing
  # log(1 - sigmoid(l)) = log_sigmoid(-l), stable for large |l|.
  real_term = -(real_target * jax.nn.log_sigmoid(real_logits)
                + (1.0 - real_target) * jax.nn.log_sigmoid(-real_logits))
  fake_term = -jax.nn.log_sigmoid(-fake_logits)
  return jnp.mean(real_term) + jnp.mean(fake_term)


def minimax_generator_loss(fake_logits: Array) -> Array:
  """E[log(1 - D(G(z)))]: the saturating generator loss of the minimax game."""
  return jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def non_saturating_generator_loss(fake_logits: Array) -> Array:
  """-E[log D(G(z))]: same fixed point, strong gradients early in training."""
  return -jnp.mean(jax.nn.log_sigmoid(fake_logits))


# --- least squares (Mao et al. 2017) -----------------------------------------

def least_squares_discriminator_loss(real_logits: Array,
                                     fake_logits: Array) -> Array:
  """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
  return (0.5 * jnp.mean(jnp.square(real_logits - 1.0))
          + 0.5 * jnp.mean(jnp.square(fake_logits)))


def least_squares_generator_loss(fake_logits: Array) -> Array:
  """1/2 E[(D(G(z)) - 1)^2]."""
  return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) -------------------------------

def hinge_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
  """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
  return (jnp.mean(jax.nn.relu(1.0 - real_logits))
          + jnp.mean(jax.nn.relu(1.0 + fake_logits)))


def hinge_generator_loss(fake_logits: Array) -> Array:
  """-E[D(G(z))]."""
  return -jnp.mean(fake_logits)


# --- Wasserstein (Arjovsky et al. 2017) --------------------------------------

def wasserstein_discriminator_loss(real_logits: Array,
                                   fake_logits: Array) -> Array:
  """E[D(G(z))] - E[D(x)]: the critic maximises the gap."""
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_generator_loss(fake_logits: Array) -> Array:
  """-E[D(G(z))]."""
  return -jnp.mean(fake_logits)


# --- reconstruction (CycleGAN, Zhu et al. 2017) -------------------------------

def l1_loss(x: Array, target: Array) -> Array:
  """E|x - target|: the cycle-consistency and identity losses."""
  return jnp.mean(jnp.abs(x - target))


# --- penalties ----------------------------------------------------------------

def _per_example_gradient_norm(critic_fn: Callable[[Array], Array],
                               x: Array) -> Array:
  # Summing the critic's outputs gives each example's own input gradient as
  # long as the critic treats examples independently (no batch norm).
  grads = jax.grad(lambda inputs: jnp.sum(critic_fn(inputs)))(x)
  return optax.safe_norm(grads.reshape(grads.shape[0], -1), 0.0, axis=1)


def gradient_penalty(critic_fn: Callable[[Array], Array], real: Array,
                     fake: Array, key: Array, target: float = 1.0) -> Array:
  """WGAN-GP: E[(||grad D(x_hat)|| - target)^2] (Gulrajani et al. 2017).

  x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per example
  (not per pixel), and the norm taken per example over all its dimensions.

  Args:
    critic_fn: maps a batch of inputs to per-example scores.
    real: a batch of real data.
    fake: a batch of generated data, same shape as `real`.
    key: PRNG key for the interpolation coefficients.
    target: the gradient norm the penalty pulls towards.

  Returns:
    The scalar penalty (multiply by lambda, e.g. 10, to add it to the loss).
  """
  eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  eps = jax.random.uniform(key, eps_shape, dtype=real.dtype)
  interpolates = eps * real + (1.0 - eps) * jax.lax.stop_gradient(fake)
  norms = _per_example_gradient_norm(critic_fn, interpolates)
  return jnp.mean(jnp.square(norms - target))


def r1_penalty(critic_fn: Callable[[Array], Array], real: Array) -> Array:
  """R1: E[||grad D(x)||^2] on real data (Mescheder et al. 2018).

  The paper's regulariser is gamma / 2 times this value.
  """
  norms = _per_example_gradient_norm(critic_fn, real)
  return jnp.mean(jnp.square(norms))


class GANLoss(NamedTuple):
  """A GAN objective: both players' losses on discriminator logits."""
  discriminator: Callable[..., Array]   # (real_logits, fake_logits) -> loss
  generator: Callable[[Array], Array]   # fake_logits -> loss
  # Maps logits to what is logged as D(x) and D(G(z)): a probability for the
  # sigmoid-based losses, the raw score otherwise.
  output: Callable[[Array], Array]


GAN_LOSSES: dict[str, GANLoss] = {
    'minimax': GANLoss(minimax_discriminator_loss, minimax_generator_loss,
                       jax.nn.sigmoid),
    'non_saturating': GANLoss(minimax_discriminator_loss,
                              non_saturating_generator_loss, jax.nn.sigmoid),
    'least_squares': GANLoss(least_squares_discriminator_loss,
                             least_squares_generator_loss, lambda x: x),
    'hinge': GANLoss(hinge_discriminator_loss, hinge_generator_loss,
                     lambda x: x),
    'wasserstein': GANLoss(wasserstein_discriminator_loss,
                           wasserstein_generator_loss, lambda x: x),
}

SMOOTHABLE = ('minimax', 'non_saturating')


def loss_config() -> ml_collections.ConfigDict:
  """`config.loss`: the GAN objective and its penalties."""
  return ml_collections.ConfigDict(dict(
      name='non_saturating',   # see GAN_LOSSES
      label_smoothing=0.0,     # one-sided, for minimax/non_saturating
      gradient_penalty_weight=0.0,  # WGAN-GP lambda (Gulrajani et al.: 10)
      r1_weight=0.0,           # R1 gamma (Mescheder et al. 2018)
  ))


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks `config.loss` (ConfigError naming the first bad field)."""
  loss = config.loss
  check(loss.name in GAN_LOSSES, 'loss.name', loss.name,
        f'one of {sorted(GAN_LOSSES)}')
  check(0.0 <= loss.label_smoothing < 1.0, 'loss.label_smoothing',
        loss.label_smoothing, 'a number in [0, 1)')
  for name in ('gradient_penalty_weight', 'r1_weight'):
    check(loss[name] >= 0, f'loss.{name}', loss[name], 'a number >= 0')
