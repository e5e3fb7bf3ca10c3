"""Model output shapes, DCGAN fidelity, and the exact sub-pixel upsampling."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan_jax import config_lib
from gan_jax import models
from gan_jax.models import dcgan
from gan_jax.models import layers
from gan_jax.models import mlp
from gan_jax.models import tf_dcgan


def dcgan_config(**kw):
  base = dict(name='dcgan', latent_dim=100, g_features=64, d_features=64,
              d_norm='batch', upsample='auto')
  base.update(kw)
  return ml_collections.ConfigDict(base)


def count(params):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


def numpy_variables(module, *inputs):
  """Variables of the right shapes filled by NumPy: tests of shapes need not
  compile the PRNG (XLA:CPU spends ~0.15 s compiling each random draw)."""
  shapes = jax.eval_shape(
      lambda: module.init(jax.random.PRNGKey(0), *inputs, train=True))
  rng = np.random.default_rng(0)
  return jax.tree.map(
      lambda s: (0.02 * rng.standard_normal(s.shape)).astype(s.dtype), shapes)


@pytest.mark.parametrize('res', [28, 32, 64])
@pytest.mark.parametrize('channels', [1, 3])
def test_dcgan_shapes(res, channels):
  g, d = models.build(dcgan_config(g_features=8, d_features=8, latent_dim=4),
                      (res, res, channels))
  z = jax.random.normal(jax.random.PRNGKey(2), (2, 4))
  g_vars = numpy_variables(g, z)
  d_vars = numpy_variables(d, jnp.zeros((2, res, res, channels)))

  @jax.jit
  def run(z):
    images, _ = g.apply(g_vars, z, train=True, mutable=['batch_stats'])
    logits, _ = d.apply(d_vars, images, train=True, mutable=['batch_stats'])
    return images, logits

  images, logits = run(z)
  assert images.shape == (2, res, res, channels)
  assert float(jnp.max(jnp.abs(images))) <= 1.0  # tanh output
  assert logits.shape == (2,)


@pytest.mark.parametrize('shape', [(2,), (8, 8, 1)])
def test_mlp_shapes(shape):
  config = ml_collections.ConfigDict(dict(name='mlp', latent_dim=3,
                                          g_hidden=(16,), d_hidden=(16,)))
  g, d = models.build(config, shape)
  z = jnp.ones((5, 3))
  out, _ = g.init_with_output(jax.random.PRNGKey(0), z)
  assert out.shape == (5,) + shape
  assert d.init_with_output(jax.random.PRNGKey(1), out)[0].shape == (5,)


def test_maxout_is_the_max_over_its_pieces():
  layer = mlp.Maxout(features=3, pieces=5)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 2))
  variables = layer.init(jax.random.PRNGKey(1), x)
  dense = variables['params']['Dense_0']
  linear = np.asarray(x @ dense['kernel'] + dense['bias']).reshape(4, 3, 5)
  np.testing.assert_allclose(layer.apply(variables, x), linear.max(-1),
                             rtol=1e-6)


def test_pacgan_protocol_mlp_options():
  """PacGAN's 2-D networks: BN + ReLU generator, maxout D, N(0, 0.02)."""
  config = ml_collections.ConfigDict(dict(
      name='mlp', latent_dim=2, g_hidden=(400, 400), d_hidden=(200,),
      g_norm='batch', d_maxout_pieces=5, init_std=0.02))
  g, d = models.build(config, (8,))      # a pack of 4 points
  z = jax.random.normal(jax.random.PRNGKey(0), (100, 2))
  g_vars = g.init(jax.random.PRNGKey(1), z, train=True)
  assert set(g_vars) == {'params', 'batch_stats'}
  assert 'bias' not in g_vars['params']['Dense_0']      # BN supplies the shift
  kernel = np.asarray(g_vars['params']['Dense_1']['kernel'])
  assert abs(kernel.std() - 0.02) < 0.002
  # Training mode normalises with the batch and moves the running averages
  # by 0.05 of the way (Blocks' population update, as PacGAN trained).
  _, updated = g.apply(g_vars, z, train=True, mutable=['batch_stats'])
  hidden = np.asarray(z @ g_vars['params']['Dense_0']['kernel'])
  np.testing.assert_allclose(updated['batch_stats']['BatchNorm_0']['mean'],
                             0.05 * hidden.mean(0), rtol=1e-4, atol=1e-7)
  # Evaluation uses the running averages: one sample alone is well defined.
  assert g.apply(g_vars, z[:1], train=False).shape == (1, 8)
  d_vars = d.init(jax.random.PRNGKey(2), jnp.zeros((3, 8)))
  assert d_vars['params']['Maxout_0']['Dense_0']['kernel'].shape == (8, 1000)
  assert d.apply(d_vars, jnp.zeros((3, 8))).shape == (3,)


