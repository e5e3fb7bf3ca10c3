"""The standard GAN: G maps noise to data, D scores data.

One class serves the vanilla GAN (MLPs), DCGAN, the conditional GAN and
PacGAN; the networks come from the registered model (`config.model.name`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax import models
from gan_jax.core import augment
from gan_jax.core import losses
from gan_jax.core.switches import is_enabled
from gan_jax.errors import ConfigError
from gan_jax.models import spectral
from gan_jax.variants import registry
from gan_jax.variants.base import Variant, apply_train_mode


def pack(x: jax.Array, m: int) -> jax.Array:
  """(B, ..., C) -> (B / m, ..., m C): m consecutive samples per row (PacGAN).

  Sample j of a pack fills channels [j C, (j + 1) C) of the last axis.
  """
  if m == 1:
    return x
  x = x.reshape((x.shape[0] // m, m) + x.shape[1:])
  x = jnp.moveaxis(x, 1, -2)
  return x.reshape(x.shape[:-2] + (m * x.shape[-1],))



@registry.register('standard')
class StandardGAN(Variant):
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

  DiffAugment (`config.augment.policy`, `core/augment.py`): D sees real and
  generated images through the same kind of random differentiable
  transformations, each batch with its own draw, in its loss and in G's.
  """

  def __init__(self, generator: nn.Module, discriminator: nn.Module,
               gan_loss: losses.GANLoss, loss_config: ml_collections.ConfigDict,
               latent_dim: int, num_classes: int = 0, pack: int = 1,
               augment_policy: tuple[str, ...] = (),
               latent_distribution: str = 'normal'):
    self.generator = generator
    self.discriminator = discriminator
    self.gan_loss = gan_loss
    self.loss_config = loss_config
    self.latent_dim = latent_dim
    self.num_classes = num_classes     # 0: unconditional
    self.pack = pack                   # PacGAN: D scores `pack` samples jointly
    self.augment = augment_policy      # DiffAugment operations (empty: off)
    self.latent_distribution = latent_distribution   # 'normal' | 'uniform'

  # --- construction -----------------------------------------------------------

  @classmethod
  def build(cls, config: ml_collections.ConfigDict,
            data_shape: tuple[int, ...], num_classes: int) -> 'StandardGAN':
    conditional = config.model.get('conditional', False)
    if conditional and not num_classes:
      raise ConfigError(
          'config.model.conditional=True needs labelled data, but '
          f'config.dataset.name={config.dataset.name!r} has no labels: use a '
          'labelled dataset (digits, idx:, npz: with labels, a folder of '
          'class sub-folders) or set config.model.conditional=False')
    if (is_enabled(config.loss.label_smoothing)
        and config.loss.name not in losses.SMOOTHABLE):
      raise ConfigError(
          f'config.loss.label_smoothing={config.loss.label_smoothing} only '
          f'applies to the losses {list(losses.SMOOTHABLE)}, not '
          f'{config.loss.name!r}: set it to 0')
    if conditional and config.model.pack > 1:
      raise ConfigError(
          f'config.model.pack={config.model.pack} is not supported with '
          'config.model.conditional=True (a pack would mix labels): set '
          'model.pack=1 or model.conditional=False')
    policy = augment.parse_policy(config.get('augment', {}).get('policy', ''))
    if policy and len(data_shape) != 3:
      raise ConfigError(
          f'config.augment.policy={config.augment.policy!r} needs images, but '
          f'the data are points of shape {data_shape}: set it to \'\'')
    num_classes = num_classes if conditional else 0
    generator, discriminator = models.build(config.model, data_shape,
                                            num_classes)
    return cls(generator, discriminator, losses.GAN_LOSSES[config.loss.name],
               config.loss, config.model.latent_dim, num_classes,
               config.model.pack, policy,
               config.model.latent_distribution)

  def init(self, key: jax.Array, batch: dict) -> tuple[dict, dict]:
    g_key, d_key = jax.random.split(key)
    z = jnp.zeros((1, self.latent_dim), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32) if self.num_classes else None
    g_variables = self.generator.init(g_key, z, labels, train=False)
    d_variables = self.discriminator.init(
        d_key, pack(batch['x'][:self.pack], self.pack), labels, train=False)
    return dict(g_variables), dict(d_variables)

  # --- the step ---------------------------------------------------------------

  def _latents(self, key: jax.Array, num: int) -> jax.Array:
    shape = (num, self.latent_dim)
    if self.latent_distribution == 'uniform':
      return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
    return jax.random.normal(key, shape, jnp.float32)

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

  def _d(self, d_params, d_state, x, labels, update: bool = True):
    """D in training mode on (packed) samples: (logits, updated state).

    `update=False` leaves spectral norm's vectors as they are: they take one
    power iteration per discriminator update, in its first call (the real
    batch).
    """
    return apply_train_mode(self.discriminator, d_params, d_state,
                            pack(x, self.pack), labels,
                            frozen=() if update else (spectral.COLLECTION,))

  def _critic(self, d_params, d_state, labels):
    """D as a function of its input alone, for the gradient penalties."""
    return lambda x: self._d(d_params, d_state, x, labels, update=False)[0]

  def discriminator_loss(self, d_params, d_state, outputs, batch, key):
    real, fake = batch['x'], outputs['x']
    if self.augment:   # DiffAugment: D sees both through T (own draws)
      key, real_key, fake_key = jax.random.split(key, 3)
      real = augment.diff_augment(real, self.augment, real_key)
      fake = augment.diff_augment(fake, self.augment, fake_key)
    real_logits, new_state = self._d(d_params, d_state, real,
                                     self._labels(batch))
    fake_logits, new_state = self._d(d_params, new_state, fake,
                                     self._labels(outputs), update=False)
    extra = ({'label_smoothing': self.loss_config.label_smoothing}
             if is_enabled(self.loss_config.label_smoothing)
             else {})
    loss = self.gan_loss.discriminator(real_logits, fake_logits, **extra)
    metrics = {'d_real': jnp.mean(self.gan_loss.output(real_logits)),
               'd_fake': jnp.mean(self.gan_loss.output(fake_logits))}
    # Penalties on what D saw (augmented images when DiffAugment is on).
    if is_enabled(self.loss_config.gradient_penalty_weight):
      # Interpolates keep the real labels (as in conditional WGAN-GP code).
      critic = self._critic(d_params, d_state, self._labels(batch))
      penalty = losses.gradient_penalty(critic, real, fake, key)
      loss += self.loss_config.gradient_penalty_weight * penalty
      metrics['gradient_penalty'] = penalty
    if is_enabled(self.loss_config.r1_weight):
      penalty = losses.r1_penalty(
          self._critic(d_params, d_state, self._labels(batch)), real)
      loss += 0.5 * self.loss_config.r1_weight * penalty
      metrics['r1_penalty'] = penalty
    return loss, (new_state, metrics)

  def generator_loss(self, d_params, d_state, outputs, batch, key):
    del batch
    fake = outputs['x']
    if self.augment:   # the same T, so G's gradient flows through it
      fake = augment.diff_augment(fake, self.augment, key)
    fake_logits, _ = self._d(d_params, d_state, fake, self._labels(outputs),
                             update=False)
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
