"""CycleGAN (Zhu et al. 2017): unpaired translation between two domains."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from gan_jax import models
from gan_jax.core import losses
from gan_jax.core.switches import is_enabled
from gan_jax.errors import ConfigError
from gan_jax.variants import image_pool
from gan_jax.variants import registry
from gan_jax.variants.base import Variant


@registry.register('cyclegan')
class CycleGAN(Variant):
  """Unpaired translation (Zhu et al. 2017): G: A -> B, F: B -> A, D_A, D_B.

  The generator side is one pytree {'G', 'F'} and the discriminator side
  {'D_A', 'D_B'} (D_B judges domain B: real b against G(a)), each with one
  optax state, as the reference code's two Adam optimizers. Losses, with
  least-squares adversarial terms:
    D: 1/2 E[(D_B(b) - 1)^2] + 1/2 E[D_B(pool_B(G(a)))^2], same for D_A
       (the halved discriminator loss), fakes from 50-image history pools;
    G: E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2]
       + lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)          cycle
       + identity_weight lambda (|G(b) - b|_1 + |F(a) - a|_1)   identity
  with lambda = config.loss.cycle_weight (10) and identity_weight 0.5.

  Order: the reference code updates G, then D; the shared train step updates
  D first and G then sees the updated D (see gan_jax.core.train_step), as for every
  variant here.
  """

  kind = 'translation'

  def __init__(self, generator, discriminator,
               loss_config: ml_collections.ConfigDict, pool_size: int):
    self.generator = generator
    self.discriminator = discriminator
    self.cycle_weight = loss_config.cycle_weight
    self.identity_weight = loss_config.identity_weight
    self.pool_size = pool_size

  @classmethod
  def build(cls, config: ml_collections.ConfigDict,
            data_shape: tuple[int, ...], num_classes: int) -> 'CycleGAN':
    del num_classes   # not class-conditional
    if config.loss.name != 'least_squares':
      raise ConfigError(
          f'config.loss.name={config.loss.name!r} is not supported by '
          "cyclegan: expected 'least_squares' (the paper's adversarial loss)")
    if config.model.pack > 1:
      raise ConfigError(
          f'config.model.pack={config.model.pack} is not supported by '
          'cyclegan (its PatchGANs judge one image each): set model.pack=1')
    if config.get('augment', {}).get('policy', ''):
      raise ConfigError(
          f'config.augment.policy={config.augment.policy!r} is not supported '
          'by cyclegan: its losses compare translations with their inputs '
          '(cycle and identity terms), which augmenting the discriminator\'s '
          "inputs alone would not keep consistent; set it to ''")
    generator, discriminator = models.build(config.model, data_shape)
    return cls(generator, discriminator, config.loss, config.pool_size)

  def init(self, key, batch):
    keys = jax.random.split(key, 4)
    a, b = batch['a'][:1], batch['b'][:1]
    g = {'G': self.generator.init(keys[0], a), 'F': self.generator.init(keys[1], b)}
    d = {'D_A': self.discriminator.init(keys[2], a),
         'D_B': self.discriminator.init(keys[3], b)}
    return _by_collection(g), _by_collection(d)

  def init_variant_state(self, batch):
    shape = batch['a'].shape[1:]
    return {'pool_a': image_pool.create(self.pool_size, shape),
            'pool_b': image_pool.create(self.pool_size, shape)}

  def apply_generator(self, params, name: str, x, state=None,
                      mode: str = 'eval'):
    """G (A -> B) or F (B -> A) of the generator side, on images x."""
    return _apply(self.generator, params, state or {}, name, x, mode)[0]

  def translate(self, params, state, x):
    """G: the A -> B translation that evaluation measures."""
    return self.apply_generator(params, 'G', x, state)

  def generate(self, g_params, g_state, batch, key):
    del key
    a, b = batch['a'], batch['b']
    # Non-parameter state (spectral norm) updates once per network and step.
    fake_b, g_state = _apply(self.generator, g_params, g_state, 'G', a,
                             'update')
    fake_a, g_state = _apply(self.generator, g_params, g_state, 'F', b,
                             'update')
    g = functools.partial(self.apply_generator, g_params, state=g_state,
                          mode='frozen')
    outputs = {'fake_b': fake_b, 'fake_a': fake_a,
               'rec_a': g('F', fake_b), 'rec_b': g('G', fake_a)}
    if is_enabled(self.identity_weight):
      outputs['idt_b'] = g('G', b)    # G should leave B images as they are
      outputs['idt_a'] = g('F', a)    # F should leave A images as they are
    return outputs, g_state

  def discriminator_inputs(self, variant_state, outputs, key):
    key_a, key_b = jax.random.split(key)
    pool_a, fake_a = image_pool.query(variant_state['pool_a'],
                                      outputs['fake_a'], key_a)
    pool_b, fake_b = image_pool.query(variant_state['pool_b'],
                                      outputs['fake_b'], key_b)
    return ({'fake_a': fake_a, 'fake_b': fake_b},
            {'pool_a': pool_a, 'pool_b': pool_b})

  def discriminator_loss(self, d_params, d_state, outputs, batch, key):
    del key
    d = functools.partial(_apply, self.discriminator, d_params)
    real_b, d_state = d(d_state, 'D_B', batch['b'], 'update')
    fake_b = d(d_state, 'D_B', outputs['fake_b'], 'frozen')[0]
    real_a, d_state = d(d_state, 'D_A', batch['a'], 'update')
    fake_a = d(d_state, 'D_A', outputs['fake_a'], 'frozen')[0]
    loss_b = losses.least_squares_discriminator_loss(real_b, fake_b)
    loss_a = losses.least_squares_discriminator_loss(real_a, fake_a)
    metrics = {'d_real': 0.5 * (jnp.mean(real_a) + jnp.mean(real_b)),
               'd_fake': 0.5 * (jnp.mean(fake_a) + jnp.mean(fake_b)),
               'd_a_loss': loss_a, 'd_b_loss': loss_b}
    return loss_a + loss_b, (d_state, metrics)

  def generator_loss(self, d_params, d_state, outputs, batch, key):
    del key
    def d(name, x):
      return _apply(self.discriminator, d_params, d_state, name, x,
                    'frozen')[0]
    # The paper's G objective E[(D(G(x)) - 1)^2] has no 1/2: twice ours.
    adversarial = 2 * (
        losses.least_squares_generator_loss(d('D_B', outputs['fake_b']))
        + losses.least_squares_generator_loss(d('D_A', outputs['fake_a'])))
    cycle = (losses.l1_loss(outputs['rec_a'], batch['a'])
             + losses.l1_loss(outputs['rec_b'], batch['b']))
    loss = adversarial + self.cycle_weight * cycle
    metrics = {'g_adversarial_loss': adversarial, 'cycle_loss': cycle}
    if is_enabled(self.identity_weight):
      identity = (losses.l1_loss(outputs['idt_b'], batch['b'])
                  + losses.l1_loss(outputs['idt_a'], batch['a']))
      loss += self.identity_weight * self.cycle_weight * identity
      metrics['identity_loss'] = identity
    return loss, metrics

  def sample_grid_columns(self, num_images: int) -> int:
    return num_images // 6   # six rows: a, G(a), F(G(a)), b, F(b), G(F(b))

  def sample_inputs(self, key, num, examples=None):
    del key
    return {'a': examples['a'][:num], 'b': examples['b'][:num]}

  def sample(self, g_params, g_state, inputs):
    """Rows: a, G(a), F(G(a)), b, F(b), G(F(b))."""
    a, b = inputs['a'], inputs['b']
    g = functools.partial(self.apply_generator, g_params, state=g_state)
    fake_b, fake_a = g('G', a), g('F', b)
    return jnp.concatenate([a, fake_b, g('F', fake_b), b, fake_a,
                            g('G', fake_a)])


def _by_collection(variables: dict) -> dict:
  """{network: {collection: tree}} -> {collection: {network: tree}}."""
  collections = {}
  for name, network in variables.items():
    for collection, tree in network.items():
      collections.setdefault(collection, {})[name] = tree
  return collections


def _apply(module, params, state: dict, name: str, x, mode: str):
  """Network `name` of a side on x: (output, the side's state).

  mode 'update': training mode, its non-parameter state (spectral norm's
  vectors) updated; 'frozen': training mode, state read only (the later
  calls of one step); 'eval': evaluation mode.
  """
  variables = {'params': params[name],
               **{collection: tree[name] for collection, tree in state.items()}}
  if mode == 'update' and state:
    y, updated = module.apply(variables, x, train=True, mutable=list(state))
    return y, {c: {**state[c], name: updated[c]} for c in state}
  return module.apply(variables, x, train=mode != 'eval'), state