def test_grouped_batch_norm_is_one_batch_norm_per_generator_call():
  """g_norm_groups=k normalises k interleaved groups separately: the same
  as k calls of the whole-batch generator on the groups (PacGAN's code draws
  a pack's samples in k calls of 100), with one set of parameters."""
  def generator(groups):
    config = ml_collections.ConfigDict(dict(
        name='mlp', latent_dim=2, g_hidden=(16, 16), d_hidden=(8,),
        g_norm='batch', init_std=0.02, g_norm_groups=groups))
    return models.build(config, (2,))[0]
  whole, grouped = generator(1), generator(3)
  z = jax.random.normal(jax.random.PRNGKey(0), (30, 2)) * 3.0
  variables = whole.init(jax.random.PRNGKey(1), z, train=True)
  # Same parameter and statistics names: a checkpoint loads into either.
  assert (jax.tree.structure(variables) ==
          jax.tree.structure(grouped.init(jax.random.PRNGKey(1), z,
                                          train=True)))
  out, stats = grouped.apply(variables, z, train=True, mutable=['batch_stats'])
  calls = [whole.apply(variables, z[j::3], train=True,
                       mutable=['batch_stats']) for j in range(3)]
  for j, (call_out, _) in enumerate(calls):
    np.testing.assert_allclose(out[j::3], call_out, rtol=1e-4, atol=1e-5)
  # Not the whole-batch result (the groups' statistics differ).
  assert not np.allclose(out, whole.apply(variables, z, train=True,
                                          mutable=['batch_stats'])[0],
                         atol=1e-3)
  # Running averages move towards the groups' mean statistics.
  for name in ('mean', 'var'):
    expected = np.mean([c[1]['batch_stats']['BatchNorm_1'][name]
                        for c in calls], 0)
    np.testing.assert_allclose(stats['batch_stats']['BatchNorm_1'][name],
                               expected, rtol=1e-4, atol=1e-6)
  # Evaluation uses the running averages, as the whole-batch generator.
  np.testing.assert_allclose(grouped.apply(variables, z, train=False),
                             whole.apply(variables, z, train=False),
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(config_lib.ConfigError, match='g_norm_groups=3'):
    grouped.apply(variables, z[:10], train=True, mutable=['batch_stats'])


@pytest.mark.parametrize('field,value', [('g_norm', 'layer'),
                                         ('d_maxout_pieces', 1),
                                         ('g_norm_groups', 0),
                                         ('g_norm_groups', 2),
                                         ('init_std', -1.0)])
def test_mlp_options_are_checked(field, value):
  config = ml_collections.ConfigDict(dict(name='mlp', latent_dim=2,
                                          g_hidden=(4,), d_hidden=(4,)))
  config[field] = value
  with pytest.raises(config_lib.ConfigError, match=f'config.model.{field}'):
    models.build(config, (2,))


@pytest.mark.parametrize('res', [30, 9, 2, 36 * 64])
def test_dcgan_rejects_resolutions_it_cannot_produce(res):
  with pytest.raises(config_lib.ConfigError, match='dataset.resolution'):
    models.build(dcgan_config(), (res, res, 1))


def test_dcgan_64_parameter_counts_match_the_pytorch_reference():
  # pytorch/examples dcgan, nz=100, ngf=ndf=64, nc=3: conv weights without
  # biases, batch norm with weight and bias.
  def conv(cin, cout):
    return 4 * 4 * cin * cout

  def bn(c):
    return 2 * c

  g_expected = (conv(100, 512) + bn(512) + conv(512, 256) + bn(256)
                + conv(256, 128) + bn(128) + conv(128, 64) + bn(64)
                + conv(64, 3))
  d_expected = (conv(3, 64) + conv(64, 128) + bn(128) + conv(128, 256)
                + bn(256) + conv(256, 512) + bn(512) + conv(512, 1))
  g, d = models.build(dcgan_config(), (64, 64, 3))
  # Shapes only: no need to run the initialisers.
  g_vars = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0),
                                         jnp.zeros((1, 100)), train=False))
  d_vars = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0),
                                         jnp.zeros((1, 64, 64, 3)),
                                         train=False))
  assert count(g_vars['params']) == g_expected
  assert count(d_vars['params']) == d_expected


