"""CycleGAN: networks, losses, the four-network step, pools, runs, resume."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import apply_overrides, load_config, without_monitoring
from gan_jax.training import checkpoint
from gan_jax import config_lib
from gan_jax.data import batching
from gan_jax.data import sources
from gan_jax.data.sources import digits
from gan_jax import models
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.core import optim
from gan_jax.core import train_step as train_step_lib


def tiny_cyclegan_config(**overrides):
  config = without_monitoring(load_config('cyclegan', 'features=8'))
  config.batch_size = 2
  config.num_train_steps = 4
  config.log_every_steps = 2
  config.checkpoint_every_steps = 2
  config.sample_every_steps = 4
  config.num_samples = 3
  config.pool_size = 3
  config.model.num_blocks = 1
  return apply_overrides(config, overrides)


@pytest.mark.parametrize('res,blocks,patches', [(32, 6, 2), (64, 6, 6),
                                                (256, 9, 30)])
def test_network_shapes_and_block_rule(res, blocks, patches):
  config = tiny_cyclegan_config().model
  config.num_blocks = 0
  g, d = models.build(config, (res, res, 3))
  assert g.num_blocks == blocks
  x = jnp.zeros((1, res, res, 3))
  g_shape = jax.eval_shape(lambda: g.init_with_output(jax.random.PRNGKey(0),
                                                      x)[0])
  d_shape = jax.eval_shape(lambda: d.init_with_output(jax.random.PRNGKey(0),
                                                      x)[0])
  assert g_shape.shape == (1, res, res, 3)
  assert d_shape.shape == (1, patches, patches)   # 70x70 PatchGAN: 30x30 @256


def test_cycle_and_identity_losses_match_hand_computation():
  exp = experiment_lib.setup(tiny_cyclegan_config())
  gan = exp.gan
  rng = np.random.default_rng(0)
  batch = {k: jnp.asarray(rng.uniform(-1, 1, (2, 32, 32, 1)), jnp.float32)
           for k in ('a', 'b')}
  outputs = {k: jnp.asarray(rng.uniform(-1, 1, (2, 32, 32, 1)), jnp.float32)
             for k in ('fake_a', 'fake_b', 'rec_a', 'rec_b', 'idt_a', 'idt_b')}
  loss, metrics = gan.generator_loss(exp.initial_state.discriminator.params,
                                     {}, outputs, batch, None)
  a, b = np.asarray(batch['a']), np.asarray(batch['b'])
  o = {k: np.asarray(v) for k, v in outputs.items()}
  cycle = np.mean(np.abs(o['rec_a'] - a)) + np.mean(np.abs(o['rec_b'] - b))
  identity = np.mean(np.abs(o['idt_b'] - b)) + np.mean(np.abs(o['idt_a'] - a))
  np.testing.assert_allclose(metrics['cycle_loss'], cycle, rtol=1e-5)
  np.testing.assert_allclose(metrics['identity_loss'], identity, rtol=1e-5)
  np.testing.assert_allclose(
      loss, metrics['g_adversarial_loss'] + 10 * cycle + 0.5 * 10 * identity,
      rtol=1e-5)


def test_one_step_updates_all_four_networks_their_optimizers_and_pools():
  exp = experiment_lib.setup(tiny_cyclegan_config())
  batch = next(batching.batches(exp.dataset, exp.step_batch_size, 0))
  state = exp.initial_state
  new, metrics = jax.jit(train_step_lib.make_train_step(
      exp.gan, exp.g_tx, exp.d_tx))(state, batch)
  for side, names in (('generator', ('G', 'F')),
                      ('discriminator', ('D_A', 'D_B'))):
    for name in names:
      before = jax.tree.leaves(getattr(state, side).params[name])
      after = jax.tree.leaves(getattr(new, side).params[name])
      assert all(not np.allclose(x, y) for x, y in zip(before, after)), name
    assert int(getattr(new, side).opt_state.inner_state[0].count) == 1
  assert int(new.variant_state['pool_a'].count) == 2
  assert int(new.variant_state['pool_b'].count) == 2
  assert all(np.isfinite(metrics[k]) for k in ('d_loss', 'g_loss',
                                               'cycle_loss'))


def test_learning_rate_is_constant_then_decays_linearly_to_zero():
  config = load_config('cyclegan')
  config.num_train_steps = 200
  g_tx, _ = optim.make_optimizers(config)
  schedule = optim.learning_rate_schedule(
      config.optimizer.generator, config.num_train_steps)
  np.testing.assert_allclose([schedule(0), schedule(100), schedule(150),
                              schedule(200)], [2e-4, 2e-4, 1e-4, 0.0],
                             atol=1e-12)
  assert g_tx is not None


def test_embedded_task_domains_are_disjoint_and_test_split_is_paired():
  config = load_config('cyclegan').dataset
  train_set = sources.load_dataset(config)
  a = train_set.domains['a'].arrays['image']
  b = train_set.domains['b'].arrays['image']
  assert len(a) == len(b) == 800
  # B is the transform of *other* digits: no A image maps onto its partner.
  transformed = digits.digit_transform(a)
  assert not any(np.array_equal(transformed[i], b[i]) for i in range(800))
  config.split = 'test'
  test_set = sources.load_dataset(config)
  np.testing.assert_array_equal(
      digits.digit_transform(test_set.domains['a'].arrays['image']),
      test_set.domains['b'].arrays['image'])


class _Interrupted(Exception):
  pass


def test_cyclegan_run_writes_checkpoint_and_grid_and_resumes(tmp_path,
                                                             monkeypatch):
  """A 6-step run stopped after its step-4 checkpoint and resumed equals an
  uninterrupted 6-step run: pools, both optimizers and the decaying
  learning rate all continue."""
  config = tiny_cyclegan_config(**{'num_train_steps': 6,
                                  'evals.translation_error': 6})
  straight_dir = str(tmp_path / 'straight')
  straight = loop.train_and_evaluate(config, straight_dir)
  assert sorted(os.listdir(os.path.join(straight_dir, 'checkpoints'))) == [
      '2', '4', '6']
  # The in-training translation error is G's on the held-out digits.
  final = json.load(open(os.path.join(straight_dir, 'final_metrics.json')))
  held_out = sources.load_dataset(apply_overrides(
      config.dataset.copy_and_resolve_references(), {'split': 'test'}))
  gan = experiment_lib.setup(config, init=False).gan
  translated = gan.apply_generator(straight.generator.params, 'G',
                                   held_out.examples(500, 'a'))
  assert final['eval/translation_mae'] == pytest.approx(
      float(np.mean(np.abs(translated - held_out.examples(500, 'b')))),
      rel=1e-4)
  grid = Image.open(os.path.join(straight_dir, 'samples', 'step_000004.png'))
  assert grid.size == (3 * 34 + 2, 6 * 34 + 2)   # 6 rows x 3 columns of 32 px

  save = checkpoint.Checkpointer.save

  def save_then_stop(self, step, state):
    save(self, step, state)
    if step == 4:
      raise _Interrupted

  workdir = str(tmp_path / 'interrupted')
  monkeypatch.setattr(checkpoint.Checkpointer, 'save', save_then_stop)
  with pytest.raises(_Interrupted):
    loop.train_and_evaluate(config, workdir)
  monkeypatch.setattr(checkpoint.Checkpointer, 'save', save)
  resumed = loop.train_and_evaluate(config, workdir)
  for x, y in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight),
                  strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_config_accepts_tfds_cycle_gan_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = load_config(
      'cyclegan', 'dataset=tfds:cycle_gan/horse2zebra,res=32,channels=3')
  config.batch_size = 2
  with tfds.testing.mock_data(num_examples=4,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    exp = experiment_lib.setup(config)
    batch = next(batching.batches(exp.dataset, 2, 0))
  assert type(exp.gan).__name__ == 'CycleGAN'
  assert batch['a'].shape == batch['b'].shape == (2, 32, 32, 3)
  assert exp.initial_state.variant_state['pool_a'].images.shape == (
      50, 32, 32, 3)


def test_metrics_of_noise_generators_are_rejected_before_training():
  with pytest.raises(config_lib.ConfigError,
                     match='translation_error is the metric of cyclegan'):
    experiment_lib.setup(tiny_cyclegan_config(**{'evals.fid': 2}), init=False)


def test_other_adversarial_losses_are_rejected():
  config = tiny_cyclegan_config(**{'loss.name': 'hinge'})
  with pytest.raises(config_lib.ConfigError,
                     match="loss.name=.hinge. is not supported"):
    experiment_lib.setup(config)
