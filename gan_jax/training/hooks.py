"""What the training loop does between steps, as small hook objects.

The loop (`loop.py`) runs the jitted steps; after each dispatch it calls every
hook that is due. A hook has a `period` in train steps (dispatches end on its
multiples, and it is due there and after the last step), a `__call__(step,
state)` and optionally `end(state)` (after the last step) and `close()`
(always, also on errors). A new concern is one new hook.

Hooks see the run through `Members`: a single run is one member; a
population (`population.py`) has K, with a leading member axis on every
array, and each member logs into its own directory.

Metrics stay on the device until a hook asks for them: `MetricsBuffer`
fetches every pending step's metrics in one transfer and checks that no loss
is NaN or Inf before anything is logged or saved.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

from absl import logging
import jax
import numpy as np

from gan_jax.core import state as state_lib
from gan_jax.errors import NonFiniteLossError
from gan_jax.training import health as health_lib
from gan_jax.training import report as report_lib
from gan_jax.training import summary
from gan_jax.training.checkpoint import Checkpointer


@dataclasses.dataclass
class Members:
  """Who a run logs for: one member, or each member of a population."""
  names: list[str]              # '' for a single run
  directories: list[str]
  writers: list[summary.MetricWriter]
  population: bool
  final_metrics: list[dict] = dataclasses.field(default_factory=list)

  def __post_init__(self):
    self.final_metrics = [{} for _ in self.names]

  def __len__(self) -> int:
    return len(self.names)

  def view(self, values, index: int):
    """Member `index`'s slice of a pytree (the pytree itself in a single run)."""
    return jax.tree.map(lambda x: x[index], values) if self.population else values

  def prefix(self, index: int) -> str:
    return f'[{self.names[index]}] ' if self.names[index] else ''

  def write_final_metrics(self) -> None:
    """Each member's last logged means and evaluations, as final_metrics.json."""
    if jax.process_index() == 0:
      for directory, metrics in zip(self.directories, self.final_metrics):
        with open(os.path.join(directory, 'final_metrics.json'), 'w') as f:
          json.dump(metrics, f, indent=2)

  def close(self) -> None:
    for writer in self.writers:
      writer.close()


def per_step(fetched: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
  """(first step, metrics stacked over n steps) -> one (step, metrics) each."""
  return [(first + i, {name: values[i] for name, values in metrics.items()})
          for first, metrics in fetched
          for i in range(len(next(iter(metrics.values()))))]


class MetricsBuffer:
  """Each dispatch's metrics, on the device until a hook fetches them."""

  def __init__(self, checkpointer: Checkpointer):
    self.checkpointer = checkpointer
    self._pending: list[tuple[int, Any]] = []
    self._fetched: list[tuple[int, dict]] = []
    self._since: tuple[float, int] | None = None    # (time, step)

  def add(self, first_step: int, metrics) -> None:
    """Metrics (stacked over a dispatch's steps) from `first_step` on."""
    if self._since is None:    # timed from the first dispatch (compiled)
      self._since = (time.perf_counter(), first_step - 1)
    self._pending.append((first_step, metrics))

  def fetch(self) -> list[tuple[int, dict]]:
    """Every step's metrics since the last `drain`, on the host, checked.

    Raises:
      NonFiniteLossError: naming the first NaN/Inf loss and the step, before
        any hook logs or saves the state it came from.
    """
    if self._pending:
      self._fetched += per_step(jax.device_get(self._pending))
      self._pending = []
      self._check_finite()
    return self._fetched

  def drain(self, step: int) -> tuple[list[tuple[int, dict]], float]:
    """(every step's metrics, steps/s) since the last drain; starts anew."""
    fetched = self.fetch()
    start_time, start_step = self._since
    rate = (step - start_step) / max(time.perf_counter() - start_time, 1e-9)
    self._fetched, self._since = [], (time.perf_counter(), step)
    return fetched, rate

  def _check_finite(self) -> None:
    for step, metrics in self._fetched:
      for name, value in metrics.items():
        if name.endswith('_loss') and not np.all(np.isfinite(value)):
          last = self.checkpointer.latest_step()
          kept = (f'the last good checkpoint (step {last}) in '
                  f'{self.checkpointer.directory} is intact' if last is not None
                  else 'no checkpoint had been written yet')
          raise NonFiniteLossError(
              f'{name} is {value} at step {step}: training stopped and '
              f'{kept}. Lower the learning rates, add a gradient penalty, or '
              'check the data for NaNs.')


class Hook:
  """Something the loop does every `period` steps and after the last one."""
  period: int = 0

  def periods(self) -> tuple[int, ...]:
    """The periods whose multiples must end a dispatch."""
    return (self.period,)

  def due(self, step: int, is_last: bool) -> bool:
    return bool(self.period) and (step % self.period == 0 or is_last)

  def __call__(self, step: int, state: state_lib.GANState) -> None:
    raise NotImplementedError

  def end(self, state: state_lib.GANState) -> None:
    """After the last step of a run that finished."""

  def close(self) -> None:
    """On every exit, errors included."""


def format_duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}'