def test_dcgan_initialisation_follows_the_paper():
  g, _ = models.build(dcgan_config(), (28, 28, 1))
  params = jax.jit(lambda z: g.init(jax.random.PRNGKey(0), z, train=False))(
      jnp.zeros((1, 100)))['params']
  kernel = np.asarray(params['up0']['kernel'])   # 4 x 4 x 128 x 64
  assert abs(kernel.std() - 0.02) < 0.001 and abs(kernel.mean()) < 0.001
  scale = np.asarray(params['BatchNorm_1']['scale'])
  assert abs(scale.mean() - 1.0) < 0.01 and 0.01 < scale.std() < 0.03


def test_batch_norm_momentum_and_epsilon_are_the_pytorch_ones():
  bn = dcgan.batch_norm(train=True)
  assert bn.momentum == pytest.approx(0.9) and bn.epsilon == pytest.approx(1e-5)


@pytest.mark.parametrize('size', [(7, 7), (4, 4), (5, 3)])
@pytest.mark.parametrize('kernel_size,padding,use_bias', [
    (4, (2, 2), False),   # DCGAN: ConvTranspose2d(k=4, s=2, p=1)
    (3, (1, 2), True),    # CycleGAN: ConvTranspose2d(k=3, s=2, p=1, op=1)
])
def test_subpixel_upsampling_equals_conv_transpose(size, kernel_size, padding,
                                                   use_bias):
  """Same outputs and gradients as the PyTorch-style nn.ConvTranspose."""
  x = jax.random.normal(jax.random.PRNGKey(0), (3,) + size + (5,))
  reference = nn.ConvTranspose(6, (kernel_size, kernel_size), strides=(2, 2),
                               padding=(padding, padding), use_bias=use_bias)
  variables = reference.init(jax.random.PRNGKey(1), x)

  def loss(module, variables, x):
    y = module.apply(variables, x)
    return jnp.sum(y * jnp.sin(y)), y

  (_, expected), expected_grads = jax.value_and_grad(
      loss, argnums=(1, 2), has_aux=True)(reference, variables, x)
  for method in ('transpose', 'subpixel'):
    module = layers.Upsample2x(6, method=method, kernel_size=kernel_size,
                               use_bias=use_bias)
    (_, y), grads = jax.value_and_grad(loss, argnums=(1, 2), has_aux=True)(
        module, variables, x)
    assert y.shape == (3, 2 * size[0], 2 * size[1], 6)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected_grads)):
      np.testing.assert_allclose(got, want, atol=1e-4)


