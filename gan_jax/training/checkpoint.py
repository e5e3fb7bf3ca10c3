"""Checkpoints: one orbax CheckpointManager over the whole `GANState` pytree.

Orbax writes each step into a temporary directory and renames it when
complete, so a run killed mid-save leaves the previous checkpoint intact, and
restore only ever sees finished checkpoints. The data position needs no
saving: batches are a function of the step (see `gan_jax.data.batching`).

What can go wrong, and what happens:
  a step's files are damaged   `restore_latest` warns, moves that step aside
                               to `<step>.corrupt` (never deleted) and falls
                               back to the newest intact step; only when none
                               is intact does it stop, with one error.
  another config's checkpoint  the saved arrays' shapes differ from the
                               state's: one error, nothing moved.
  the disk is full, or the     one error naming the directory, the space the
  directory not writable       checkpoint needs and the last intact step;
                               the partial temporary directory is removed.
The manager is closed on every exit path (`close`), so no background thread
reports anything after an error.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging as pylogging
import os
import shutil

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from gan_jax.errors import CheckpointError, WorkdirError, describe_os_error

# orbax names a step's unfinished directory `<step>.orbax-checkpoint-tmp`,
# with or without a `-<timestamp>` suffix (both seen from orbax 0.12.8).
_TEMPORARY = '*.orbax-checkpoint-tmp*'


def _state_bytes(tree) -> int:
  return int(sum(np.prod(np.shape(x)) * np.dtype(x.dtype).itemsize
                 for x in jax.tree.leaves(tree)))


def _signature(tree) -> list[tuple]:
  """The sorted (shape, dtype) of every array: what restoring needs to match."""
  return sorted((tuple(np.shape(x)), str(np.dtype(x.dtype)))
                for x in jax.tree.leaves(tree))


def _os_error_in(exception: BaseException) -> OSError | None:
  """The OSError behind an orbax/TensorStore failure, if it was one."""
  seen = exception
  while seen is not None:
    if isinstance(seen, OSError) and seen.errno:
      return seen
    seen = seen.__cause__ or seen.__context__
  text = str(exception)
  for code, marker in ((errno.ENOSPC, 'No space left on device'),
                       (errno.EDQUOT, 'Disk quota exceeded'),
                       (errno.EACCES, 'Permission denied'),
                       (errno.EROFS, 'Read-only file system')):
    if marker in text:
      return OSError(code, os.strerror(code))
  return None


@contextlib.contextmanager
def _quiet_orbax():
  """Orbax warns about the very damage `restore_latest` handles: silence it."""
  logger = pylogging.getLogger('absl')
  level = logger.level
  logger.setLevel(pylogging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


class Checkpointer:
  """Saves and restores `GANState`s under `directory`, keeping the newest."""

  def __init__(self, directory: str, max_to_keep: int):
    self.directory = os.path.abspath(directory)
    self._bytes = 0
    self._pending_step = None     # the step of the save in flight
    try:
      self._manager = ocp.CheckpointManager(
          self.directory,
          options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                               create=True),
          item_handlers=ocp.StandardCheckpointHandler())
    except OSError as e:
      raise WorkdirError(describe_os_error(e, 'cannot create the checkpoint '
                                           'directory')) from e

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  # --- saving -------------------------------------------------------------------

  def save(self, step: int, state) -> None:
    """Starts an asynchronous save; device arrays are copied before return.

    Raises:
      WorkdirError: when the disk cannot hold it (checked before writing) or
        when a write fails (this one's or the previous asynchronous one's).
    """
    self.wait_until_finished()      # the previous save's failure first
    self._bytes = _state_bytes(state)
    free = shutil.disk_usage(self.directory).free
    if free < self._bytes:
      self._raise_write_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
                              step, free)
    self._pending_step = step
    try:
      self._manager.save(step, args=ocp.args.StandardSave(state))
    except Exception as e:  # pylint: disable=broad-except
      self._handle_write_failure(e, step)

  def wait_until_finished(self) -> None:
    """Blocks until the last save has committed (WorkdirError if it failed)."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      self._handle_write_failure(e, self._pending_step)

  def _handle_write_failure(self, error: Exception, step: int | None):
    os_error = _os_error_in(error)
    if os_error is None:
      raise error
    self._raise_write_error(os_error, step, None)

  def _raise_write_error(self, os_error: OSError, step: int | None,
                         free: int | None):
    try:   # let an earlier save still in flight finish (or fail) first
      self._manager.wait_until_finished()
    except Exception:  # pylint: disable=broad-except
      pass
    self.remove_temporary()
    try:
      self._manager.reload()     # what is on disk, not what was started
    except Exception:  # pylint: disable=broad-except
      pass
    last = self.latest_step()
    kept = (f'the last intact checkpoint is step {last}' if last is not None
            else 'no checkpoint is intact yet')
    needed = f' (a checkpoint needs about {_size(self._bytes)}'
    needed += f', {_size(free)} are free)' if free is not None else ')'

    what = f'step {step}' if step is not None else 'a checkpoint'
    raise WorkdirError(
        describe_os_error(os_error, f'cannot write {what} to '
                          f'{self.directory}') + f'{needed}; {kept}. Free '
        'space or give a --workdir on another disk, then run the same '
        'command to resume.') from os_error

  def remove_temporary(self) -> None:
    """Removes what a failed save left behind (never a finished step)."""
    if jax.process_index() == 0:
      for path in glob.glob(os.path.join(self.directory, _TEMPORARY)):
        shutil.rmtree(path, ignore_errors=True)

  # --- restoring ----------------------------------------------------------------

  def restore(self, template, step: int | None = None):
    """Restores `step` (default: newest) with the structure of `template`.

    Raises:
      CheckpointError: if it is unreadable, or was written with another
        model/optimizer structure.
    """
    step = self.latest_step() if step is None else step
    self._check_structure(step, template)
    try:
      return self._restore(step, template)
    except Exception as e:  # orbax raises many types; all mean corrupt here
      raise CheckpointError(f'checkpoint step {step} in {self.directory} is '
                            f'corrupt: {_first_line(e)}') from e

  def restore_latest(self, template):
    """The newest intact checkpoint, moving damaged ones aside; None if none.

    Raises:
      CheckpointError: when checkpoints exist but none is intact, or when
        they were written with another structure.
    """
    steps = self.all_steps()
    for step in reversed(steps):
      try:
        self._check_structure(step, template)
        return self._restore(step, template)
      except _Corrupt as e:
        self._move_aside(step, e.reason)
      except Exception as e:  # pylint: disable=broad-except
        if isinstance(e, CheckpointError):
          raise
        self._move_aside(step, _first_line(e))
    if steps:
      raise CheckpointError(
          f'no intact checkpoint in {self.directory}: steps {steps} were all '
          'corrupt and are kept as <step>.corrupt. Start again with a new '
          '--workdir.')
    return None

  def _restore(self, step: int, template):
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    with _quiet_orbax():
      return self._manager.restore(step,
                                   args=ocp.args.StandardRestore(abstract))

  def _check_structure(self, step: int, template) -> None:
    """_Corrupt if the step's metadata is unreadable; CheckpointError if it
    describes arrays of other shapes than `template`'s."""
    try:
      with _quiet_orbax():
        metadata = self._manager.item_metadata(step)
    except Exception as e:  # pylint: disable=broad-except
      raise _Corrupt(_first_line(e)) from e
    tree = getattr(metadata, 'tree', metadata)
    if tree is None:
      raise _Corrupt('its metadata is missing')
    if _signature(tree) != _signature(template):
      raise CheckpointError(
          f'checkpoint step {step} in {self.directory} holds arrays of other '
          'shapes than this config builds: it was written with a different '
          'model, optimizer or dataset shape. Use a new --workdir, or the '
          "workdir's config (its config.json).")

  def _move_aside(self, step: int, reason: str) -> None:
    source = os.path.join(self.directory, str(step))
    target = source + '.corrupt'
    suffix = 1
    while os.path.exists(target):
      target, suffix = f'{source}.corrupt{suffix}', suffix + 1
    if jax.process_index() == 0:
      os.replace(source, target)
    logging.warning('Checkpoint step %d is corrupt (%s): moved to %s; '
                    'trying the previous one.', step, reason, target)
    self._manager.reload()

  def close(self) -> None:
    self._manager.close()


class _Corrupt(Exception):
  def __init__(self, reason: str):
    super().__init__(reason)
    self.reason = reason


def _size(count: int) -> str:
  for unit, scale in (('GiB', 2**30), ('MiB', 2**20), ('KiB', 2**10)):
    if count >= scale:
      return f'{count / scale:.1f} {unit}'
  return f'{count} bytes'


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  line = text[0] if text else type(error).__name__
  return line if len(line) <= 160 else line[:157] + '...'

