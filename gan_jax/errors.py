"""User-facing errors: the commands print their message and exit nonzero.

Each names what is wrong and what would be valid; none leaves a half-written
workdir or a broken checkpoint behind. This module imports nothing of
gan_jax, so every component can raise these errors and check its own config
section with `check`.
"""

import errno
import os
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


class Stopped(GanJaxError):
  """SIGINT or SIGTERM stopped the run after saving a checkpoint."""


class NonFiniteLossError(GanJaxError, FloatingPointError):
  """A loss became NaN or Inf; training stops before saving the bad state."""


def check(condition: bool, field: str, value: Any, valid: str) -> None:
  """Raises ConfigError('config.<field>=<value> is invalid: expected <valid>')."""
  if not condition:
    raise ConfigError(f'config.{field}={value!r} is invalid: expected {valid}')


def describe_os_error(error: OSError, doing: str) -> str:
  """'<doing>: <what the OS said> [<errno name>]', naming the file if known.

  Args:
    error: the OSError.
    doing: what gan_jax was doing, e.g. 'cannot write step 500 to DIR'.
  """
  name = errno.errorcode.get(error.errno, '') if error.errno else ''
  reason = error.strerror or str(error) or type(error).__name__
  where = f' ({error.filename})' if error.filename else ''
  hint = {errno.ENOSPC: 'the disk is full', errno.EDQUOT: 'the quota is full',
          errno.EACCES: 'no permission', errno.EPERM: 'no permission',
          errno.EROFS: 'a read-only file system'}.get(error.errno)
  text = f'{doing}{where}: {reason}'
  if name:
    text += f' [{name}]'
  if hint and hint not in reason.lower():
    text += f', {hint}'
  return text


def os_error_message(error: OSError) -> str:
  """The one line a command prints for an OSError nothing else explained."""
  doing = ('cannot write' if error.errno in (errno.ENOSPC, errno.EDQUOT,
                                             errno.EROFS)
           else 'cannot read or write')
  if error.filename:
    doing += f' {os.fspath(error.filename)}'
    error = OSError(error.errno, error.strerror)
  return describe_os_error(error, doing)
