"""The training loop: restore, then for each dispatch a jitted step and the hooks.

`train_and_evaluate(config, workdir)` validates the config, builds the
variant, restores the newest checkpoint in `workdir/checkpoints` if there is
one, and runs the jitted `train_step` to `config.num_train_steps`. After each
dispatch the hooks that are due run (`hooks.py`: logging, checkpoints, sample
grids, evaluations). SIGINT or SIGTERM stops the run after the dispatch in
flight, with a checkpoint at that step (`stop.py`). The loop never waits on
the device except where a hook fetches something: metrics stay on the device
until a log or checkpoint step.

Workdir layout:
  config.json                 the resolved config of the (latest) run
  checkpoints/<step>/         orbax checkpoints of the whole GANState
  samples/step_<step>.png     generator output on a fixed input batch
  events.out.tfevents.*       TensorBoard scalars and sample images
  final_metrics.json          the last logged means and evaluations
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from gan_jax import config_lib
from gan_jax.core import state as state_lib
from gan_jax.core import train_step as train_step_lib
from gan_jax.data import batching
from gan_jax.data import prepare
from gan_jax.data import sources
from gan_jax.data.sources import synthetic
from gan_jax.errors import Stopped
from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import health as health_lib
from gan_jax.training import hooks as hooks_lib
from gan_jax.training import population as population_lib
from gan_jax.training import stop as stop_lib
from gan_jax.training import summary
from gan_jax.training import workdir as workdir_lib
from gan_jax.training.checkpoint import Checkpointer

# Keys of the fixed sample batches and of nothing else (see `fold_in`).
_SAMPLE_KEY_TAG = 7
_HEALTH_KEY_TAG = 11


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> state_lib.GANState:
  """Trains the GAN that `config` describes, writing into `workdir`.

  Args:
    config: a config from `configs/` (see `config_lib.default_config`).
    workdir: where checkpoints, samples and logs go; a run resumes from the
      newest checkpoint found there.

  Returns:
    The final training state.
  """
  return _train(config, workdir, None)


def train_population(members: Sequence[ml_collections.ConfigDict],
                     names: Sequence[str],
                     workdir: str) -> state_lib.GANState:
  """Trains configs that differ only in numbers as one vmapped program.

  See `population.py`. The state has a leading member axis; the checkpoints
  in `workdir/checkpoints` hold every member; member i logs and draws samples
  into `workdir/members/<names[i]>/`.

  Raises:
    ConfigError: if the members differ in a structural field.
  """
  for member in members:
    config_lib.validate(member)
  return _train(members[0], workdir,
                population_lib.Population.create(members, names))


def _sample_inputs(experiment, configs, population, count: int,
                   tag: int = _SAMPLE_KEY_TAG):
  """Each member's fixed sample batch (stacked for a population)."""
  dataset = experiment.dataset
  examples = {name: dataset.examples(count, name) for name in dataset.domains}
  inputs = [experiment.gan.sample_inputs(
      jax.random.fold_in(jax.random.PRNGKey(member.seed), tag), count,
      examples) for member in configs]
  if population:
    return jax.tree.map(lambda *leaves: np.stack(leaves), *inputs)
  return inputs[0]


def _write_configs(configs, members: hooks_lib.Members) -> None:
  if jax.process_index() == 0:
    for config, directory in zip(configs, members.directories):
      os.makedirs(os.path.join(directory, 'samples'), exist_ok=True)
      with open(os.path.join(directory, 'config.json'), 'w') as f:
        f.write(config.to_json_best_effort(indent=2))


def _train(config: ml_collections.ConfigDict, workdir: str,
           population: population_lib.Population | None
           ) -> state_lib.GANState:
  """Sets up, locks the workdir and trains (a single run or a population)."""
  # Everything that can reject the config runs before the workdir is touched.
  experiment = experiment_lib.setup(config, init=population is None)
  experiment_lib.make_mesh(config)
  workdir = workdir_lib.prepare_workdir(workdir)
  lock = workdir_lib.WorkdirLock(workdir)
  if jax.process_index() == 0:
    lock.acquire()
  try:
    return _train_locked(experiment, workdir, population)
  finally:
    lock.release()


