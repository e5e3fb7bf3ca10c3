"""The training loop: restore, then for each dispatch a jitted step and the hooks.

`train_and_evaluate(config, workdir)` validates the config, builds the
variant, restores the newest checkpoint in `workdir/checkpoints` if there is
one, and runs the jitted `train_step` to `config.num_train_steps`. After each
dispatch the hooks that are due run (`hooks.py`: logging, checkpoints, sample
grids, evaluations). The loop never waits on the device except where a hook
fetches something: metrics stay on the device until a log or checkpoint step.

Workdir layout:
  config.json                 the resolved config of the (latest) run
  checkpoints/<step>/         orbax checkpoints of the whole GANState
  samples/step_<step>.png     generator output on a fixed input batch
  events.out.tfevents.*       TensorBoard scalars and sample images
  final_metrics.json          the last logged means and evaluations
"""

from __future__ import annotations

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
from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import hooks as hooks_lib
from gan_jax.training import population as population_lib
from gan_jax.training import summary
from gan_jax.training.checkpoint import Checkpointer
from gan_jax.training.workdir import prepare_workdir

# Keys of the fixed sample batch and of nothing else (see `fold_in`).
_SAMPLE_KEY_TAG = 7


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


def _sample_inputs(experiment, configs, population):
  """Each member's fixed sample batch (stacked for a population)."""
  config, dataset = experiment.config, experiment.dataset
  examples = {name: dataset.examples(config.num_samples, name)
              for name in dataset.domains}
  inputs = [experiment.gan.sample_inputs(
      jax.random.fold_in(jax.random.PRNGKey(member.seed), _SAMPLE_KEY_TAG),
      config.num_samples, examples) for member in configs]
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
  """The training loop of a single run, or of a population (member axis)."""
  # Everything that can reject the config runs before the workdir is touched.
  experiment = experiment_lib.setup(config, init=population is None)
  dataset, gan = experiment.dataset, experiment.gan
  configs = population.members if population else [config]
  mesh = experiment_lib.make_mesh(config)
  workdir = prepare_workdir(workdir)
  checkpointer = Checkpointer(os.path.join(workdir, 'checkpoints'),
                              config.keep_checkpoints)

  def data_from(start: int):
    """Per-step batches from `start` ((K, batch, ...) for a population)."""
    options = dict(start=start, random_flip=config.dataset.random_flip,
                   num_workers=config.dataset.num_workers)
    if population:
      return population.batches(dataset, experiment.step_batch_size, **options)
    return batching.batches(dataset, experiment.step_batch_size, config.seed,
                            **options)

  if population:
    shape, num_classes = dataset.example_shape, dataset.num_classes
    state = population.init(next(data_from(0)), shape, num_classes)
    step_fn = population.train_step(shape, num_classes)
  else:
    state = experiment.initial_state
    step_fn = train_step_lib.make_train_step(
        gan, experiment.g_tx, experiment.d_tx,
        d_steps_per_g_step=config.d_steps_per_g_step,
        ema_decay=config.ema_decay)
  # Data parallel: batches sharded over the mesh, everything else replicated.
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(
      *((None, None, 'data') if population else (None, 'data'))))
  state = experiment_lib.replicate(state, replicated)
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore(state)    # onto the template's shardings
    logging.info('Resumed from %s at step %d.', checkpointer.directory,
                 int(np.max(state.step)))
  start_step = int(np.max(state.step))

  names = list(population.names) if population else ['']
  members = hooks_lib.Members(
      names=names,
      directories=([os.path.join(workdir, 'members', n) for n in names]
                   if population else [workdir]),
      writers=[], population=population is not None)
  _write_configs(configs, members)
  members.writers = [summary.MetricWriter(d) for d in members.directories]
  sample_fn = jax.jit(jax.vmap(gan.sample) if population else gan.sample,
                      out_shardings=replicated)
  buffer = hooks_lib.MetricsBuffer(checkpointer)
  hooks = [
      hooks_lib.LogHook(config.log_every_steps, members, buffer,
                        config.num_train_steps, experiment.step_batch_size),
      hooks_lib.CheckpointHook(config.checkpoint_every_steps, checkpointer,
                               buffer),
      hooks_lib.SampleHook(
          config.sample_every_steps, members, gan, sample_fn,
          experiment_lib.replicate(
              _sample_inputs(experiment, configs, population), replicated),
          dataset.examples(2000) if len(dataset.example_shape) == 1 else None),
      hooks_lib.EvalHook(config.evals, members,
                         evaluator_lib.Evaluator(config, dataset, gan, workdir),
                         config.num_train_steps),
  ]
  # n train steps per dispatch (config.steps_per_dispatch) in one lax.scan.
  multi_step = jax.jit(train_step_lib.scan_steps(step_fn), donate_argnums=0,
                       in_shardings=(replicated, batch_sharding),
                       out_shardings=replicated)
  lengths = experiment_lib.dispatch_lengths(
      config, start_step, [p for hook in hooks for p in hook.periods()])
  try:
    if not lengths:
      logging.info('Nothing to do: step %d >= num_train_steps.', start_step)
      return state
    logging.info('Training %s on %s (%s examples of shape %s) from step %d '
                 'to %d.', config.model.name, config.dataset.name,
                 len(dataset), dataset.example_shape, start_step,
                 config.num_train_steps)
    data = batching.prefetch_to_device(
        batching.stack_batches(data_from(start_step), lengths),
        config.dataset.prefetch, batch_sharding)
    compiled = {}    # dispatch length -> compiled multi-step
    run_start, step = time.perf_counter(), start_step
    for length in lengths:
      batches = next(data)
      if length not in compiled:
        compile_start = time.perf_counter()
        compiled[length] = multi_step.lower(state, batches).compile()
        logging.info('Compiled the train step (%d per dispatch) in %.1f s.',
                     length, time.perf_counter() - compile_start)
      state, metrics = compiled[length](state, batches)
      buffer.add(step + 1, metrics)
      step += length
      for hook in hooks:
        if hook.due(step, step == config.num_train_steps):
          hook(step, state)
    for hook in hooks:
      hook.end(state)
    members.write_final_metrics()
  finally:
    for hook in hooks:
      hook.close()
    members.close()
  logging.info('Done: %d steps in %s. Workdir: %s',
               config.num_train_steps - start_step,
               hooks_lib.format_duration(time.perf_counter() - run_start),
               workdir)
  return state
