"""What every command does with a failure: one line, a nonzero exit.

`run(main)` wraps a command's absl main: a `GanJaxError` (a problem with the
input, the config, the data, the disk) and any `OSError` end the process with
exactly one `gan_jax: error: ...` line on stderr and exit status 1 (warnings
may come before it); anything else is a bug in gan_jax and is reported the
same way, naming the exception. `--verbose` (or GAN_JAX_VERBOSE=1) shows the
traceback instead.
"""

from __future__ import annotations

import logging as pylogging
import os
import sys
import threading
from typing import Callable

from absl import app
from absl import flags
from absl import logging

from gan_jax.errors import GanJaxError, os_error_message

flags.DEFINE_bool('verbose', False, 'Show the traceback of an error '
                  '(also GAN_JAX_VERBOSE=1).')


def verbose_from_environment() -> bool:
  return os.environ.get('GAN_JAX_VERBOSE', '') not in ('', '0')


def verbose() -> bool:
  return flags.FLAGS.verbose or verbose_from_environment()


def fail(message: str) -> None:
  """Ends the process with the one error line."""
  sys.stderr.flush()
  sys.exit(f'gan_jax: error: {message}')


def guarded(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
  """`main` with every failure turned into the one error line."""
  def wrapper(argv):
    try:
      return main(argv)
    except (app.UsageError, SystemExit):
      raise
    except GanJaxError as e:
      if verbose():
        raise
      fail(str(e))
    except OSError as e:
      if verbose():
        raise
      fail(os_error_message(e))
    except KeyboardInterrupt:
      # The run's own cleanup (checkpoint writes, the workdir lock, event
      # files) ran as the exception unwound. The interpreter's teardown is
      # skipped: after an interrupt inside JAX's lowering it crashed with
      # SIGSEGV (5 of 5 tries of Ctrl-C during initialisation).
      sys.stdout.flush()
      sys.stderr.write('gan_jax: error: interrupted: run the same command to '
                       'resume from the last checkpoint\n')
      sys.stderr.flush()
      os._exit(1)  # pylint: disable=protected-access
    except Exception as e:  # pylint: disable=broad-except
      if verbose():
        raise
      lines = str(e).strip().splitlines()
      fail(f'unexpected {type(e).__name__}: {lines[0] if lines else ""} (a bug '
           'in gan_jax: GAN_JAX_VERBOSE=1 shows the traceback)')
  return wrapper


def _drop_closed_loop_noise(previous):
  """An unraisable hook without orbax's 'Event loop is closed' reports.

  When TensorStore fails one read of a damaged checkpoint, orbax closes its
  asyncio loop while the other reads are still in flight; each of those then
  reports `RuntimeError('Event loop is closed')` as unraisable, a traceback
  apiece, although the failure was handled (`Checkpointer.restore_latest`).
  """
  def hook(unraisable):
    value = unraisable.exc_value
    if isinstance(value, RuntimeError) and str(value) == (
        'Event loop is closed'):
      return
    previous(unraisable)
  return hook


def _thread_failure_as_warning(arguments) -> None:
  """A background thread's exception as one warning line, not a traceback.

  Orbax writes checkpoints on background threads; their failure (a full
  disk) surfaces again in the main thread, which reports it as the error.
  """
  lines = str(arguments.exc_value).strip().splitlines()
  thread = arguments.thread.name if arguments.thread else 'a thread'
  logging.warning('%s failed: %s: %s', thread, arguments.exc_type.__name__,
                  lines[-1][:300] if lines else '')


class _UnretrievedFilter(pylogging.Filter):
  """Drops asyncio's 'Task exception was never retrieved' reports.

  The same failed restore leaves orbax's other in-flight TensorStore reads as
  asyncio tasks whose exceptions nobody awaits; when the garbage collector
  frees them (at any moment, often after the error line, at exit) asyncio
  logs each with its traceback. The failure itself was already handled.
  """

  def filter(self, record: pylogging.LogRecord) -> bool:
    return 'exception was never retrieved' not in str(record.msg)


class _LibraryFilter(pylogging.Filter):
  """Keeps the commands' logs to gan_jax's own lines.

  Drops jax internals' INFO records, and every orbax record: orbax logs each
  save, and logs a failed background write with its traceback before
  raising it again in the main thread, where gan_jax reports it.
  """

  def filter(self, record: pylogging.LogRecord) -> bool:
    path = record.pathname.replace('\\', '/')
    if '/orbax/' in path:
      return False
    return record.levelno >= pylogging.WARNING or '/jax/_src/' not in path


def _quiet_libraries(argv):
  del argv
  if not verbose():
    logging.get_absl_handler().addFilter(_LibraryFilter())


def run(main: Callable[[list[str]], None], **kwargs) -> None:
  """`absl.app.run` of the guarded `main`, with quiet library logs."""
  if not verbose_from_environment():
    sys.unraisablehook = _drop_closed_loop_noise(sys.unraisablehook)
    threading.excepthook = _thread_failure_as_warning
    pylogging.getLogger('asyncio').addFilter(_UnretrievedFilter())
  app.call_after_init(lambda: _quiet_libraries(None))
  app.run(guarded(main), **kwargs)
