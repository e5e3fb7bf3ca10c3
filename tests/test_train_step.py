"""The shared train step: what it updates, in which order, and how often."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from conftest import load_config, tiny_dcgan_config
from gan_jax.data import batching
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import optim
from gan_jax.core import state as state_lib
from gan_jax.core import train_step as train_step_lib


@pytest.fixture(scope='module')
def experiment():
  return experiment_lib.setup(tiny_dcgan_config())


def first_batch(exp):
  return next(batching.batches(exp.dataset, exp.step_batch_size,
                               exp.config.seed))


def make_step(exp, **kw):
  return jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx,
                                                **kw))


def tree_allclose(a, b, atol=1e-6):
  return all(np.allclose(x, y, atol=atol)
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def reference_d_update(exp, state, batch):
  """The step's one D update by plain jax.grad (k = 1): (generator key,
  generator-loss key, G's batch statistics after its forward pass, D's new
  parameters and batch statistics)."""
  # The step's key is split into one key per discriminator update (k = 1).
  (last_key,) = jax.random.split(jax.random.fold_in(state.rng, state.step), 1)
  gen_key, d_key, g_key = jax.random.split(last_key, 3)
  _, d_key = jax.random.split(d_key)   # (discriminator_inputs key, loss key)
  g, d = state.generator, state.discriminator
  fake, g_model_state = exp.gan.generate(g.params, g.model_state, batch,
                                         gen_key)
  d_grads, (d_model_state, _) = jax.grad(
      lambda p: exp.gan.discriminator_loss(p, d.model_state, fake, batch,
                                           d_key), has_aux=True)(d.params)
  d_updates, _ = exp.d_tx.update(d_grads, d.opt_state, d.params)
  return (gen_key, g_key, g_model_state,
          optax.apply_updates(d.params, d_updates), d_model_state)


def test_one_step_updates_both_sides_and_both_optimizer_states(experiment):
  state = experiment.initial_state
  new_state, metrics = make_step(experiment)(state, first_batch(experiment))
  assert int(new_state.step) == 1
  for side in ('generator', 'discriminator'):
    old, new = getattr(state, side), getattr(new_state, side)
    # Every parameter array moved, and the batch statistics too.
    for before, after in zip(jax.tree.leaves(old.params),
                             jax.tree.leaves(new.params)):
      assert not np.allclose(before, after), side
    assert not tree_allclose(old.model_state, new.model_state), side
    assert int(new.opt_state.inner_state[0].count) == 1, side
    assert not tree_allclose(old.opt_state, new.opt_state), side
  for name in ('d_loss', 'g_loss', 'd_real', 'd_fake', 'd_grad_norm',
               'g_grad_norm', 'g_learning_rate', 'd_learning_rate'):
    assert np.isfinite(metrics[name]), name
  assert 0.0 < float(metrics['d_real']) < 1.0  # a probability for NS loss


@pytest.mark.parametrize('update_order', ['alternating', 'simultaneous'])
def test_generator_update_sees_the_discriminator_of_its_update_order(
    experiment, update_order):
  """Reference: D update, then G's gradient by plain jax.grad through G,
  against the updated D (alternating) or the D the step started from
  (simultaneous: ALI's and PacGAN's 2-D code). D's update is the same."""
  exp, state = experiment, experiment.initial_state
  batch = first_batch(exp)
  new_state, _ = make_step(exp, update_order=update_order)(state, batch)
  gen_key, g_key, g_model_state, d_params, d_model_state = (
      reference_d_update(exp, state, batch))
  g, d = state.generator, state.discriminator
  seen_params, seen_state = ((d_params, d_model_state)
                             if update_order == 'alternating'
                             else (d.params, d.model_state))

  def g_params_after(d_params_seen, d_state_seen):
    def generator_objective(g_params):
      outputs, _ = exp.gan.generate(g_params, g.model_state, batch, gen_key)
      return exp.gan.generator_loss(d_params_seen, d_state_seen, outputs,
                                    batch, g_key)[0]
    g_grads = jax.grad(generator_objective)(g.params)
    g_updates, _ = exp.g_tx.update(g_grads, g.opt_state, g.params)
    return optax.apply_updates(g.params, g_updates)

  assert tree_allclose(new_state.discriminator.params, d_params, atol=1e-5)
  assert tree_allclose(new_state.generator.params,
                       g_params_after(seen_params, seen_state), atol=1e-5)
  assert tree_allclose(new_state.generator.model_state, g_model_state)
  # The two orders give different generators, so the check above can fail.
  other = ((d.params, d.model_state) if update_order == 'alternating'
           else (d_params, d_model_state))
  assert not tree_allclose(new_state.generator.params,
                           g_params_after(*other), atol=1e-5)


