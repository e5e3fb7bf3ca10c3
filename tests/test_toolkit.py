"""The modern toolkit: spectral norm, DiffAugment, ResNet (SNGAN/BigGAN) nets."""

import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import (apply_overrides, load_config, tiny_dcgan_config,
                      without_monitoring)
from gan_jax import config_lib
from gan_jax import models
from gan_jax.core import augment
from gan_jax.core import train_step as train_step_lib
from gan_jax.data import batching
from gan_jax.models import resnet
from gan_jax.models import spectral
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.training import population as population_lib


def assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# --- spectral normalization --------------------------------------------------------


@pytest.mark.parametrize('shape', [(64, 32), (3, 3, 16, 24)])
def test_power_iteration_finds_the_largest_singular_value(shape):
  kernel = jax.random.normal(jax.random.PRNGKey(0), shape)
  matrix = kernel.reshape(-1, shape[-1]).T
  u = jax.random.normal(jax.random.PRNGKey(1), (matrix.shape[0],))
  u, v, sigma = spectral.power_iteration(matrix, u, steps=100)
  largest = np.linalg.svd(np.asarray(matrix), compute_uv=False)[0]
  assert float(sigma) == pytest.approx(largest, rel=0.01)
  # One iteration is a rough estimate from below (Rayleigh quotient).
  _, _, rough = spectral.power_iteration(matrix, jax.random.normal(
      jax.random.PRNGKey(2), (matrix.shape[0],)), steps=1)
  assert float(rough) <= largest * 1.0001


def converged(layer, x, iterations=50):
  """Variables of `layer` after `iterations` training-mode power iterations."""
  variables = layer.init(jax.random.PRNGKey(0), x)
  apply = jax.jit(lambda v: layer.apply(v, x, mutable=['spectral'])[1])
  for _ in range(iterations):
    variables = {**variables, **apply(variables)}
  return variables


@pytest.mark.parametrize('layer,shape', [
    (spectral.SpectralDense(32, use_bias=False), (8, 48)),
    (spectral.SpectralConv(8, kernel_size=(3, 3), padding=((1, 1), (1, 1)),
                           use_bias=False), (8, 10, 10, 4)),
])
def test_a_normalized_layer_is_1_lipschitz(layer, shape):
  x = jax.random.normal(jax.random.PRNGKey(3), shape)
  variables = converged(layer, x)
  rng = np.random.default_rng(0)
  evaluate = layer.clone(update=False)
  for _ in range(5):
    a, b = (jnp.asarray(rng.standard_normal(shape), jnp.float32)
            for _ in range(2))
    out_a, out_b = evaluate.apply(variables, a), evaluate.apply(variables, b)
    for i in range(shape[0]):
      assert float(jnp.linalg.norm(out_a[i] - out_b[i])) <= 1.01 * float(
          jnp.linalg.norm(a[i] - b[i]))
  # Dense: the normalized kernel's largest singular value is 1.
  if isinstance(layer, spectral.SpectralDense):
    sigma = variables['spectral']['kernel_sigma']
    kernel = np.asarray(variables['params']['kernel']) / float(sigma)
    assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(
        1.0, rel=0.01)


def test_evaluation_divides_by_the_stored_estimate_without_updating():
  layer = spectral.SpectralDense(4, use_bias=False)
  x = jnp.ones((2, 3))
  variables = layer.init(jax.random.PRNGKey(0), x)
  variables = {**variables,
               'spectral': {**variables['spectral'],
                            'kernel_sigma': jnp.asarray(2.0)}}
  out, state = layer.clone(update=False).apply(variables, x,
                                               mutable=['spectral'])
  np.testing.assert_allclose(out, x @ variables['params']['kernel'] / 2.0,
                             rtol=1e-6)
  assert_trees_equal(state['spectral'], variables['spectral'])


def sn_config(**overrides):
  return tiny_dcgan_config(**{'model.d_spectral_norm': True, **overrides})


