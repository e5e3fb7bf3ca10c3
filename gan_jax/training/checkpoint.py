"""Checkpoints: one orbax CheckpointManager over the whole `GANState` pytree.

Orbax writes each step into a temporary directory and renames it when
complete, so a run killed mid-save leaves the previous checkpoint intact, and
restore only ever sees finished checkpoints. The data position needs no
saving: batches are a function of the step (see `gan_jax.data.batching`).
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp

from gan_jax.errors import CheckpointError


class Checkpointer:
  """Saves and restores `GANState`s under `directory`, keeping the newest."""

  def __init__(self, directory: str, max_to_keep: int):
    self.directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state) -> None:
    """Starts an asynchronous save; device arrays are copied before return."""
    self._manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, template, step: int | None = None):
    """Restores `step` (default: newest) with the structure of `template`.

    Raises:
      CheckpointError: if the checkpoint is unreadable or was written by a run
        with a different model/optimizer structure.
    """
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    try:
      return self._manager.restore(step,
                                   args=ocp.args.StandardRestore(abstract))
    except Exception as e:  # orbax raises many types; all mean the same here
      raise CheckpointError(
          f'cannot restore checkpoint step {step} from {self.directory}: '
          f'{type(e).__name__}: {e}. Either it is corrupt or it was written '
          'with a different config (model, optimizer or dataset shape). Use a '
          'new --workdir, or remove that step directory to resume from an '
          'earlier one.') from e

  def wait_until_finished(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()
