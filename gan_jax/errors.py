"""User-facing errors: the commands print their message and exit nonzero.

Each names what is wrong and what would be valid; none leaves a half-written
workdir or a broken checkpoint behind. This module imports nothing of
gan_jax, so every component can raise these errors and check its own config
section with `check`.
"""

from typing import Any


class GanJaxError(Exception):
  """Base of the errors that stop a run with a message, not a traceback."""


class ConfigError(GanJaxError, ValueError):
  """A config field has a value gan_jax cannot run with."""


class DataError(GanJaxError):
  """A dataset cannot be read: missing, empty, corrupt or not prepared."""


class WorkdirError(GanJaxError):
  """The workdir cannot be created or written."""


class CheckpointError(GanJaxError):
  """A checkpoint cannot be restored (corrupt, or from a different config)."""


class NonFiniteLossError(GanJaxError, FloatingPointError):
  """A loss became NaN or Inf; training stops before saving the bad state."""


def check(condition: bool, field: str, value: Any, valid: str) -> None:
  """Raises ConfigError('config.<field>=<value> is invalid: expected <valid>')."""
  if not condition:
    raise ConfigError(f'config.{field}={value!r} is invalid: expected {valid}')
