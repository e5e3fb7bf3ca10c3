"""The workdir: created and checked before a run writes anything into it."""

from __future__ import annotations

import os

from gan_jax.errors import WorkdirError


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
    raise WorkdirError(f'--workdir={workdir} is not a writable directory: '
                       f'{e.strerror or e}. Give a directory you can write '
                       'to.') from e
  return workdir