def _train_locked(experiment: experiment_lib.Experiment, workdir: str,
                  population: population_lib.Population | None
                  ) -> state_lib.GANState:
  """Restore, then for each dispatch: the jitted step and the hooks due."""
  config = experiment.config
  configs = population.members if population else [config]
  names = list(population.names) if population else ['']
  members = hooks_lib.Members(
      names=names, writers=[], population=population is not None,
      directories=([os.path.join(workdir, 'members', n) for n in names]
                   if population else [workdir]))
  with contextlib.ExitStack() as cleanup:   # closes all, also on errors
    cleanup.push(_closing(members.close))
    checkpointer = Checkpointer(os.path.join(workdir, 'checkpoints'),
                                config.keep_checkpoints)
    cleanup.push(_closing(checkpointer.close))
    program = _Program(experiment, population)
    state = program.initial_state()
    if checkpointer.all_steps():
      workdir_lib.check_drift(configs, members.directories)
      restored = checkpointer.restore_latest(state)  # onto these shardings
      if restored is not None:
        state = state_lib.with_hyperparameters_of(restored, state)
        logging.info('Resumed from %s at step %d.', checkpointer.directory,
                     int(np.max(state.step)))
    start_step = int(np.max(state.step))
    _write_configs(configs, members)
    members.writers = [summary.MetricWriter(d) for d in members.directories]
    buffer = hooks_lib.MetricsBuffer(checkpointer)
    hooks = _hooks(experiment, population, members, checkpointer, buffer,
                   program, workdir)
    for hook in hooks:
      cleanup.push(_closing(hook.close))
    lengths = experiment_lib.dispatch_lengths(
        config, start_step, [p for hook in hooks for p in hook.periods()])
    if not lengths:
      logging.info('Nothing to do: step %d >= num_train_steps.', start_step)
      return state
    logging.info('Training %s on %s (%s examples of shape %s) from step %d '
                 'to %d.', config.model.name, config.dataset.name,
                 len(experiment.dataset), experiment.dataset.example_shape,
                 start_step, config.num_train_steps)
    saver = next(h for h in hooks if isinstance(h, hooks_lib.CheckpointHook))
    stop = cleanup.enter_context(stop_lib.StopOnSignals())
    run_start, step = time.perf_counter(), start_step
    for batches, length in zip(program.data(start_step, lengths), lengths):
      state, metrics = program.step(state, batches)
      buffer.add(step + 1, metrics)
      step += length
      is_last = step == config.num_train_steps
      for hook in hooks:
        if hook.due(step, is_last):
          hook(step, state)
      if stop.signal_name and not is_last:
        if not saver.due(step, is_last):
          saver(step, state)
        raise Stopped(f'stopped by {stop.signal_name} at step {step:,} after '
                      'saving a checkpoint there: run the same command to '
                      'resume from it')
    for hook in hooks:
      hook.end(state)
    members.write_final_metrics()
  logging.info('Done: %d steps in %s. Workdir: %s', step - start_step,
               hooks_lib.format_duration(time.perf_counter() - run_start),
               workdir)
  return state


def _closing(close):
  """An exit callback for ExitStack: `close()`, whose own failure never hides
  the error that is stopping the run (it is logged as a warning instead)."""
  def exit_(exc_type, exc, traceback):
    del exc_type, traceback
    try:
      close()
    except Exception as e:  # pylint: disable=broad-except
      if exc is None:
        raise
      logging.warning('While stopping: %s also failed: %s', close.__qualname__,
                      e)
    return False
  return exit_


