"""The one train step every variant shares.

`make_train_step` returns `train_step(state, batch) -> (state, metrics)`:

  1. key = fold_in(state.rng, state.step): a resumed run continues the same
     random stream.
  2. k - 1 discriminator-only updates (`d_steps_per_g_step = k`), each on its
     own slice of the batch with freshly generated samples (Goodfellow et al.
     2014, Algorithm 1; WGAN's n_critic).
  3. One generator forward pass, kept with its VJP (`jax.vjp`).
  4. The k-th discriminator update on those generated samples (as the
     variant's `discriminator_inputs` passes them, e.g. through image pools).
  5. The generator update: the generator loss is evaluated with the
     discriminator *after* its update in this step (`update_order=
     'alternating'`, as in pytorch/examples' DCGAN and Goodfellow et al.'s
     alternation) or *before* it (`'simultaneous'`: both updates from the
     same discriminator, as ALI's `ali_algorithm` that PacGAN's 2-D code
     runs), differentiated with respect to the generated samples and pulled
     back through the VJP of step 3, so the generator's forward pass is not
     recomputed.
  6. n - 1 further generator updates (`g_steps_per_d_step = n`), each on a
     fresh forward pass of the updated generator from the same latents and
     labels (DCGAN-tensorflow's "run g_optim twice", which PacGAN's Stacked
     MNIST code of VEEGAN's setup keeps).
  7. The generator EMA after each generator update, when `ema_decay` > 0.

The variant (see `gan_jax.variants.base`) supplies the networks and the two
objectives; the state is `gan_jax.core.state.GANState`.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax.core import optim
from gan_jax.core.state import GANState, NetworkState
from gan_jax.core.switches import is_enabled

Metrics = dict[str, jax.Array]
# When the generator's loss sees the discriminator (step 5 above).
UPDATE_ORDERS = ('alternating', 'simultaneous')


def scan(f, init, xs):
  """`jax.lax.scan(f, init, xs)`, compiled the fast way for this backend.

  XLA:CPU runs convolutions inside a while loop (what `lax.scan` lowers to,
  even with a trip count of one) many times slower than the same program
  without the loop: the DCGAN 28 px batch-128 step took 6.0 s instead of
  0.20 s (experiments/scan_benchmark.py). On CPU the loop is therefore
  unrolled (compile time grows with its length), and a length-1 loop is a
  plain call everywhere; other backends keep the loop.
  """
  length = len(jax.tree.leaves(xs)[0])
  if length == 1:
    carry, y = f(init, jax.tree.map(lambda x: x[0], xs))
    return carry, jax.tree.map(lambda v: v[None], y)
  unroll = True if jax.default_backend() == 'cpu' else 1
  return jax.lax.scan(f, init, xs, unroll=unroll)


def make_train_step(gan, g_tx: optax.GradientTransformation,
                    d_tx: optax.GradientTransformation, *,
                    d_steps_per_g_step: int = 1, g_steps_per_d_step: int = 1,
                    ema_decay: float = 0.0,
                    update_order: str = 'alternating'
                    ) -> Callable[[GANState, dict], tuple[GANState, Metrics]]:
  """Builds the train step (not jitted: the caller jits, vmaps or shards it).

  Args:
    gan: a variant (see `gan_jax.variants.base`).
    g_tx: the generator side's optimizer.
    d_tx: the discriminator side's optimizer.
    d_steps_per_g_step: k discriminator updates per generator update. The
      batch passed to the step holds k minibatches along its leading axis
      (batch size k * B), one per discriminator update.
    g_steps_per_d_step: n generator updates after the step's last
      discriminator update, all on the same minibatch and latents.
    ema_decay: decay of the generator EMA; 0 disables it.
    update_order: 'alternating': the generator's loss sees the discriminator
      after this step's update; 'simultaneous': before it, so that both
      gradients come from the same discriminator.

  Returns:
    `train_step(state, batch) -> (new_state, metrics)`, pure. The metrics of
    the discriminator are those of its last (k-th) update, those of the
    generator of its last (n-th).
  """
  if update_order not in UPDATE_ORDERS:
    raise ValueError(f'update_order={update_order!r}: expected one of '
                     f'{list(UPDATE_ORDERS)}')
  k, n = d_steps_per_g_step, g_steps_per_d_step

  def discriminator_update(d: NetworkState, outputs, batch, key):
    def loss_fn(params):
      return gan.discriminator_loss(params, d.model_state, outputs, batch, key)

    (loss, (model_state, metrics)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(d.params)
    updates, opt_state = d_tx.update(grads, d.opt_state, d.params)
    d = NetworkState(params=optax.apply_updates(d.params, updates),
                     model_state=model_state, opt_state=opt_state)
    return d, {'d_loss': loss, 'd_grad_norm': optax.global_norm(grads),
               **metrics}

  def train_step(state: GANState, batch: dict) -> tuple[GANState, Metrics]:
    key = jax.random.fold_in(state.rng, state.step)
    minibatches = jax.tree.map(
        lambda x: x.reshape((k, x.shape[0] // k) + x.shape[1:]), batch)
    *d_only_keys, last_key = jax.random.split(key, k)
    g, d = state.generator, state.discriminator
    g_model_state, variant_state = g.model_state, state.variant_state

    def d_update_on(d, variant_state, outputs, minibatch, key):
      # The variant decides what D sees of G's outputs (CycleGAN: its pools).
      inputs_key, d_key = jax.random.split(key)
      d_outputs, variant_state = gan.discriminator_inputs(
          variant_state, jax.lax.stop_gradient(outputs), inputs_key)
      d, metrics = discriminator_update(d, d_outputs, minibatch, d_key)
      return d, variant_state, metrics

    if k > 1:  # discriminator-only updates, each with fresh samples
      def d_only_update(carry, inputs):
        g_model_state, d, variant_state = carry
        minibatch, step_key = inputs
        gen_key, d_key = jax.random.split(step_key)
        outputs, g_model_state = gan.generate(g.params, g_model_state,
                                              minibatch, gen_key)
        d, variant_state, _ = d_update_on(d, variant_state, outputs,
                                          minibatch, d_key)
        return (g_model_state, d, variant_state), None

      (g_model_state, d, variant_state), _ = scan(
          d_only_update, (g_model_state, d, variant_state),
          (jax.tree.map(lambda x: x[:-1], minibatches),
           jnp.stack(d_only_keys)))

    minibatch = jax.tree.map(lambda x: x[-1], minibatches)
    gen_key, d_key, g_key = jax.random.split(last_key, 3)

    def generate_from(model_state):
      return lambda params: gan.generate(params, model_state, minibatch,
                                         gen_key)

    outputs, generator_vjp, g_model_state = jax.vjp(
        generate_from(g_model_state), g.params, has_aux=True)
    d_before = d
    d, variant_state, d_metrics = d_update_on(d, variant_state, outputs,
                                              minibatch, d_key)
    d_for_g = d_before if update_order == 'simultaneous' else d

    ema_params = state.ema_params
    g_keys = [g_key] if n == 1 else list(jax.random.split(g_key, n))
    for i, key in enumerate(g_keys):
      if i:  # a fresh forward pass of the updated G, same latents and labels
        outputs, generator_vjp, g_model_state = jax.vjp(
            generate_from(g_model_state), g.params, has_aux=True)

      # The generator sees the discriminator after this step's update
      # (alternating) or before it (simultaneous).
      def g_loss_fn(outputs, key=key):
        return gan.generator_loss(d_for_g.params, d_for_g.model_state,
                                  outputs, minibatch, key)

      (g_loss, g_metrics), output_grads = jax.value_and_grad(
          g_loss_fn, has_aux=True, allow_int=True)(outputs)
      (g_grads,) = generator_vjp(output_grads)
      updates, g_opt_state = g_tx.update(g_grads, g.opt_state, g.params)
      g = NetworkState(params=optax.apply_updates(g.params, updates),
                       model_state=g_model_state, opt_state=g_opt_state)
      if is_enabled(ema_decay):
        ema_params = optax.incremental_update(g.params, ema_params,
                                              step_size=1.0 - ema_decay)

    metrics = {**d_metrics, **g_metrics, 'g_loss': g_loss,
               'g_grad_norm': optax.global_norm(g_grads),
               'g_learning_rate': optim.learning_rate(g.opt_state),
               'd_learning_rate': optim.learning_rate(d.opt_state)}
    new_state = state.replace(step=state.step + 1, generator=g,
                              discriminator=d, ema_params=ema_params,
                              variant_state=variant_state)
    return new_state, metrics

  return train_step


def make_train_step_for(gan, g_tx: optax.GradientTransformation,
                        d_tx: optax.GradientTransformation, config):
  """`make_train_step` with the update counts and EMA of a run's config."""
  return make_train_step(gan, g_tx, d_tx,
                         d_steps_per_g_step=config.d_steps_per_g_step,
                         g_steps_per_d_step=config.g_steps_per_d_step,
                         ema_decay=config.ema_decay,
                         update_order=config.update_order)


def scan_steps(train_step: Callable[[GANState, dict],
                                    tuple[GANState, Metrics]]):
  """Several train steps in one dispatch: `lax.scan` over stacked batches.

  `multi_step(state, batches)` with every leaf of `batches` of shape
  (n, ...) runs `train_step` n times inside one compiled program and returns
  the final state and each step's metrics stacked along a leading n axis.
  The result equals n calls of `train_step`; only the per-call overhead of
  the host (dispatch, Python) is paid once (`config.steps_per_dispatch`).
  """
  def multi_step(state: GANState, batches: dict) -> tuple[GANState, Metrics]:
    return scan(train_step, state, batches)

  return multi_step
