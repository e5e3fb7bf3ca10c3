"""Configuration: shared defaults, compact config arguments and validation.

Config files under `configs/` start from `default_config()` and change a few
fields. They take a compact argument string after a colon, as in big_vision:

    --config=configs/dcgan.py:res=64,dataset=digits

`parse_arg` turns that string into typed values; `validate` checks the finished
config before anything is written to the workdir, so a bad value stops the run
with one error that names the field and what would be valid.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections

from gan_jax.errors import ConfigError  # pylint: disable=unused-import


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses a compact `key=value,key=value` string against typed defaults.

  Args:
    arg: the string after the colon in `--config=path.py:arg`, or None.
    **defaults: every accepted key with its default value; a value's type is
      the type the string is converted to (bool accepts true/false/1/0).

  Returns:
    A ConfigDict with one field per default, overridden where `arg` says so.

  Raises:
    ConfigError: for a key not in `defaults` or a value of the wrong type.
  """
  result = ml_collections.ConfigDict(defaults)
  if not arg:
    return result
  for item in arg.split(','):
    key, sep, value = item.partition('=')
    key = key.strip()
    if not sep or key not in defaults:
      raise ConfigError(
          f'config argument {item!r} is not one of key=value with key in '
          f'{sorted(defaults)}')
    kind = type(defaults[key])
    try:
      if kind is bool:
        if value.lower() not in ('true', 'false', '1', '0'):
          raise ValueError(value)
        parsed = value.lower() in ('true', '1')
      else:
        parsed = kind(value)
    except ValueError:
      raise ConfigError(f'config argument {key}={value!r} is not a valid '
                        f'{kind.__name__}') from None
    result[key] = parsed
  return result


def is_enabled(value: Any) -> bool:
  """Whether a numeric switch (a weight, a decay) turns its term on.

  Inside a population (`gan_jax.population`) the numeric hyperparameters are
  traced arrays, one value per member: the term is then computed for every
  member and weighted by each member's value, which is the same arithmetic
  as skipping it where the value is 0.
  """
  return isinstance(value, jax.core.Tracer) or bool(value)


def field_parent(config: ml_collections.ConfigDict, path: str):
  """The group holding the dotted field `path` ('optimizer.generator.b1').

  Raises:
    ConfigError: naming an unknown field and the fields valid at its level.
  """
  parts = path.split('.')
  node = config
  for depth, part in enumerate(parts):
    if not hasattr(node, 'keys') or part not in node:
      level = '.'.join(['config'] + parts[:depth])
      valid = sorted(node.keys()) if hasattr(node, 'keys') else []
      raise ConfigError(f'unknown config field config.{path}: {level} has '
                        f'the fields {valid}')
    if depth < len(parts) - 1:
      node = node[part]
  return node


def set_field(config: ml_collections.ConfigDict, path: str, value: Any):
  """Sets the dotted field `path` to `value` (ConfigError if unknown)."""
  field_parent(config, path)[path.rsplit('.', 1)[-1]] = value


