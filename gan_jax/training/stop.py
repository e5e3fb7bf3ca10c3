"""Stopping between steps: Ctrl-C and a scheduler's SIGTERM keep the steps.

Without this, SIGINT raises KeyboardInterrupt wherever the run is, and
SIGTERM (what Slurm, Kubernetes and preemptible VMs send before killing)
ends the process at once: both lose every step since the last periodic
checkpoint. While `StopOnSignals` is active, the first SIGINT or SIGTERM only
records its name; the training loop then saves a checkpoint after the
dispatch in flight and stops (`errors.Stopped`: one line, exit status 1).
A second signal does what it did before: Ctrl-C twice interrupts at once.
"""

from __future__ import annotations

import os
import signal
import threading

import jax

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
  """A context manager; `signal_name` is the first signal received, or None.

  Handlers are installed only where they can work: in the main thread (the
  only one Python delivers signals to), in a single-process run (in a
  multi-host run the other processes would not see the signal, and the save,
  a collective, would wait for them), and not for a signal the process was
  started ignoring (a shell's background job ignores SIGINT).
  """

  def __init__(self):
    self.signal_name: str | None = None
    self._previous: dict[int, object] = {}

  def _handle(self, signum, frame) -> None:
    del frame
    self.signal_name = signal.Signals(signum).name
    self._restore()       # the next signal acts as it did before
    # os.write: a handler must not re-enter the buffered sys.stderr.
    os.write(2, f'gan_jax: {self.signal_name}: saving a checkpoint after the '
             'step in progress, then stopping (send it again to stop at '
             'once)\n'.encode())

  def _restore(self) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    self._previous = {}

  def __enter__(self) -> StopOnSignals:
    if (threading.current_thread() is threading.main_thread()
        and jax.process_count() == 1):
      for signum in SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN:
          continue
        self._previous[signum] = (signal.SIG_DFL if previous is None
                                  else previous)
        signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    self._restore()