def test_one_power_iteration_per_discriminator_update():
  experiment = experiment_lib.setup(sn_config())
  state = experiment.initial_state
  step = jax.jit(train_step_lib.make_train_step(
      experiment.gan, experiment.g_tx, experiment.d_tx))
  batch = next(batching.batches(experiment.dataset, 8, 0))
  new_state, _ = step(state, batch)
  before = state.discriminator.model_state['spectral']['SpectralConv_0']
  after = new_state.discriminator.model_state['spectral']['SpectralConv_0']
  kernel = state.discriminator.params['SpectralConv_0']['kernel']
  expected_u, _, _ = spectral.power_iteration(
      kernel.reshape(-1, kernel.shape[-1]).T, before['kernel_u'], 1)
  np.testing.assert_allclose(after['kernel_u'], expected_u, rtol=1e-5,
                             atol=1e-6)


def test_spectral_state_is_checkpointed_and_resume_is_exact(tmp_path):
  straight = loop.train_and_evaluate(sn_config(num_train_steps=6),
                                     str(tmp_path / 'straight'))
  workdir = str(tmp_path / 'resumed')
  loop.train_and_evaluate(sn_config(num_train_steps=3), workdir)
  resumed = loop.train_and_evaluate(sn_config(num_train_steps=6), workdir)
  assert 'spectral' in resumed.discriminator.model_state
  assert_trees_equal(resumed, straight)


def test_a_population_of_two_equals_two_single_runs(tmp_path):
  members = [sn_config(seed=seed, num_train_steps=3) for seed in (0, 1)]
  population = loop.train_population(members, ['a', 'b'],
                                     str(tmp_path / 'population'))
  for index, member in enumerate(members):
    single = loop.train_and_evaluate(member, str(tmp_path / f'single{index}'))
    for x, y in zip(jax.tree.leaves(population_lib.member_state(population,
                                                                index)),
                    jax.tree.leaves(single), strict=True):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4,
                                 atol=2e-5)


@pytest.mark.parametrize('name,arg', [('vanilla', None), ('cgan', None),
                                      ('cyclegan', None)])
def test_every_model_takes_spectral_norm_on_both_sides(name, arg):
  config = load_config(name, arg) if arg else load_config(name)
  config = apply_overrides(without_monitoring(config), {
      'model.d_spectral_norm': True, 'model.g_spectral_norm': True,
      'batch_size': 4})
  if name == 'cyclegan':
    config = apply_overrides(config, {'model.g_features': 4,
                                      'model.d_features': 4,
                                      'model.num_blocks': 1,
                                      'dataset.resolution': 32})
  if name == 'cgan':
    config = apply_overrides(config, {'model.g_features': 4,
                                      'model.d_features': 4,
                                      'dataset.resolution': 16})
  experiment = experiment_lib.setup(config)
  state = experiment.initial_state
  for side in (state.generator, state.discriminator):
    assert jax.tree.leaves(side.model_state.get('spectral', {}))
  step = jax.jit(train_step_lib.make_train_step(
      experiment.gan, experiment.g_tx, experiment.d_tx))
  batch = next(batching.batches(experiment.dataset, 4, 0))
  new_state, metrics = step(state, batch)
  assert np.isfinite(float(metrics['d_loss']))
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)),
                         state.discriminator.model_state['spectral'],
                         new_state.discriminator.model_state['spectral'])
  assert any(jax.tree.leaves(changed))     # u moved in the update


# --- DiffAugment -------------------------------------------------------------------


def images(shape=(4, 16, 16, 3), seed=0):
  return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0,
                            maxval=1.0)


@pytest.mark.parametrize('op', augment.OPERATIONS)
def test_each_op_keeps_shape_is_deterministic_and_passes_gradients(op):
  x = images()
  key = jax.random.PRNGKey(5)
  out = augment.diff_augment(x, op, key)
  assert out.shape == x.shape and out.dtype == x.dtype
  np.testing.assert_array_equal(out, augment.diff_augment(x, op, key))
  assert not np.allclose(out, augment.diff_augment(x, op,
                                                   jax.random.PRNGKey(6)))
  grad = jax.grad(lambda y: jnp.sum(augment.diff_augment(y, op, key) ** 2))(x)
  assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).sum()) > 0


def test_value_ranges():
  x = images()
  for op in ('translation', 'cutout'):     # pixels kept, or set to 0
    out = np.asarray(augment.diff_augment(x, op, jax.random.PRNGKey(1)))
    assert out.min() >= float(x.min()) - 1e-6 and out.max() <= float(
        x.max()) + 1e-6
  # color: brightness +-0.5, saturation x [0, 2), contrast x [0.5, 1.5)
  # around means of values in [-1, 1]: |out| <= (1 + 0.5) * 2 * 1.5 * 2
  out = augment.color(x, jax.random.PRNGKey(2))
  assert float(jnp.abs(out).max()) <= 9.0
  assert not np.allclose(out, x)