def test_an_unknown_update_order_is_refused(experiment):
  # A misspelt order must not silently train alternating.
  with pytest.raises(ValueError, match="update_order='simultanous'"):
    train_step_lib.make_train_step(experiment.gan, experiment.g_tx,
                                   experiment.d_tx, update_order='simultanous')


def test_generator_forward_pass_runs_once_per_step(experiment):
  exp = experiment
  calls = []
  original = exp.gan.generate

  def counting_generate(*args):
    calls.append(1)
    return original(*args)

  exp.gan.generate = counting_generate
  try:
    step = train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx)
    jax.jit(step).lower(exp.initial_state, first_batch(exp))
  finally:
    exp.gan.generate = original
  assert len(calls) == 1


def test_k_discriminator_updates_per_generator_update():
  config = tiny_dcgan_config(d_steps_per_g_step=3)
  exp = experiment_lib.setup(config)
  batch = first_batch(exp)
  assert batch['x'].shape[0] == 3 * config.batch_size
  new_state, _ = make_step(exp, d_steps_per_g_step=3)(exp.initial_state,
                                                      batch)
  assert int(new_state.discriminator.opt_state.inner_state[0].count) == 3
  assert int(new_state.generator.opt_state.inner_state[0].count) == 1
  # The learning-rate schedule of D counts k updates per train step.
  assert int(new_state.discriminator.opt_state.count) == 3


def test_n_generator_updates_per_discriminator_update():
  """g_steps_per_d_step = 2 (DCGAN-tensorflow's "run g_optim twice"): after
  the D update, two G updates against that D, the second on a fresh forward
  pass of the updated G from the same latents, each with its loss key."""
  exp = experiment_lib.setup(tiny_dcgan_config(g_steps_per_d_step=2))
  state, batch = exp.initial_state, first_batch(exp)
  new_state, _ = make_step(exp, g_steps_per_d_step=2)(state, batch)
  assert int(new_state.generator.opt_state.inner_state[0].count) == 2
  assert int(new_state.discriminator.opt_state.inner_state[0].count) == 1

  gen_key, g_key, g_model_state, d_params, d_model_state = (
      reference_d_update(exp, state, batch))
  g = state.generator
  g_params, g_opt_state = g.params, g.opt_state
  for i, key in enumerate(jax.random.split(g_key, 2)):
    if i:   # the second forward pass updates G's batch statistics again
      _, g_model_state = exp.gan.generate(g_params, g_model_state, batch,
                                          gen_key)

    def generator_objective(params, key=key):
      outputs, _ = exp.gan.generate(params, g.model_state, batch, gen_key)
      return exp.gan.generator_loss(d_params, d_model_state, outputs, batch,
                                    key)[0]
    g_grads = jax.grad(generator_objective)(g_params)
    updates, g_opt_state = exp.g_tx.update(g_grads, g_opt_state, g_params)
    g_params = optax.apply_updates(g_params, updates)
  assert tree_allclose(new_state.generator.model_state, g_model_state)
  assert tree_allclose(new_state.discriminator.params, d_params, atol=1e-5)
  assert tree_allclose(new_state.generator.params, g_params, atol=1e-5)
  one_update, _ = make_step(exp)(state, batch)
  assert not tree_allclose(one_update.generator.params, g_params)
  # The generator's learning-rate schedule spans its n updates per step.
  assert int(new_state.generator.opt_state.count) == 2