def test_dcgan_generators_agree_across_upsampling_methods():
  params = None
  outputs = []
  for method in ('transpose', 'subpixel'):
    g, _ = models.build(dcgan_config(upsample=method, g_features=8),
                        (28, 28, 1))
    z = jax.random.normal(jax.random.PRNGKey(0), (4, 100))
    variables = g.init(jax.random.PRNGKey(0), z, train=False)
    params = params or variables   # same parameter tree for both
    outputs.append(g.apply(params, z, train=False))
  np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def test_pack_puts_m_consecutive_samples_side_by_side():
  from gan_jax.variants import standard
  images = jnp.arange(4 * 2 * 2 * 3, dtype=jnp.float32).reshape(4, 2, 2, 3)
  packed = standard.pack(images, 2)
  assert packed.shape == (2, 2, 2, 6)
  np.testing.assert_array_equal(packed[1, ..., :3], images[2])
  np.testing.assert_array_equal(packed[1, ..., 3:], images[3])
  points = jnp.arange(8.0).reshape(4, 2)
  np.testing.assert_array_equal(standard.pack(points, 4),
                                [[0, 1, 2, 3, 4, 5, 6, 7]])
  assert standard.pack(points, 1) is points


def test_packed_discriminator_scores_one_logit_per_pack():
  from conftest import tiny_dcgan_config
  from gan_jax.core import train_step as train_step_lib
  from gan_jax.data import batching
  from gan_jax.training import experiment as experiment_lib
  config = tiny_dcgan_config(**{'model.pack': 4})
  experiment = experiment_lib.setup(config)
  gan, state = experiment.gan, experiment.initial_state
  kernel = state.discriminator.params['Conv_0']['kernel']
  assert kernel.shape[2] == 4          # 4 one-channel samples per input
  logits, _ = gan._d(state.discriminator.params,
                     state.discriminator.model_state,
                     jnp.zeros((8, 16, 16, 1)), None)
  assert logits.shape == (2,)
  # The packed D trains in the shared step.
  step = jax.jit(train_step_lib.make_train_step(gan, experiment.g_tx,
                                                experiment.d_tx))
  batch = next(batching.batches(experiment.dataset, 8, 0))
  new_state, metrics = step(state, batch)
  assert np.isfinite(metrics['d_loss']) and np.isfinite(metrics['g_loss'])
  assert not np.allclose(new_state.discriminator.params['Conv_0']['kernel'],
                         kernel)
  with pytest.raises(config_lib.ConfigError, match='model.pack=3'):
    experiment_lib.setup(tiny_dcgan_config(**{'model.pack': 3}))   # batch 8


# --- Unrolled GAN's Stacked MNIST networks (PacGAN's Table 3) ----------------


@pytest.mark.parametrize('size,channels', [(7, 5), (14, 3), (28, 2), (9, 4)])
def test_same_transpose_is_the_adjoint_of_the_same_strided_conv(size,
                                                                channels):
  """<conv(y), x> == <y, T(x)>: the definition of TensorFlow's
  conv2d_transpose(output_shape=size, padding='SAME'), odd sizes included."""
  layer = tf_dcgan.SameTranspose(features=channels, size=size)
  small = -(-size // 2)
  rng = np.random.default_rng(size)
  x = jnp.asarray(rng.standard_normal((2, small, small, 6)), jnp.float32)
  variables = layer.init(jax.random.PRNGKey(0), x)
  kernel = variables['params']['kernel']
  bias = variables['params']['bias']
  transposed = layer.apply(variables, x) - bias
  assert transposed.shape == (2, size, size, channels)
  y = jnp.asarray(rng.standard_normal((2, size, size, channels)), jnp.float32)
  forward = tf_dcgan.same_conv(y, kernel)
  assert forward.shape == x.shape
  np.testing.assert_allclose(float(jnp.vdot(forward, x)),
                             float(jnp.vdot(y, transposed)), rtol=1e-4)


@pytest.mark.parametrize('size,kernel,stride,padding', [
    (4, 5, 2, 'SAME'),          # kernel larger than the input (XLA:CPU's slow case)
    (7, 5, 2, 'SAME'), (14, 3, 2, 'SAME'), (9, 3, 1, 'SAME'),
    (8, 4, 2, ((1, 1), (1, 1))), (6, 3, 1, 'VALID'),
])
def test_patch_conv_equals_xla_convolution(size, kernel, stride, padding):
  """Values, both gradients and the transpose of `layers.patch_conv` equal
  those of lax.conv_general_dilated (NHWC x HWIO)."""
  rng = np.random.default_rng(size * kernel)
  x = jnp.asarray(rng.standard_normal((2, size, size, 5)), jnp.float32)
  w = jnp.asarray(rng.standard_normal((kernel, kernel, 5, 6)), jnp.float32)
  dims = ('NHWC', 'HWIO', 'NHWC')
  def convs(x, w):
    return [f(x, w, (stride, stride), padding, dimension_numbers=dims)
            for f in (jax.lax.conv_general_dilated, layers.patch_conv)]
  xla, patches = convs(x, w)
  np.testing.assert_allclose(patches, xla, rtol=1e-4, atol=1e-4)
  for argnum in (0, 1):
    grads = [jax.grad(lambda x, w, i=i: jnp.sum(jnp.sin(convs(x, w)[i])),
                      argnums=argnum)(x, w) for i in (0, 1)]
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-4)
  cotangent = jnp.asarray(rng.standard_normal(xla.shape), jnp.float32)
  transposes = [jax.linear_transpose(lambda x, i=i: convs(x, w)[i], x)(
      cotangent)[0] for i in (0, 1)]
  np.testing.assert_allclose(transposes[1], transposes[0], rtol=1e-4,
                             atol=1e-4)


