"""Configuration: the run's fields, composed with each component's section.

Config files under `configs/` start from `default_config()` and change a few
fields. They take a compact argument string after a colon, as in big_vision:

    --config=configs/dcgan.py:res=64,dataset=digits

`parse_arg` turns that string into typed values. Each component owns its
section, its defaults and their validation (`config.model`: gan_jax.models;
`config.loss`: core.losses; `config.augment`: core.augment;
`config.optimizer`: core.optim;
`config.dataset`: gan_jax.data; `config.eval` and `config.evals`:
eval.evaluator); this module holds the run's own fields and composes the
rest. `validate` checks the finished config before anything is written to the
workdir, so a bad value stops the run with one error that names the field and
what would be valid.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import ml_collections

from gan_jax import data
from gan_jax import models
from gan_jax.core import augment
from gan_jax.core import losses
from gan_jax.core import optim
from gan_jax.core import train_step
from gan_jax.errors import ConfigError, check
from gan_jax.eval import evaluator
from gan_jax.training import health


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


def set_fields(config: ml_collections.ConfigDict,
               overrides: dict[str, Any]) -> ml_collections.ConfigDict:
  """Sets each dotted field as `--config.a.b=value` does; returns `config`.

  Raises:
    ConfigError: for an unknown field or a value of the wrong type.
  """
  for path, value in overrides.items():
    try:
      set_field(config, path, value)
    except TypeError as e:   # ml_collections: a value of the wrong type
      raise ConfigError(f'config.{path}={value!r}: {e}') from e
  return config


def load(path: str, arg: str | None = None,
         **overrides: Any) -> ml_collections.ConfigDict:
  """The config `--config=<path>:<arg> --config.<field>=<value>...` gives.

  For notebooks and scripts: `load('configs/dcgan.py', 'res=32',
  batch_size=64)`, with dotted fields as `**{'model.g_features': 32}`.
  A `path` of the form 'file.py:arg' is split as the command line does.
  The result is not validated; `validate` is what a run calls next.

  Raises:
    ConfigError: for a missing file, a bad argument or an unknown field.
  """
  if arg is None and ':' in path:
    path, arg = path.split(':', 1)
  if not os.path.isfile(path):
    raise ConfigError(f'config file {path} does not exist (a .py file '
                      'defining get_config, e.g. configs/dcgan.py)')
  name = os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(f'gan_jax_config_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg) if arg is not None else module.get_config()
  return set_fields(config, overrides)


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
  # n generator updates per discriminator update, on the same latents
  # (DCGAN-tensorflow's two, kept by VEEGAN's Stacked MNIST setup).
  config.g_steps_per_d_step = 1
  # When the generator's loss sees the discriminator: 'alternating' (after
  # the step's D update, pytorch/examples' DCGAN) or 'simultaneous' (before
  # it: both gradients from one D, as ALI's and PacGAN's 2-D code).
  config.update_order = 'alternating'
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

  config.model = models.model_config()
  config.loss = losses.loss_config()
  config.augment = augment.augment_config()
  config.optimizer = optim.optimizer_config()
  config.dataset = data.dataset_config()
  # Evaluation: how metrics sample, and each metric's period in train steps
  # during training (0: only `python -m gan_jax.evaluate`).
  config.eval = evaluator.eval_config()
  config.evals = evaluator.evals_config()
  # The health monitor's thresholds (training/health.py).
  config.health = health.health_config()
  return config


_POSITIVE_INTS = ('batch_size', 'num_train_steps', 'log_every_steps',
                  'checkpoint_every_steps', 'sample_every_steps',
                  'keep_checkpoints', 'd_steps_per_g_step',
                  'g_steps_per_d_step', 'num_samples',
                  'steps_per_dispatch')
# Each component's section and the function that checks it.
SECTIONS = (models.validate, losses.validate, augment.validate, optim.validate,
            data.validate, evaluator.validate, health.validate)


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the run's fields, then each component's section.

  Unknown field names are already rejected by `lock_config=True` when a flag
  overrides them; what only a built piece can know (a model's resolutions, a
  variant's losses) is checked where that piece is built.

  Raises:
    ConfigError: naming the first invalid field and what would be valid.
  """
  for name in _POSITIVE_INTS:
    check(config[name] > 0, name, config[name], 'an integer > 0')
  check(isinstance(config.seed, int) and 0 <= config.seed < 2**31, 'seed',
        config.seed, 'an integer in [0, 2**31) (it seeds the data order, '
        'the flips and the initialisation)')
  check(config.mesh.data == -1 or config.mesh.data >= 1, 'mesh.data',
        config.mesh.data, '-1 (all devices) or a number of devices >= 1')
  check(0.0 <= config.ema_decay < 1.0, 'ema_decay', config.ema_decay,
        'a number in [0, 1) (0 disables the EMA)')
  check(config.update_order in train_step.UPDATE_ORDERS, 'update_order',
        config.update_order, f'one of {list(train_step.UPDATE_ORDERS)}')
  for validate_section in SECTIONS:
    validate_section(config)