def optimizer_config(learning_rate: float = 2e-4, b1: float = 0.5,
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


def default_config() -> ml_collections.ConfigDict:
  """The fields every gan_jax run has, with DCGAN-paper defaults."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.batch_size = 64
  config.num_train_steps = 1500
  config.log_every_steps = 100
  config.checkpoint_every_steps = 500
  config.sample_every_steps = 250
  config.keep_checkpoints = 3
  # k discriminator updates per generator update, all inside one jitted
  # train_step (Goodfellow et al. 2014, Algorithm 1; WGAN uses k = 5).
  config.d_steps_per_g_step = 1
  # Exponential moving average of the generator's parameters, used for the
  # samples when > 0 (Karras et al. 2018; Yazici et al. 2019). 0 disables.
  config.ema_decay = 0.0
  config.num_samples = 64      # images in each PNG sample grid
  # Train steps run per dispatch, in one lax.scan: cuts the host's per-step
  # overhead for small models. Log/checkpoint/sample periods that are
  # multiples of it keep one compiled program.
  config.steps_per_dispatch = 1
  # Data parallelism: the batch is sharded over the mesh's 'data' axis and
  # the parameters replicated (one jit, no pmap). data = -1: every device of
  # every host; n: the first n devices.
  config.mesh = ml_collections.ConfigDict(dict(data=-1))

  config.model = ml_collections.ConfigDict(dict(
      name='dcgan',            # see gan_jax.models.MODELS
      latent_dim=100,
      conditional=False,       # class-conditional G and D (needs labels)
      # PacGAN (Lin et al. 2018): D scores this many samples jointly; 1 = off.
      pack=1,
      # Computation dtype of the networks: float32, or bfloat16 for mixed
      # precision (parameters, optimizer states and losses stay float32).
      dtype='float32',
  ))
  config.loss = ml_collections.ConfigDict(dict(
      name='non_saturating',   # see gan_jax.losses.GAN_LOSSES
      label_smoothing=0.0,     # one-sided, for minimax/non_saturating
      gradient_penalty_weight=0.0,  # WGAN-GP lambda (Gulrajani et al.: 10)
      r1_weight=0.0,           # R1 gamma (Mescheder et al. 2018)
  ))
  config.optimizer = ml_collections.ConfigDict(dict(
      generator=optimizer_config(),
      discriminator=optimizer_config(),
  ))
  config.dataset = ml_collections.ConfigDict(dict(
      name='digits',           # see gan_jax.input_pipeline (module doc)
      split='train',           # train | test (tfds: any split name)
      data_dir=ml_collections.config_dict.placeholder(str),  # tfds data_dir
      resolution=32,           # images are resized to resolution x resolution
      channels=1,              # 1 (grey) or 3 (RGB)
      crop_size=0,             # central square crop first; 0: largest square
      random_flip=False,       # random horizontal flips (not for digits!)
      num_examples=100_000,    # size of a synthetic dataset (Gaussian mixtures)
      prefetch=2,              # batches prepared ahead on the device
      num_workers=0,           # grain reader processes (0: a thread suffices)
  ))
  # Evaluation (gan_jax.evaluation): how metrics sample, and each metric's
  # period in train steps during training (0: only `gan_jax.evaluate`).
  from gan_jax import evaluation  # pylint: disable=g-import-not-at-top
  config.eval = evaluation.eval_config()
  config.evals = evaluation.evals_config()
  return config


_POSITIVE_INTS = ('batch_size', 'num_train_steps', 'log_every_steps',
                  'checkpoint_every_steps', 'sample_every_steps',
                  'keep_checkpoints', 'd_steps_per_g_step', 'num_samples',
                  'steps_per_dispatch')
_OPTIMIZERS = ('adam', 'adamw', 'rmsprop', 'sgd')
_SCHEDULES = ('constant', 'linear_decay', 'cosine')


def _check(condition: bool, field: str, value: Any, valid: str) -> None:
  if not condition:
    raise ConfigError(f'config.{field}={value!r} is invalid: expected {valid}')


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the values every variant relies on.

  Unknown field names are already rejected by `lock_config=True` when a flag
  overrides them; model-, loss- and dataset-specific checks run where those
  pieces are built (they know what they can do).

  Raises:
    ConfigError: naming the first invalid field and what would be valid.
  """
  # Imported here: the registries import this module for ConfigError.
  from gan_jax import input_pipeline, losses, models  # pylint: disable=g-import-not-at-top

  for name in _POSITIVE_INTS:
    _check(config[name] > 0, name, config[name], 'an integer > 0')
  _check(config.mesh.data == -1 or config.mesh.data >= 1, 'mesh.data',
         config.mesh.data, '-1 (all devices) or a number of devices >= 1')
  _check(0.0 <= config.ema_decay < 1.0, 'ema_decay', config.ema_decay,
         'a number in [0, 1) (0 disables the EMA)')
  _check(config.model.name in models.MODELS, 'model.name', config.model.name,
         f'one of {sorted(models.MODELS)}')
  _check(config.model.latent_dim > 0, 'model.latent_dim',
         config.model.latent_dim, 'an integer > 0')
  _check(config.model.pack >= 1 and config.batch_size % config.model.pack == 0,
         'model.pack', config.model.pack,
         f'an integer >= 1 that divides batch_size={config.batch_size}')
  _check(config.loss.name in losses.GAN_LOSSES, 'loss.name', config.loss.name,
         f'one of {sorted(losses.GAN_LOSSES)}')
  _check(0.0 <= config.loss.label_smoothing < 1.0, 'loss.label_smoothing',
         config.loss.label_smoothing, 'a number in [0, 1)')
  for name in ('gradient_penalty_weight', 'r1_weight'):
    _check(config.loss[name] >= 0, f'loss.{name}', config.loss[name],
           'a number >= 0')
  for side in ('generator', 'discriminator'):
    opt = config.optimizer[side]
    prefix = f'optimizer.{side}.'
    _check(opt.name in _OPTIMIZERS, prefix + 'name', opt.name,
           f'one of {list(_OPTIMIZERS)}')
    _check(opt.learning_rate > 0, prefix + 'learning_rate', opt.learning_rate,
           'a number > 0')
    _check(0.0 <= opt.b1 < 1.0, prefix + 'b1', opt.b1, 'a number in [0, 1)')
    _check(0.0 <= opt.b2 < 1.0, prefix + 'b2', opt.b2, 'a number in [0, 1)')
    _check(opt.schedule in _SCHEDULES, prefix + 'schedule', opt.schedule,
           f'one of {list(_SCHEDULES)}')
    _check(0.0 <= opt.decay_start_fraction <= 1.0,
           prefix + 'decay_start_fraction', opt.decay_start_fraction,
           'a number in [0, 1]')
    _check(opt.warmup_steps >= 0, prefix + 'warmup_steps', opt.warmup_steps,
           'an integer >= 0')
  for name in ('num_samples', 'batch_size'):
    _check(config.eval[name] > 0, f'eval.{name}', config.eval[name],
           'an integer > 0')
  _check(config.eval.features in ('auto', 'identity', 'classifier',
                                  'inception'), 'eval.features',
         config.eval.features,
         "one of ['auto', 'identity', 'classifier', 'inception']")
  for name, period in config.evals.items():
    _check(period >= 0, f'evals.{name}', period,
           'a period in train steps >= 0 (0: not during training)')
  dataset_name = input_pipeline.dataset_kind(config.dataset.name)
  _check(dataset_name in input_pipeline.DATASETS, 'dataset.name',
         config.dataset.name, f'one of {sorted(input_pipeline.DATASETS)}')
  _check(config.dataset.channels in (1, 3), 'dataset.channels',
         config.dataset.channels, '1 or 3')
  _check(config.dataset.resolution > 0, 'dataset.resolution',
         config.dataset.resolution, 'an integer > 0')
  _check(config.dataset.crop_size >= 0, 'dataset.crop_size',
         config.dataset.crop_size, 'an integer >= 0 (0: largest square)')
  _check(config.dataset.num_workers >= 0, 'dataset.num_workers',
         config.dataset.num_workers, 'an integer >= 0')
  _check(config.dataset.prefetch >= 1, 'dataset.prefetch',
         config.dataset.prefetch, 'an integer >= 1')