@pytest.mark.parametrize('distribution', ['normal', 'uniform'])
def test_latent_distribution(distribution):
  exp = experiment_lib.setup(tiny_dcgan_config(
      **{'model.latent_distribution': distribution}))
  z = np.asarray(exp.gan.sample_inputs(jax.random.PRNGKey(0), 4096)['z'])
  if distribution == 'uniform':     # U(-1, 1): variance 1/3
    assert z.min() >= -1.0 and z.max() <= 1.0
    np.testing.assert_allclose(z.var(), 1 / 3, rtol=0.02)
  else:                             # N(0, I)
    assert np.abs(z).max() > 3.0
    np.testing.assert_allclose(z.var(), 1.0, rtol=0.02)


def test_step_is_deterministic_and_its_noise_depends_on_the_step(experiment):
  exp = experiment
  step = make_step(exp)
  batch = first_batch(exp)
  a, _ = step(exp.initial_state, batch)
  b, _ = step(exp.initial_state, batch)
  c, _ = step(exp.initial_state.replace(step=jnp.int32(5)), batch)
  assert tree_allclose(a.generator.params, b.generator.params, atol=0)
  assert not tree_allclose(a.generator.params, c.generator.params)


def test_initialisation_compiled_once_equals_the_default_compile():
  # jit_once compiles initialisation at LLVM -O2 on the CPU, for a compile
  # several times shorter; the initial state must be the same bit for bit.
  exp = experiment_lib.setup(load_config('mode_collapse_2d', 'pack=2'))
  batch = first_batch(exp)
  create = state_lib.initializer(exp.gan, exp.g_tx, exp.d_tx,
                                 exp.config.ema_decay)
  reference = jax.jit(create)(jax.random.PRNGKey(exp.config.seed), batch)
  leaves = jax.tree.leaves(exp.initial_state)
  assert len(leaves) == len(jax.tree.leaves(reference)) > 10
  for x, y in zip(leaves, jax.tree.leaves(reference)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_generator_ema():
  decay = 0.9
  exp = experiment_lib.setup(tiny_dcgan_config(ema_decay=decay))
  state = exp.initial_state
  assert tree_allclose(state.ema_params, state.generator.params, atol=0)
  new_state, _ = make_step(exp, ema_decay=decay)(state, first_batch(exp))
  expected = jax.tree.map(lambda old, new: decay * old + (1 - decay) * new,
                          state.ema_params, new_state.generator.params)
  assert tree_allclose(new_state.ema_params, expected)
  assert state_lib.sample_params(new_state) is new_state.ema_params


def test_linear_decay_schedule_values():
  config = ml_collections.ConfigDict(dict(
      learning_rate=2e-4, schedule='linear_decay', decay_start_fraction=0.5,
      warmup_steps=0))
  schedule = optim.learning_rate_schedule(config, num_updates=200)
  np.testing.assert_allclose(
      [schedule(0), schedule(100), schedule(150), schedule(200)],
      [2e-4, 2e-4, 1e-4, 0.0], atol=1e-12)


def test_warmup_then_constant_schedule_values():
  config = ml_collections.ConfigDict(dict(
      learning_rate=1e-3, schedule='constant', decay_start_fraction=0.5,
      warmup_steps=10))
  schedule = optim.learning_rate_schedule(config, num_updates=100)
  np.testing.assert_allclose([schedule(0), schedule(5), schedule(10),
                              schedule(99)], [0.0, 5e-4, 1e-3, 1e-3],
                             atol=1e-12)


def test_vanilla_gan_step_on_points_with_wgan_gp():
  config = load_config('vanilla', 'loss=wasserstein')
  config.batch_size = 32
  config.loss.gradient_penalty_weight = 10.0
  config.model.g_hidden = (16,)
  config.model.d_hidden = (16,)
  config.dataset.num_examples = 256
  exp = experiment_lib.setup(config)
  new_state, metrics = make_step(exp)(exp.initial_state, first_batch(exp))
  assert float(metrics['gradient_penalty']) > 0
  assert not tree_allclose(exp.initial_state.generator.params,
                           new_state.generator.params)
