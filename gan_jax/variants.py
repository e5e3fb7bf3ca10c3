"""GAN variants: what each supplies to the one shared train step.

A variant owns its networks and its two objectives; everything else (the
alternating update, optimizers, EMA, checkpoints, logging) is shared and lives
in `train_step.py` / `train.py`. The contract, used by `train_step`:

  init(key, batch) -> (g_variables, d_variables)
      Flax variables of the generator side and the discriminator side. A side
      may hold several networks (CycleGAN: two of each) in one pytree; each
      side gets one optax state.

  generate(g_params, g_state, batch, key) -> (outputs, new_g_state)
      Everything the generator side computes in a step (for a standard GAN,
      G(z)). The train step differentiates it with `jax.vjp` once and reuses
      the result for the discriminator update and the generator update, so
      the generator's forward pass runs once per step.

  init_variant_state(batch) -> pytree
  discriminator_inputs(variant_state, outputs, key) -> (outputs, variant_state)
      What the discriminator update sees of the generator's outputs, and any
      arrays the variant keeps across steps (CycleGAN: image history pools,
      see `image_pool.py`). The state lives in `GANState.variant_state`,
      inside the jitted step. The standard GAN keeps none.

  discriminator_loss(d_params, d_state, outputs, batch, key)
      -> (loss, (new_d_state, metrics))
      Minimised by the discriminator side; `outputs` arrive gradient-stopped.

  generator_loss(d_params, d_state, outputs, batch, key) -> (loss, metrics)
      Minimised by the generator side; differentiated w.r.t. `outputs`.

  sample_inputs(key, num, examples) / sample(g_params, g_state, inputs)
      A fixed input batch (from noise, or from `examples` of real data) and
      the generator's output for the PNG grids; `sample_grid_columns(num)`.

`g_state` / `d_state` hold non-parameter collections (batch statistics) as
a dict, `{}` when a network has none.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax import config_lib
from gan_jax import image_pool
from gan_jax import losses
from gan_jax import models

PyTree = Any


def pack(x: jax.Array, m: int) -> jax.Array:
  """(B, ..., C) -> (B / m, ..., m C): m consecutive samples per row (PacGAN).

  Sample j of a pack fills channels [j C, (j + 1) C) of the last axis.
  """
  if m == 1:
    return x
  x = x.reshape((x.shape[0] // m, m) + x.shape[1:])
  x = jnp.moveaxis(x, 1, -2)
  return x.reshape(x.shape[:-2] + (m * x.shape[-1],))


def apply_train_mode(module: nn.Module, params: PyTree, state: dict,
                     *inputs) -> tuple[jax.Array, dict]:
  """Applies `module` in training mode; returns (output, updated state)."""
  if not state:
    return module.apply({'params': params}, *inputs, train=True), {}
  return module.apply({'params': params, **state}, *inputs, train=True,
                      mutable=list(state))


class StandardGAN:
  """G maps noise to data, D scores data: vanilla GAN, DCGAN, conditional GAN.

  With `num_classes > 0` it is the conditional GAN of Mirza & Osindero 2014:
  `generate` draws a uniform label per sample and G and D both see it (D sees
  the real labels with real data).

  The discriminator sees the real and the generated batch in two separate
  calls, so batch norm normalises each with its own statistics (as in the
  DCGAN paper and pytorch/examples). In the generator loss, D runs in training
  mode and its updated batch statistics are discarded: D's statistics are
  those of its own update.

  Packing (PacGAN, Lin et al. 2018; `config.model.pack = m`): the
  discriminator scores m samples of one kind (all real or all generated)
  jointly, concatenated along the last axis (channels of images, coordinates
  of points), so a batch of B gives B / m logits. A generator that drops
  modes makes packs of near-duplicates, which a packed D detects.
  """

  def __init__(self, generator: nn.Module, discriminator: nn.Module,
               gan_loss: losses.GANLoss, loss_config: ml_collections.ConfigDict,
               latent_dim: int, num_classes: int = 0, pack: int = 1):
    self.generator = generator
    self.discriminator = discriminator
    self.gan_loss = gan_loss
    self.loss_config = loss_config
    self.latent_dim = latent_dim
    self.num_classes = num_classes     # 0: unconditional
    self.pack = pack                   # PacGAN: D scores `pack` samples jointly

  # --- construction -----------------------------------------------------------

  def init(self, key: jax.Array, batch: dict) -> tuple[dict, dict]:
    g_key, d_key = jax.random.split(key)
    z = jnp.zeros((1, self.latent_dim), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32) if self.num_classes else None
    g_variables = self.generator.init(g_key, z, labels, train=False)
    d_variables = self.discriminator.init(
        d_key, pack(batch['x'][:self.pack], self.pack), labels, train=False)
    return dict(g_variables), dict(d_variables)

  # --- the step ---------------------------------------------------------------

  def init_variant_state(self, batch: dict) -> dict:
    del batch
    return {}

  def discriminator_inputs(self, variant_state, outputs, key):
    del key
    return outputs, variant_state

  def _latents(self, key: jax.Array, num: int) -> jax.Array:
    return jax.random.normal(key, (num, self.latent_dim), jnp.float32)

  def _labels(self, examples: dict):
    return examples['label'] if self.num_classes else None

  def generate(self, g_params, g_state, batch, key):
    z_key, label_key = jax.random.split(key)
    num = batch['x'].shape[0]
    outputs = {}
    if self.num_classes:
      outputs['label'] = jax.random.randint(label_key, (num,), 0,
                                            self.num_classes)
    outputs['x'], g_state = apply_train_mode(
        self.generator, g_params, g_state, self._latents(z_key, num),
        self._labels(outputs))
    return outputs, g_state

  def _d(self, d_params, d_state, x, labels):
    """D in training mode on (packed) samples: (logits, updated state)."""
    return apply_train_mode(self.discriminator, d_params, d_state,
                            pack(x, self.pack), labels)

  def _critic(self, d_params, d_state, labels):
    """D as a function of its input alone, for the gradient penalties."""
    return lambda x: self._d(d_params, d_state, x, labels)[0]

  def discriminator_loss(self, d_params, d_state, outputs, batch, key):
    real, fake = batch['x'], outputs['x']
    real_logits, new_state = self._d(d_params, d_state, real,
                                     self._labels(batch))
    fake_logits, new_state = self._d(d_params, new_state, fake,
                                     self._labels(outputs))
    extra = ({'label_smoothing': self.loss_config.label_smoothing}
             if config_lib.is_enabled(self.loss_config.label_smoothing)
             else {})
    loss = self.gan_loss.discriminator(real_logits, fake_logits, **extra)
    metrics = {'d_real': jnp.mean(self.gan_loss.output(real_logits)),
               'd_fake': jnp.mean(self.gan_loss.output(fake_logits))}
    if config_lib.is_enabled(self.loss_config.gradient_penalty_weight):
      # Interpolates keep the real labels (as in conditional WGAN-GP code).
      critic = self._critic(d_params, d_state, self._labels(batch))
      penalty = losses.gradient_penalty(critic, real, fake, key)
      loss += self.loss_config.gradient_penalty_weight * penalty
      metrics['gradient_penalty'] = penalty
    if config_lib.is_enabled(self.loss_config.r1_weight):
      penalty = losses.r1_penalty(
          self._critic(d_params, d_state, self._labels(batch)), real)
      loss += 0.5 * self.loss_config.r1_weight * penalty
      metrics['r1_penalty'] = penalty
    return loss, (new_state, metrics)

  def generator_loss(self, d_params, d_state, outputs, batch, key):
    del batch, key
    fake_logits, _ = self._d(d_params, d_state, outputs['x'],
                             self._labels(outputs))
    return self.gan_loss.generator(fake_logits), {}

  # --- samples ----------------------------------------------------------------

  def sample_grid_columns(self, num_images: int) -> int | None:
    """Columns of the sample grid: one row per class when conditional."""
    return (max(1, num_images // self.num_classes) if self.num_classes
            else None)

  def sample_inputs(self, key: jax.Array, num: int, examples=None) -> dict:
    """A fixed batch; conditional: row = class, column = one fixed z."""
    del examples
    if not self.num_classes:
      return {'z': self._latents(key, num)}
    columns = self.sample_grid_columns(num)
    z = self._latents(key, columns)
    return {'z': jnp.tile(z, (self.num_classes, 1)),
            'label': jnp.repeat(jnp.arange(self.num_classes), columns)}

  def sample(self, g_params, g_state, inputs: dict) -> jax.Array:
    return self.generator.apply({'params': g_params, **g_state}, inputs['z'],
                                inputs.get('label'), train=False)


class CycleGAN:
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
  D first and G then sees the updated D (see train_step.py), as for every
  variant here.
  """

  def __init__(self, generator: nn.Module, discriminator: nn.Module,
               loss_config: ml_collections.ConfigDict, pool_size: int):
    self.generator = generator
    self.discriminator = discriminator
    self.cycle_weight = loss_config.cycle_weight
    self.identity_weight = loss_config.identity_weight
    self.pool_size = pool_size

  def init(self, key, batch):
    keys = jax.random.split(key, 4)
    a, b = batch['a'][:1], batch['b'][:1]
    g = {'G': self.generator.init(keys[0], a)['params'],
         'F': self.generator.init(keys[1], b)['params']}
    d = {'D_A': self.discriminator.init(keys[2], a)['params'],
         'D_B': self.discriminator.init(keys[3], b)['params']}
    return {'params': g}, {'params': d}

  def init_variant_state(self, batch):
    shape = batch['a'].shape[1:]
    return {'pool_a': image_pool.create(self.pool_size, shape),
            'pool_b': image_pool.create(self.pool_size, shape)}

  def apply_generator(self, params, name: str, x):
    """G (A -> B) or F (B -> A) of the generator params, on images x."""
    return self.generator.apply({'params': params[name]}, x)

  def _d(self, params, name, x):
    return self.discriminator.apply({'params': params[name]}, x)

  def generate(self, g_params, g_state, batch, key):
    del key
    a, b = batch['a'], batch['b']
    g = functools.partial(self.apply_generator, g_params)
    fake_b, fake_a = g('G', a), g('F', b)
    outputs = {'fake_b': fake_b, 'fake_a': fake_a,
               'rec_a': g('F', fake_b), 'rec_b': g('G', fake_a)}
    if config_lib.is_enabled(self.identity_weight):
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
    real_b, fake_b = (self._d(d_params, 'D_B', batch['b']),
                      self._d(d_params, 'D_B', outputs['fake_b']))
    real_a, fake_a = (self._d(d_params, 'D_A', batch['a']),
                      self._d(d_params, 'D_A', outputs['fake_a']))
    loss_b = losses.least_squares_discriminator_loss(real_b, fake_b)
    loss_a = losses.least_squares_discriminator_loss(real_a, fake_a)
    metrics = {'d_real': 0.5 * (jnp.mean(real_a) + jnp.mean(real_b)),
               'd_fake': 0.5 * (jnp.mean(fake_a) + jnp.mean(fake_b)),
               'd_a_loss': loss_a, 'd_b_loss': loss_b}
    return loss_a + loss_b, (d_state, metrics)

  def generator_loss(self, d_params, d_state, outputs, batch, key):
    del d_state, key
    # The paper's G objective E[(D(G(x)) - 1)^2] has no 1/2: twice ours.
    adversarial = 2 * (
        losses.least_squares_generator_loss(
            self._d(d_params, 'D_B', outputs['fake_b']))
        + losses.least_squares_generator_loss(
            self._d(d_params, 'D_A', outputs['fake_a'])))
    cycle = (losses.l1_loss(outputs['rec_a'], batch['a'])
             + losses.l1_loss(outputs['rec_b'], batch['b']))
    loss = adversarial + self.cycle_weight * cycle
    metrics = {'g_adversarial_loss': adversarial, 'cycle_loss': cycle}
    if config_lib.is_enabled(self.identity_weight):
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
    del g_state
    a, b = inputs['a'], inputs['b']
    g = functools.partial(self.apply_generator, g_params)
    fake_b, fake_a = g('G', a), g('F', b)
    return jnp.concatenate([a, fake_b, g('F', fake_b), b, fake_a,
                            g('G', fake_a)])