def test_tf_dcgan_uses_patch_convolutions_on_cpu_only_for_5x5():
  """The CPU choice measured by experiments/tf_dcgan_benchmark.py, and the
  layers built with it compute what XLA's convolution computes."""
  g, d = models.build(_tf_dcgan(8), (28, 28, 3))
  unrolled_g, _ = models.build(_unrolled(2), (28, 28, 3))
  on_cpu = jax.default_backend() == 'cpu'
  assert (g.conv_method, d.conv_method) == (('patches',) * 2 if on_cpu
                                            else ('xla',) * 2)
  assert unrolled_g.conv_method == 'xla'
  z = jax.random.uniform(jax.random.PRNGKey(1), (3, 100), minval=-1.0)
  x = jax.random.normal(jax.random.PRNGKey(2), (3, 28, 28, 3))
  for network, inputs in ((g, z), (d, x),
                          (d.clone(spectral_norm=True), x)):
    variables = jax.jit(functools.partial(network.init, train=False))(
        jax.random.PRNGKey(0), inputs)
    outputs = [jax.jit(functools.partial(network.clone(conv_method=m).apply,
                                         train=False))(variables, inputs)
               for m in ('xla', 'patches')]
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-4, atol=1e-5)


def test_unrolled_dcgan_grouped_batch_norm_is_one_batch_norm_per_call():
  """g_norm_groups=k in the Stacked MNIST generator: each interleaved group
  (a pack slot) normalised on its own, the same as k calls of the
  whole-batch generator, with the same parameters and statistics names."""
  def generator(groups):
    config = _unrolled(2)
    config.g_norm_groups = groups
    return models.build(config, (28, 28, 3))[0]
  whole, grouped = generator(1), generator(3)
  z = jax.random.normal(jax.random.PRNGKey(0), (12, 256))
  variables = whole.init(jax.random.PRNGKey(1), z, train=True)
  assert (jax.tree.structure(variables) ==
          jax.tree.structure(grouped.init(jax.random.PRNGKey(1), z,
                                          train=True)))
  out, stats = grouped.apply(variables, z, train=True, mutable=['batch_stats'])
  calls = [whole.apply(variables, z[j::3], train=True, mutable=['batch_stats'])
           for j in range(3)]
  for j, (call_out, _) in enumerate(calls):
    np.testing.assert_allclose(out[j::3], call_out, rtol=1e-4, atol=1e-5)
  assert not np.allclose(out, whole.apply(variables, z, train=True,
                                          mutable=['batch_stats'])[0],
                         atol=1e-4)
  for layer in ('BatchNorm_0', 'BatchNorm_3'):   # dense's and the last conv's
    expected = np.mean([c[1]['batch_stats'][layer]['var'] for c in calls], 0)
    np.testing.assert_allclose(stats['batch_stats'][layer]['var'], expected,
                               rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(grouped.apply(variables, z, train=False),
                             whole.apply(variables, z, train=False),
                             rtol=1e-5, atol=1e-6)
  bad = _unrolled(2)
  bad.g_norm_groups = 0
  with pytest.raises(config_lib.ConfigError, match='g_norm_groups=0'):
    models.build(bad, (28, 28, 3))


def _unrolled(d_features):
  return ml_collections.ConfigDict(dict(name='unrolled_dcgan', latent_dim=256,
                                        g_features=8, d_features=d_features))


@pytest.mark.parametrize('d_features,pack,d_count', [
    (2, 1, 585),      # D = 1/4 G
    (4, 1, 1889),     # D = 1/2 G
    (2, 4, 585 + 9 * 9 * 2),  # 4 samples of 3 channels: 9 more input maps
])
def test_unrolled_dcgan_parameter_counts_follow_the_layer_table(
    d_features, pack, d_count):
  # From the authors' model.py (biases everywhere, BN gamma and beta):
  # G: dense 256 -> 4*4*64, BN(64); 3x3 transposed convs 64->32->16->8 each
  # with BN; a 3x3 conv 8->3.  D (d = 2): convs 3->2->4->8, BN each, dense
  # 4*4*8 -> 1.  The packed D reads 3 m channels.
  g_count = (256 * 1024 + 1024 + 2 * 64 + 9 * 64 * 32 + 32 + 2 * 32
             + 9 * 32 * 16 + 16 + 2 * 16 + 9 * 16 * 8 + 8 + 2 * 8
             + 9 * 8 * 3 + 3)
  assert g_count == 287_875
  g, d = models.build(_unrolled(d_features), (28, 28, 3))
  z = jnp.zeros((2, 256))
  g_shapes = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), z))
  assert count(g_shapes['params']) == g_count
  x = jnp.zeros((2, 28, 28, 3 * pack))
  d_shapes = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), x))
  assert count(d_shapes['params']) == d_count
  # 28 -> 14 -> 7 -> 4 ('SAME' strides), so D's logit reads 4 x 4 x 4d.
  assert d_shapes['params']['Dense_0']['kernel'].shape == (
      4 * 4 * 4 * d_features, 1)