def test_translation_moves_pixels_and_cutout_blanks_a_square():
  x = jnp.zeros((64, 16, 16, 1)).at[:, 8, 8, 0].set(1.0)
  moved = np.asarray(augment.translation(x, jax.random.PRNGKey(0)))
  ys, xs = np.nonzero(moved[..., 0].sum(0))
  assert moved.sum() == pytest.approx(64.0)       # the pixel is moved, kept
  assert abs(ys - 8).max() <= 2 and abs(xs - 8).max() <= 2   # 1/8 of 16
  assert len(set(zip(ys, xs))) > 5                 # in different directions
  ones = jnp.ones((32, 16, 16, 1))
  cut = np.asarray(augment.cutout(ones, jax.random.PRNGKey(1)))
  zeros = (cut == 0).sum(axis=(1, 2, 3))
  assert zeros.max() == 64 and zeros.min() > 0    # an 8x8 square, clipped


def test_empty_policy_is_the_identity_and_bad_policies_are_named():
  x = images()
  np.testing.assert_array_equal(augment.diff_augment(x, '',
                                                     jax.random.PRNGKey(0)), x)
  config = tiny_dcgan_config(**{'augment.policy': 'color,flip'})
  with pytest.raises(config_lib.ConfigError, match='augment.policy'):
    config_lib.validate(config)


def test_generator_gradient_flows_through_the_augmented_discriminator():
  config = tiny_dcgan_config(**{'augment.policy': 'color,translation,cutout'})
  experiment = experiment_lib.setup(config)
  gan, state = experiment.gan, experiment.initial_state
  batch = next(batching.batches(experiment.dataset, 8, 0))
  outputs, _ = gan.generate(state.generator.params,
                            state.generator.model_state, batch,
                            jax.random.PRNGKey(0))

  def g_loss(x):
    return gan.generator_loss(state.discriminator.params,
                              state.discriminator.model_state, {'x': x},
                              batch, jax.random.PRNGKey(1))[0]
  grad = jax.grad(g_loss)(outputs['x'])
  assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).sum()) > 0
  # Off, the same key gives another loss: the augmentation is applied.
  plain = experiment_lib.setup(tiny_dcgan_config()).gan
  assert float(g_loss(outputs['x'])) != float(plain.generator_loss(
      state.discriminator.params, state.discriminator.model_state,
      outputs, batch, jax.random.PRNGKey(1))[0])


@pytest.mark.parametrize('name,overrides,message', [
    ('cyclegan', {'augment.policy': 'translation'}, 'not supported by cyclegan'),
    ('vanilla', {'augment.policy': 'color'}, 'needs images'),
])
def test_augmentation_is_refused_where_it_does_not_apply(name, overrides,
                                                         message):
  config = apply_overrides(load_config(name), overrides)
  with pytest.raises(config_lib.ConfigError, match=message):
    experiment_lib.setup(config)


# --- ResNet networks ---------------------------------------------------------------


def resnet_pair(res, num_classes=0, attention=0, channels=3, features=4):
  config = ml_collections.ConfigDict(dict(
      name='resnet', latent_dim=8, g_features=features, d_features=features,
      d_spectral_norm=True, g_spectral_norm=False,
      attention_resolution=attention))
  return models.build(config, (res, res, channels), num_classes)


@pytest.mark.parametrize('res', [32, 64, 128])
def test_resnet_shapes_at_every_resolution(res):
  g, d = resnet_pair(res, features=2)
  z = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
  # Shapes by abstract evaluation (compiling 128 px networks on CPU is slow);
  # the 32 px pair also runs.
  g_vars = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(1), z,
                                         train=False))
  images_out = jax.eval_shape(lambda v: g.apply(v, z, train=False), g_vars)
  assert images_out.shape == (2, res, res, 3)
  d_vars = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(2),
                                         jnp.zeros((2, res, res, 3)),
                                         train=False))
  assert 'spectral' in d_vars                    # SN on D by default
  logits = jax.eval_shape(lambda v: d.apply(v, jnp.zeros((2, res, res, 3)),
                                            train=False), d_vars)
  assert logits.shape == (2,)
  if res == 32:
    g_vars = g.init(jax.random.PRNGKey(1), z, train=False)
    images = g.apply(g_vars, z, train=False)
    assert float(jnp.abs(images).max()) <= 1.0
    d_vars = d.init(jax.random.PRNGKey(2), images, train=False)
    assert np.all(np.isfinite(d.apply(d_vars, images, train=False)))