class LogHook(Hook):
  """Mean metrics to TensorBoard and one progress line per member."""

  def __init__(self, period: int, members: Members, buffer: MetricsBuffer,
               num_steps: int, step_batch_size: int):
    self.period, self.members, self.buffer = period, members, buffer
    self.num_steps, self.step_batch_size = num_steps, step_batch_size

  def __call__(self, step, state):
    fetched, steps_per_sec = self.buffer.drain(step)
    for index, writer in enumerate(self.members.writers):
      values = [self.members.view(m, index) for _, m in fetched]
      means = {name: float(np.mean([v[name] for v in values]))
               for name in values[0]}
      means['steps_per_sec'] = steps_per_sec
      means['examples_per_sec'] = steps_per_sec * self.step_batch_size
      writer.write_scalars(step, means)
      self.members.final_metrics[index] = means
      remaining = (self.num_steps - step) / max(steps_per_sec, 1e-9)
      logging.info('%sstep %d/%d | %.1f steps/s | ETA %s | %s',
                   self.members.prefix(index), step, self.num_steps,
                   steps_per_sec, format_duration(remaining),
                   ' '.join(f'{k}={means[k]:.4g}' for k in
                            ('d_loss', 'g_loss', 'd_real', 'd_fake')
                            if k in means))


class CheckpointHook(Hook):
  """Saves the whole state, after checking that its losses were finite."""

  def __init__(self, period: int, checkpointer: Checkpointer,
               buffer: MetricsBuffer):
    self.period, self.checkpointer, self.buffer = period, checkpointer, buffer

  def __call__(self, step, state):
    self.buffer.fetch()     # never save a state whose losses were NaN
    self.checkpointer.save(step, state)

  def close(self):
    # Also on errors: let a good checkpoint already in flight commit.
    self.checkpointer.wait_until_finished()


class SampleHook(Hook):
  """A PNG grid (or a scatter of 2-D points) of fixed-input samples."""

  def __init__(self, period: int, members: Members, gan,
               sample_fn: Callable, sample_inputs,
               reference: np.ndarray | None):
    self.period, self.members, self.gan = period, members, gan
    self.sample_fn, self.sample_inputs = sample_fn, sample_inputs
    self.reference = reference     # real points drawn under 2-D samples

  def __call__(self, step, state):
    images = jax.device_get(self.sample_fn(
        state_lib.sample_params(state), state.generator.model_state,
        self.sample_inputs))
    for index, directory in enumerate(self.members.directories):
      member_images = self.members.view(images, index)
      picture = summary.render_samples(
          member_images, self.reference,
          columns=self.gan.sample_grid_columns(len(member_images)))
      if jax.process_index() == 0:
        summary.save_png(os.path.join(directory, 'samples',
                                      f'step_{step:06d}.png'), picture)
        self.members.writers[index].write_image(step, 'samples', picture)


class EvalHook(Hook):
  """The metrics of `config.evals`, each at its own period (eval/<name>).

  The metrics due at one step share one set of samples and real features.
  """

  def __init__(self, evals, members: Members, evaluator, num_steps: int):
    self.evals = {name: period for name, period in evals.items() if period}
    self.members, self.evaluator = members, evaluator
    self.num_steps = num_steps

  def periods(self):
    return tuple(self.evals.values())

  def _due_names(self, step: int, is_last: bool) -> list[str]:
    return [name for name, period in self.evals.items()
            if step % period == 0 or is_last]

  def due(self, step, is_last):
    return bool(self._due_names(step, is_last))

  def __call__(self, step, state):
    names = self._due_names(step, step == self.num_steps)
    params = state_lib.sample_params(state)
    for index, writer in enumerate(self.members.writers):
      start = time.perf_counter()
      results = self.evaluator.evaluate(
          self.members.view(params, index),
          self.members.view(state.generator.model_state, index), names)
      results = {f'eval/{name}': value for name, value in results.items()}
      writer.write_scalars(step, results)
      self.members.final_metrics[index].update(results)
      logging.info('%sstep %d eval (%.1f s): %s', self.members.prefix(index),
                   step, time.perf_counter() - start,
                   ' '.join(f'{k[5:]}={v:.4g}' for k, v in results.items()))


class HealthHook(Hook):
  """The health monitor (`health.py`) at every log step, and the report.

  Runs after the log and evaluation hooks, on their latest means; writes
  health/* scalars, warns when a condition starts, and at the end writes
  each member's report.md (`report.py`).
  """

  def __init__(self, period: int, members: Members, monitors: list,
               probe, sample_fn: Callable, sample_inputs, configs):
    self.period, self.members, self.monitors = period, members, monitors
    self.probe, self.sample_fn, self.sample_inputs = probe, sample_fn, (
        sample_inputs)
    self.configs = configs

  def __call__(self, step, state):
    samples = None
    if self.probe is not None:
      samples = jax.device_get(self.sample_fn(
          state_lib.sample_params(state), state.generator.model_state,
          self.sample_inputs))
    for index, writer in enumerate(self.members.writers):
      signals = (self.probe.signals(self.members.view(samples, index))
                 if samples is not None else {})
      scalars = self.monitors[index].check(
          step, dict(self.members.final_metrics[index]), signals)
      writer.write_scalars(step, scalars)
      self.members.final_metrics[index].update(scalars)

  def end(self, state):
    del state
    if jax.process_index() != 0:
      return
    self.members.write_final_metrics()
    for index, directory in enumerate(self.members.directories):
      self.members.writers[index].flush()
      path = report_lib.write_report(   # period 0: the monitor was off
          directory, self.configs[index],
          health_lib.summary_lines(self.monitors[index].record)
          if self.period else None)
      logging.info('%sReport: %s', self.members.prefix(index), path)