def test_unrolled_dcgan_refuses_what_it_cannot_build():
  with pytest.raises(config_lib.ConfigError, match='conditional'):
    models.build(_unrolled(2), (28, 28, 3), num_classes=10)
  with pytest.raises(config_lib.ConfigError, match='d_features'):
    models.build(_unrolled(0), (28, 28, 3))
  with pytest.raises(config_lib.ConfigError, match='square images'):
    models.build(_unrolled(2), (2,))


def _tf_dcgan(width=64):
  return ml_collections.ConfigDict(dict(name='tf_dcgan', latent_dim=100,
                                        g_features=width, d_features=width))


@pytest.mark.parametrize('pack', [1, 2])
def test_tf_dcgan_parameter_counts_follow_the_layer_table(pack):
  # From the authors' VEEGAN_experiment/{model,ops}.py (DCGAN-tensorflow;
  # biases everywhere, BN gamma and beta): G: dense 100 -> 2*2*512, BN(512);
  # 5x5 transposed convs 512->256->128->64, BN each; 5x5 transposed conv
  # 64->3.  D: 5x5 convs 3m->64 (no BN), 64->128->256->512 with BN; dense
  # 2*2*512 -> 1.
  g_count = (100 * 2048 + 2048 + 2 * 512 + 25 * 512 * 256 + 256 + 2 * 256
             + 25 * 256 * 128 + 128 + 2 * 128 + 25 * 128 * 64 + 64 + 2 * 64
             + 25 * 64 * 3 + 3)
  d_count = (25 * 3 * pack * 64 + 64 + 25 * 64 * 128 + 128 + 2 * 128
             + 25 * 128 * 256 + 256 + 2 * 256 + 25 * 256 * 512 + 512
             + 2 * 512 + 2 * 2 * 512 + 1)
  assert (g_count, d_count) == (4_514_819, 4_310_401 + (pack - 1) * 4_800)
  g, d = models.build(_tf_dcgan(), (28, 28, 3))
  z = jnp.zeros((2, 100))
  g_shapes = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), z))
  assert count(g_shapes['params']) == g_count
  # 2 -> 4 -> 7 -> 14 -> 28: the last transposed conv makes the 3 channels.
  assert g_shapes['params']['SameTranspose_3']['kernel'].shape == (5, 5, 3, 64)
  assert 'Conv_0' not in g_shapes['params']
  d_shapes = jax.eval_shape(lambda: d.init(
      jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 3 * pack))))
  assert count(d_shapes['params']) == d_count
  assert 'BatchNorm_0' in d_shapes['params'] and (
      'BatchNorm_3' not in d_shapes['params'])   # no BN on the first layer
  y = jax.eval_shape(lambda: g.apply(g.init(jax.random.PRNGKey(0), z), z,
                                     train=False))
  assert y.shape == (2, 28, 28, 3)


