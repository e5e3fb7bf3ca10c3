"""The conditional GAN: labels reach both networks, grids have a row per class."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import apply_overrides, load_config, without_monitoring
from gan_jax import config_lib
from gan_jax.data import batching
from gan_jax import models
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.core import train_step as train_step_lib


def tiny_cgan_config(arch='dcgan', **overrides):
  config = without_monitoring(load_config('cgan', f'arch={arch},res=16'))
  config.batch_size = 10
  config.num_train_steps = 4
  config.log_every_steps = 2
  config.checkpoint_every_steps = 2
  config.sample_every_steps = 4
  config.num_samples = 20              # 10 classes x 2 columns
  config.model.latent_dim = 8
  if arch == 'dcgan':
    config.model.g_features = 8
    config.model.d_features = 8
  else:
    config.model.g_hidden = (32,)
    config.model.d_hidden = (32,)
  return apply_overrides(config, overrides)


@pytest.mark.parametrize('arch', ['dcgan', 'mlp'])
def test_same_noise_different_labels_give_different_images(arch):
  model_config = tiny_cgan_config(arch).model
  g, d = models.build(model_config, (16, 16, 1), num_classes=10)
  z = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, 8)), (3, 1))
  labels = jnp.array([0, 0, 7])

  @jax.jit
  def run(z, labels):
    images, g_vars = g.init_with_output(jax.random.PRNGKey(1), z, labels,
                                        train=False)
    logits, _ = d.init_with_output(jax.random.PRNGKey(2), images, labels,
                                   train=False)
    return images, logits

  images, logits = run(z, labels)
  assert images.shape == (3, 16, 16, 1) and logits.shape == (3,)
  np.testing.assert_array_equal(images[0], images[1])
  # Untrained DCGAN outputs are ~1e-3 (N(0, 0.02) weights): compare relatively.
  scale = float(jnp.abs(images).max())
  assert float(jnp.abs(images[0] - images[2]).max()) > 0.01 * scale
  # D's score of one image depends on the label it is judged under.
  _, d_vars = d.init_with_output(jax.random.PRNGKey(2), images, labels,
                                 train=False)
  same_image = jnp.stack([images[0]] * 2)
  scores = d.apply(d_vars, same_image, jnp.array([0, 7]), train=False)
  assert abs(float(scores[0] - scores[1])) > 0.01 * float(jnp.abs(scores).max())


def test_projection_discriminator_formula():
  """logit = w . phi(x) + embed(y) . phi(x) (Miyato & Koyama 2018).

  With embed(1) = w and every other embedding 0, class-1 examples must score
  exactly 2 w . phi(x) and the others w . phi(x).
  """
  _, d = models.build(tiny_cgan_config().model, (16, 16, 1), num_classes=10)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 1))
  y = jnp.array([1, 2, 3, 1])
  variables = d.init(jax.random.PRNGKey(1), x, y, train=False)
  params = variables['params']
  w = params['Dense_0']['kernel'][:, 0]
  embedding = jnp.zeros_like(params['label_projection']['embedding'])
  zero = dict(variables, params=dict(params, label_projection={
      'embedding': embedding}))
  one = dict(variables, params=dict(params, label_projection={
      'embedding': embedding.at[1].set(w)}))
  linear = d.apply(zero, x, y, train=False)
  projected = d.apply(one, x, y, train=False)
  np.testing.assert_allclose(projected, jnp.where(y == 1, 2 * linear, linear),
                             rtol=1e-5, atol=1e-6)


def test_sample_inputs_one_row_per_class_fixed_noise_per_column():
  exp = experiment_lib.setup(tiny_cgan_config())
  inputs = exp.gan.sample_inputs(jax.random.PRNGKey(0), 20)
  labels = np.asarray(inputs['label']).reshape(10, 2)
  z = np.asarray(inputs['z']).reshape(10, 2, -1)
  np.testing.assert_array_equal(labels, np.repeat(np.arange(10)[:, None], 2, 1))
  np.testing.assert_array_equal(z, np.broadcast_to(z[:1], z.shape))
  assert not np.allclose(z[0, 0], z[0, 1])


@pytest.mark.parametrize('arch', ['dcgan', 'mlp'])
def test_conditional_step_updates_the_label_pathways(arch):
  exp = experiment_lib.setup(tiny_cgan_config(arch))
  batch = next(batching.batches(exp.dataset, exp.step_batch_size, 0))
  step = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx))
  state, metrics = step(exp.initial_state, batch)
  assert np.isfinite(metrics['d_loss']) and np.isfinite(metrics['g_loss'])
  if arch == 'dcgan':
    for side, name in (('generator', 'label_embedding'),
                       ('discriminator', 'label_projection')):
      before = getattr(exp.initial_state, side).params[name]['embedding']
      after = getattr(state, side).params[name]['embedding']
      assert not np.allclose(before, after), side


def test_cgan_run_writes_a_grid_with_a_row_per_class_and_resumes(tmp_path):
  workdir = str(tmp_path / 'run')
  config = tiny_cgan_config()
  loop.train_and_evaluate(config, workdir)
  grid = Image.open(os.path.join(workdir, 'samples', 'step_000004.png'))
  # 10 rows x 2 columns of 16 px images with 2 px padding.
  assert grid.size == (2 * 18 + 2, 10 * 18 + 2)
  config.num_train_steps = 6
  resumed = loop.train_and_evaluate(config, workdir)
  uninterrupted = loop.train_and_evaluate(config, str(tmp_path / 'straight'))
  for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(uninterrupted)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_conditional_model_on_unlabelled_data_is_a_clear_error(tmp_path):
  np.savez(tmp_path / 'x.npz', images=np.zeros((20, 16, 16), np.uint8))
  config = tiny_cgan_config(**{'dataset.name': f'npz:{tmp_path / "x.npz"}'})
  with pytest.raises(config_lib.ConfigError,
                     match='conditional=True needs labelled data'):
    experiment_lib.setup(config)
