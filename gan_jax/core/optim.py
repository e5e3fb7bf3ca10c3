"""The two sides' optimizers and their config section (`config.optimizer`).

Each side (generator, discriminator) has its own optax transformation and its
own state in `GANState`. Hyperparameters are injected into the optax state
(`optax.inject_hyperparams`), so the learning rate and betas are arrays in the
pytree: logged each step and ready to be vmapped over in a population.
"""

from __future__ import annotations

import jax
import ml_collections
import optax

from gan_jax.core.switches import is_enabled
from gan_jax.errors import check

OPTIMIZERS = ('adam', 'adamw', 'rmsprop', 'sgd')
SCHEDULES = ('constant', 'linear_decay', 'cosine')
SIDES = ('generator', 'discriminator')


def side_config(learning_rate: float = 2e-4, b1: float = 0.5,
                b2: float = 0.999) -> ml_collections.ConfigDict:
  """One side's optimizer (each network side has its own optax state)."""
  return ml_collections.ConfigDict(dict(
      name='adam',             # adam | adamw | rmsprop | sgd
      learning_rate=learning_rate,
      b1=b1,                   # Adam beta1 (momentum for sgd/rmsprop)
      b2=b2,                   # Adam beta2 (decay for rmsprop)
      weight_decay=0.0,        # adamw only
      schedule='constant',     # constant | linear_decay | cosine
      decay_start_fraction=0.5,  # linear_decay: constant until then, then to 0
      warmup_steps=0,
  ))


def optimizer_config() -> ml_collections.ConfigDict:
  """`config.optimizer`: DCGAN's Adam 2e-4, beta1 0.5 on both sides."""
  return ml_collections.ConfigDict({side: side_config() for side in SIDES})


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks `config.optimizer` (ConfigError naming the first bad field)."""
  for side in SIDES:
    opt = config.optimizer[side]
    prefix = f'optimizer.{side}.'
    check(opt.name in OPTIMIZERS, prefix + 'name', opt.name,
          f'one of {list(OPTIMIZERS)}')
    check(opt.learning_rate > 0, prefix + 'learning_rate', opt.learning_rate,
          'a number > 0')
    check(0.0 <= opt.b1 < 1.0, prefix + 'b1', opt.b1, 'a number in [0, 1)')
    check(0.0 <= opt.b2 < 1.0, prefix + 'b2', opt.b2, 'a number in [0, 1)')
    check(opt.schedule in SCHEDULES, prefix + 'schedule', opt.schedule,
          f'one of {list(SCHEDULES)}')
    check(0.0 <= opt.decay_start_fraction <= 1.0,
          prefix + 'decay_start_fraction', opt.decay_start_fraction,
          'a number in [0, 1]')
    check(opt.warmup_steps >= 0, prefix + 'warmup_steps', opt.warmup_steps,
          'an integer >= 0')


def learning_rate_schedule(config: ml_collections.ConfigDict,
                           num_updates: int) -> optax.Schedule:
  """The learning rate of one side as a function of its update count."""
  lr = config.learning_rate
  if config.schedule == 'constant':
    schedule = optax.constant_schedule(lr)
  elif config.schedule == 'linear_decay':
    # Constant, then linear to zero at the end (CycleGAN, Zhu et al. 2017).
    start = int(config.decay_start_fraction * num_updates)
    schedule = optax.join_schedules(
        [optax.constant_schedule(lr),
         optax.linear_schedule(lr, 0.0, max(num_updates - start, 1))],
        [start])
  elif config.schedule == 'cosine':
    schedule = optax.cosine_decay_schedule(lr, max(num_updates, 1))
  else:
    raise ValueError(f'unknown schedule {config.schedule!r}')
  if config.warmup_steps:
    schedule = optax.join_schedules(
        [optax.linear_schedule(0.0, lr, config.warmup_steps), schedule],
        [config.warmup_steps])
  return schedule


def make_optimizer(config: ml_collections.ConfigDict,
                   num_updates: int) -> optax.GradientTransformation:
  """One side's optimizer; its hyperparameters live in its state as arrays."""
  schedule = learning_rate_schedule(config, num_updates)
  if config.name == 'adam':
    return optax.inject_hyperparams(optax.adam)(
        learning_rate=schedule, b1=config.b1, b2=config.b2)
  if config.name == 'adamw':
    return optax.inject_hyperparams(optax.adamw)(
        learning_rate=schedule, b1=config.b1, b2=config.b2,
        weight_decay=config.weight_decay)
  if config.name == 'rmsprop':
    return optax.inject_hyperparams(optax.rmsprop)(
        learning_rate=schedule, decay=config.b2, momentum=_momentum(config.b1))
  if config.name == 'sgd':
    return optax.inject_hyperparams(optax.sgd)(
        learning_rate=schedule, momentum=_momentum(config.b1))
  raise ValueError(f'unknown optimizer {config.name!r}')


def _momentum(b1):
  return b1 if is_enabled(b1) else None


def make_optimizers(config: ml_collections.ConfigDict):
  """(generator, discriminator) optimizers; each side's schedule spans its
  updates (G n times and D k times per step)."""
  return (make_optimizer(config.optimizer.generator,
                         config.num_train_steps * config.g_steps_per_d_step),
          make_optimizer(config.optimizer.discriminator,
                         config.num_train_steps * config.d_steps_per_g_step))


def learning_rate(opt_state) -> jax.Array:
  """The current learning rate held in an injected-hyperparameter state."""
  return opt_state.hyperparams['learning_rate']