def test_tf_dcgan_refuses_what_it_cannot_build():
  with pytest.raises(config_lib.ConfigError, match='H >= 16'):
    models.build(_tf_dcgan(), (8, 8, 3))        # four 'SAME' halvings
  with pytest.raises(config_lib.ConfigError, match='g_features=64'):
    models.build(_tf_dcgan(0), (28, 28, 3))


@pytest.mark.parametrize('setup,overrides,g_kernel,d_kernel', [
    ('unrolled_quarter', {}, (3, 3, 32, 64), (3, 3, 6, 2)),
    # VEEGAN's setup at width 8 (the layer table above checks width 64),
    # with its two G updates per D update and uniform latents.
    ('veegan', {'model.g_features': 8, 'model.d_features': 8},
     (5, 5, 32, 64), (5, 5, 6, 8)),
])
def test_stacked_mnist_setups_train_every_layer_offline(
    tmp_path, mnist_dir, setup, overrides, g_kernel, d_kernel):
  """configs/stacked_mnist.py:setup=...,pack=2 runs end to end (packed, on
  MNIST IDX files), and every parameter of both networks moves: gradients
  reach each layer, the transposed convolutions included."""
  from conftest import apply_overrides, load_config, without_monitoring  # pylint: disable=g-import-not-at-top
  from gan_jax.training import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  from gan_jax.training import loop  # pylint: disable=g-import-not-at-top
  config = without_monitoring(load_config(
      'stacked_mnist', f'setup={setup},pack=2,steps=2,mnist={mnist_dir}'))
  config = apply_overrides(config, {'batch_size': 16, 'log_every_steps': 1,
                                    'dataset.num_examples': 512, **overrides})
  initial = experiment_lib.setup(config).initial_state
  state = loop.train_and_evaluate(config, str(tmp_path / 'w'))
  assert int(state.step) == 2
  assert state.generator.params['SameTranspose_0']['kernel'].shape == g_kernel
  # a pack of 2 x RGB
  assert state.discriminator.params['Conv_0']['kernel'].shape == d_kernel
  assert int(state.generator.opt_state.inner_state[0].count) == (
      2 * config.g_steps_per_d_step)
  for side in ('generator', 'discriminator'):
    before = jax.tree_util.tree_leaves_with_path(
        getattr(initial, side).params)
    after = jax.tree.leaves(getattr(state, side).params)
    for (path, old), new in zip(before, after):
      assert not np.array_equal(np.asarray(old), np.asarray(new)), (side, path)