class _Program:
  """The compiled side of a run: its state, data and jitted steps, sharded
  over the mesh (data parallel: batches split, everything else replicated)."""

  def __init__(self, experiment: experiment_lib.Experiment,
               population: population_lib.Population | None):
    self.experiment, self.population = experiment, population
    config = experiment.config
    mesh = experiment_lib.make_mesh(config)
    self.replicated = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec())
    self.batch_sharding = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec(
            *((None, None, 'data') if population else (None, 'data'))))
    if population:
      shape = experiment.dataset.example_shape
      step_fn = population.train_step(shape, experiment.dataset.num_classes)
    else:
      step_fn = train_step_lib.make_train_step_for(
          experiment.gan, experiment.g_tx, experiment.d_tx, config)
    # Batches arrive with uint8 images (a quarter of the bytes to batch and
    # copy), scaled to [-1, 1] here on the device, inside the step.
    scaled_step_fn = lambda state, batch: step_fn(
        state, prepare.scale_images(batch))
    # n train steps per dispatch (config.steps_per_dispatch) in one lax.scan.
    self._multi_step = jax.jit(
        train_step_lib.scan_steps(scaled_step_fn), donate_argnums=0,
        in_shardings=(self.replicated, self.batch_sharding),
        out_shardings=self.replicated)
    self._compiled = {}    # dispatch length -> compiled multi-step
    gan = experiment.gan
    self.sample_fn = jax.jit(jax.vmap(gan.sample) if population else gan.sample,
                             out_shardings=self.replicated)

  def batches(self, start: int):
    """Per-step batches from `start` ((K, batch, ...) for a population)."""
    config, dataset = self.experiment.config, self.experiment.dataset
    options = dict(start=start, random_flip=config.dataset.random_flip,
                   num_workers=config.dataset.num_workers, scale=False,
                   group=(config.model.pack if config.dataset.fixed_packs
                          else 1))
    if self.population:
      return self.population.batches(dataset, self.experiment.step_batch_size,
                                     **options)
    return batching.batches(dataset, self.experiment.step_batch_size,
                            config.seed, **options)

  def initial_state(self) -> state_lib.GANState:
    if self.population:
      dataset = self.experiment.dataset
      first = prepare.scale_images(next(self.batches(0)))
      state = self.population.init(first,
                                   dataset.example_shape, dataset.num_classes)
    else:
      state = self.experiment.initial_state
    return experiment_lib.replicate(state, self.replicated)

  def data(self, start: int, lengths: list[int]):
    """The dispatches' stacked batches, prefetched onto the devices."""
    return batching.prefetch_to_device(
        batching.stack_batches(self.batches(start), lengths),
        self.experiment.config.dataset.prefetch, self.batch_sharding)

  def step(self, state, batches):
    """One dispatch: compiled once per dispatch length."""
    length = len(jax.tree.leaves(batches)[0])
    if length not in self._compiled:
      start = time.perf_counter()
      self._compiled[length] = self._multi_step.lower(state, batches).compile()
      logging.info('Compiled the train step (%d per dispatch) in %.1f s.',
                   length, time.perf_counter() - start)
    return self._compiled[length](state, batches)


def _hooks(experiment, population, members, checkpointer, buffer, program,
           workdir) -> list[hooks_lib.Hook]:
  """What runs between dispatches, in this order."""
  config, dataset, gan = experiment.config, experiment.dataset, experiment.gan
  configs = population.members if population else [config]
  evaluator = evaluator_lib.Evaluator(config, dataset, gan, workdir)
  sample_inputs = experiment_lib.replicate(
      _sample_inputs(experiment, configs, population, config.num_samples),
      program.replicated)
  health = config.health
  probe_inputs = experiment_lib.replicate(
      _sample_inputs(experiment, configs, population, health.num_samples,
                     _HEALTH_KEY_TAG), program.replicated)
  return [
      hooks_lib.LogHook(config.log_every_steps, members, buffer,
                        config.num_train_steps, experiment.step_batch_size),
      hooks_lib.CheckpointHook(config.checkpoint_every_steps, checkpointer,
                               buffer),
      hooks_lib.SampleHook(
          config.sample_every_steps, members, gan, program.sample_fn,
          sample_inputs,
          dataset.examples(2000) if len(dataset.example_shape) == 1 else None),
      hooks_lib.EvalHook(config.evals, members, evaluator,
                         config.num_train_steps),
      hooks_lib.HealthHook(
          config.log_every_steps if health.enabled else 0, members,
          [health_lib.Monitor(health, config.loss.name) for _ in configs],
          _health_probe(experiment, evaluator) if health.enabled else None,
          program.sample_fn, probe_inputs, configs),
  ]


def _health_probe(experiment, evaluator) -> health_lib.DiversityProbe | None:
  """The diversity check of the health monitor, in the evaluation's feature
  space when the run already builds a classifier, else on the raw data."""
  config, dataset, gan = experiment.config, experiment.dataset, experiment.gan
  if gan.kind != 'samples':
    return None
  real = dataset.examples(config.health.num_samples)
  evaluates = [name for name, period in config.evals.items() if period]
  kind = sources.dataset_kind(config.dataset.name)
  if (evaluator.features.kind == 'classifier'
      and set(evaluates) & set(evaluator_lib.FEATURE_METRICS)):
    classifier = evaluator.features.classifier
    return health_lib.DiversityProbe(
        evaluator.features, real, classifier.predict,
        classifier.num_classes)
  mixture = synthetic.MIXTURES.get(kind)
  return health_lib.DiversityProbe(
      lambda x: np.asarray(x).reshape(len(x), -1), real,
      mixture=(mixture[0](), mixture[1]) if mixture else None)