def test_sngan_cifar10_networks_have_the_papers_parameter_count():
  """Miyato et al. 2018, the CIFAR-10 ResNets (the authors' resnet_32.py and
  snresnet_32.py): counts from the layer table, not from gan_jax."""
  def conv(k, cin, cout):
    return k * k * cin * cout + cout
  g_ch, d_ch, z = 256, 128, 128
  up_block = conv(3, g_ch, g_ch) * 2 + conv(1, g_ch, g_ch) + 2 * 2 * g_ch
  expected_g = (z * 16 * g_ch + 16 * g_ch) + 3 * up_block + 2 * g_ch + conv(
      3, g_ch, 3)
  expected_d = (conv(3, 3, d_ch) + conv(3, d_ch, d_ch) + conv(1, 3, d_ch)
                + 2 * conv(3, d_ch, d_ch) + conv(1, d_ch, d_ch)
                + 2 * 2 * conv(3, d_ch, d_ch) + d_ch)
  assert (expected_g, expected_d) == (4_276_739, 1_053_824)
  config = load_config('sngan', 'channels=3')
  g, d = models.build(config.model, (32, 32, 3))
  g_vars = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0),
                                         jnp.zeros((1, 128)), train=False))
  d_vars = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0),
                                         jnp.zeros((1, 32, 32, 3)),
                                         train=False))
  assert resnet.parameter_count(g_vars['params']) == expected_g
  assert resnet.parameter_count(d_vars['params']) == expected_d


def test_conditional_batch_norm_uses_the_label():
  g, d = resnet_pair(32, num_classes=10)
  z = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, 8)), (2, 1))
  labels = jnp.array([1, 7])
  g_vars = g.init(jax.random.PRNGKey(1), z, labels, train=False)
  # Make the per-class gains differ (they start at 1).
  g_vars = jax.tree_util.tree_map_with_path(
      lambda path, x: x + jax.random.normal(jax.random.PRNGKey(2), x.shape)
      if 'gain' in jax.tree_util.keystr(path) else x, g_vars)
  out = g.apply(g_vars, z, labels, train=False)
  assert float(jnp.abs(out[0] - out[1]).max()) > 1e-3
  d_vars = d.init(jax.random.PRNGKey(3), out, labels, train=False)
  assert 'label_projection' in d_vars['params']
  logits = d.apply(d_vars, jnp.tile(out[:1], (2, 1, 1, 1)), labels,
                   train=False)
  assert float(logits[0]) != float(logits[1])    # the projection term


def test_self_attention_output_depends_on_distant_pixels():
  block = resnet.SelfAttention(conv=lambda *a, **k: nn.Conv(*a, **k))
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 8, 8, 16))
  variables = block.init(jax.random.PRNGKey(1), x)
  variables = {'params': {**variables['params'], 'gamma': jnp.asarray(1.0)}}
  grad = jax.grad(lambda y: block.apply(variables, y)[0, 0, 0].sum())(x)
  assert float(jnp.abs(grad[0, 7, 7]).sum()) > 0    # the far corner
  local = nn.Conv(16, (3, 3))                       # a conv cannot reach it
  local_vars = local.init(jax.random.PRNGKey(2), x)
  grad = jax.grad(lambda y: local.apply(local_vars, y)[0, 0, 0].sum())(x)
  assert float(jnp.abs(grad[0, 7, 7]).sum()) == 0


def test_sngan_config_trains_offline(tmp_path):
  config = load_config('sngan', 'res=32,steps=1')
  config = apply_overrides(without_monitoring(config), {
      'model.g_features': 4, 'model.d_features': 4, 'batch_size': 8,
      'num_samples': 4, 'log_every_steps': 1})
  loop.train_and_evaluate(config, str(tmp_path))
  with open(os.path.join(tmp_path, 'final_metrics.json')) as f:
    final = json.load(f)
  assert np.isfinite(final['d_loss']) and np.isfinite(final['g_loss'])
  assert os.path.exists(os.path.join(tmp_path, 'samples', 'step_000001.png'))
