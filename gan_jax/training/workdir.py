"""The workdir: created, locked and checked against its config before a run
writes anything into it.

  prepare_workdir   creates it and checks that it can be written
  WorkdirLock       one training process per workdir: `<workdir>/.lock`,
                    created atomically, holding host, pid and start time;
                    released on exit; a lock whose process is dead (same
                    host) is taken over with a warning
  check_drift       at resume, the config against the workdir's config.json:
                    fields that leave the run's meaning and the state's
                    structure alone (HARMLESS) are allowed and logged, any
                    other difference stops the run with one error
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import socket
from typing import Any, Sequence

from absl import logging
import ml_collections

from gan_jax.errors import WorkdirError, describe_os_error

LOCK_FILE = '.lock'

# Fields a resumed run may change: periods, lengths, evaluation, speed
# switches, optimizer and loss numbers. Anything else (model, data, loss
# kind, seed, batch) changes what the checkpoint means.
HARMLESS = (
    'num_train_steps', 'log_every_steps', 'checkpoint_every_steps',
    'sample_every_steps', 'keep_checkpoints', 'num_samples',
    'steps_per_dispatch', 'ema_decay', 'mesh.*', 'eval.*', 'evals.*',
    'health.*', 'model.dtype', 'model.upsample', 'dataset.prefetch',
    'dataset.num_workers', 'dataset.data_dir', 'optimizer.*.learning_rate',
    'optimizer.*.b1', 'optimizer.*.b2', 'optimizer.*.weight_decay',
    'optimizer.*.schedule', 'optimizer.*.decay_start_fraction',
    'optimizer.*.warmup_steps',
    'loss.label_smoothing', 'loss.gradient_penalty_weight', 'loss.r1_weight',
    'loss.cycle_weight', 'loss.identity_weight', 'update_order',
)


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir` and checks that it can be written.

  Returns:
    Its absolute path.

  Raises:
    WorkdirError: naming the directory and the OS error.
  """
  workdir = os.path.abspath(workdir)
  try:
    os.makedirs(os.path.join(workdir, 'samples'), exist_ok=True)
    probe = os.path.join(workdir, '.write_test')
    with open(probe, 'w') as f:
      f.write('ok')
    os.remove(probe)
  except OSError as e:
    raise WorkdirError(describe_os_error(
        e, f'--workdir={workdir} is not a writable directory') + '. Give a '
        'directory you can write to.') from e
  return workdir


def _process_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True      # someone else's live process
  return True


class WorkdirLock:
  """An exclusive claim on a workdir by one process (a context manager)."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self.owner = dict(host=socket.gethostname(), pid=os.getpid(),
                      start=datetime.datetime.now().isoformat(
                          timespec='seconds'))
    self._held = False

  def _create(self) -> bool:
    try:
      descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                           0o644)
    except FileExistsError:
      return False
    with os.fdopen(descriptor, 'w') as f:
      json.dump(self.owner, f)
    return True

  def _holder(self) -> dict | None:
    try:
      with open(self.path) as f:
        return json.load(f)
    except FileNotFoundError:
      return None
    except (OSError, ValueError):
      return {}      # unreadable: written half by a process that died

  def acquire(self) -> 'WorkdirLock':
    """Raises WorkdirError naming the holder when a live process has it."""
    for _ in range(3):
      if self._create():
        self._held = True
        return self
      holder = self._holder()
      if holder is None:
        continue     # released meanwhile: try again
      same_host = holder.get('host') == self.owner['host']
      pid = holder.get('pid')
      if holder and not (same_host and isinstance(pid, int)
                         and not _process_alive(pid)):
        raise WorkdirError(
            f'the workdir {os.path.dirname(self.path)} is in use by process '
            f'{pid} on {holder.get("host")} (started {holder.get("start")}): '
            'wait for it, stop it, or give another --workdir. If that '
            f'process is gone (another host crashed), remove {self.path}.')
      # The holder died: take the lock over, atomically (another process may
      # be doing the same; only one rename of the stale file succeeds).
      stale = f'{self.path}.stale.{os.getpid()}'
      try:
        os.replace(self.path, stale)
        os.remove(stale)
      except FileNotFoundError:
        pass
      logging.warning('Took over the lock of %s from process %s on %s, '
                      'which is no longer running.', os.path.dirname(self.path),
                      pid, holder.get('host'))
    raise WorkdirError(f'cannot lock {self.path}: another process keeps '
                       'taking it')

  def release(self) -> None:
    if self._held:
      holder = self._holder()
      if holder and holder.get('pid') == self.owner['pid']:
        os.remove(self.path)
      self._held = False

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc_info):
    self.release()


def _flatten(tree: Any, prefix: str = '') -> dict[str, Any]:
  if isinstance(tree, (dict, ml_collections.ConfigDict)):
    flat = {}
    for key, value in tree.items():
      flat.update(_flatten(value, f'{prefix}{key}.'))
    return flat
  return {prefix[:-1]: list(tree) if isinstance(tree, tuple) else tree}


def config_differences(old: dict, new: ml_collections.ConfigDict
                       ) -> dict[str, tuple[Any, Any]]:
  """{field: (old value, new value)} of the fields both have that differ.

  Fields only one side has (added to or removed from gan_jax since the run
  started) are not compared.
  """
  old_flat = _flatten(old)
  new_flat = _flatten(json.loads(new.to_json_best_effort()))
  return {field: (old_flat[field], new_flat[field])
          for field in sorted(set(old_flat) & set(new_flat))
          if old_flat[field] != new_flat[field]}


def _is_harmless(field: str) -> bool:
  return any(fnmatch.fnmatchcase(field, pattern) for pattern in HARMLESS)


def check_drift(configs: Sequence[ml_collections.ConfigDict],
                directories: Sequence[str]) -> None:
  """Compares each config with the config.json its directory recorded.

  Raises:
    WorkdirError: listing every differing field when any is not HARMLESS.
  """
  for config, directory in zip(configs, directories):
    path = os.path.join(directory, 'config.json')
    try:
      with open(path) as f:
        recorded = json.load(f)
    except FileNotFoundError:
      continue
    except (OSError, ValueError) as e:
      raise WorkdirError(f'{path} is unreadable ({e}): the workdir cannot be '
                         'resumed safely; give a new --workdir') from e
    differences = config_differences(recorded, config)
    blocking = {f: d for f, d in differences.items() if not _is_harmless(f)}
    allowed = {f: d for f, d in differences.items() if _is_harmless(f)}
    if blocking:
      also = f'; also changed, allowed: {_listed(allowed)}' if allowed else ''
      raise WorkdirError(
          f'cannot resume {directory} with a different config '
          f'({_listed(blocking)}{also}): the checkpoints there were trained '
          'with the old values. Give a new --workdir, or set those fields '
          f'back to the values in {path}.')
    if allowed:
      logging.info('Resuming %s with changed settings: %s', directory,
                   _listed(allowed))


def _listed(differences: dict) -> str:
  return ', '.join(f'{field}: {old!r} -> {new!r}'
                   for field, (old, new) in differences.items())