def build(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          num_classes: int = 0):
  """Builds the variant `config` describes.

  Args:
    config: the run's config.
    data_shape: the shape of one example.
    num_classes: the dataset's number of classes (0: unlabelled); used when
      `config.model.conditional`.
  """
  if config.model.name == 'cyclegan':
    if config.loss.name != 'least_squares':
      raise config_lib.ConfigError(
          f'config.loss.name={config.loss.name!r} is not supported by '
          "cyclegan: expected 'least_squares' (the paper's adversarial loss)")
    if config.model.pack > 1:
      raise config_lib.ConfigError(
          f'config.model.pack={config.model.pack} is not supported by '
          'cyclegan (its PatchGANs judge one image each): set model.pack=1')
    generator, discriminator = models.build(config.model, data_shape)
    return CycleGAN(generator, discriminator, config.loss, config.pool_size)
  conditional = config.model.get('conditional', False)
  if conditional and not num_classes:
    raise config_lib.ConfigError(
        'config.model.conditional=True needs labelled data, but '
        f'config.dataset.name={config.dataset.name!r} has no labels: use a '
        'labelled dataset (digits, idx:, npz: with labels, a folder of class '
        'sub-folders) or set config.model.conditional=False')
  if (config_lib.is_enabled(config.loss.label_smoothing)
      and config.loss.name not in losses.SMOOTHABLE):
    raise config_lib.ConfigError(
        f'config.loss.label_smoothing={config.loss.label_smoothing} only '
        f'applies to the losses {list(losses.SMOOTHABLE)}, not '
        f'{config.loss.name!r}: set it to 0')
  if conditional and config.model.pack > 1:
    raise config_lib.ConfigError(
        f'config.model.pack={config.model.pack} is not supported with '
        'config.model.conditional=True (a pack would mix labels): set '
        'model.pack=1 or model.conditional=False')
  num_classes = num_classes if conditional else 0
  generator, discriminator = models.build(config.model, data_shape,
                                          num_classes)
  return StandardGAN(generator, discriminator,
                     losses.GAN_LOSSES[config.loss.name], config.loss,
                     config.model.latent_dim, num_classes, config.model.pack)
