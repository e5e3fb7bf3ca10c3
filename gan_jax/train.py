"""The training loop: data in, jitted steps, checkpoints, samples and logs out.

`train_and_evaluate(config, workdir)` validates the config, builds the
variant, restores the newest checkpoint in `workdir/checkpoints` if there is
one, and runs the jitted `train_step` to `config.num_train_steps`. The loop
never waits on the device except at log, checkpoint and sample steps: metrics
stay on the device until a log step fetches them.

Workdir layout:
  config.json                 the resolved config of the (latest) run
  checkpoints/<step>/         orbax checkpoints of the whole GANState
  samples/step_<step>.png     generator output on a fixed input batch
  events.out.tfevents.*       TensorBoard scalars and sample images
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Sequence

from absl import logging
import jax
import ml_collections
import numpy as np
import optax

from gan_jax import checkpoint
from gan_jax import config_lib
from gan_jax import evaluation
from gan_jax import input_pipeline
from gan_jax import population as population_lib
from gan_jax import summary
from gan_jax import train_step as train_step_lib
from gan_jax import variants
from gan_jax.errors import ConfigError, NonFiniteLossError, WorkdirError

# Keys of the fixed sample batch and of nothing else (see `fold_in`).
_SAMPLE_KEY_TAG = 7


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir` and checks that it can be written.

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


def check_finite(fetched: list[tuple[int, dict]], checkpointer) -> None:
  """Raises NonFiniteLossError naming the first step with a NaN/Inf loss.

  Args:
    fetched: (step, metrics) pairs already on the host.
    checkpointer: named in the message (its newest step is the good one).
  """
  for step, metrics in fetched:
    for name, value in metrics.items():
      if name.endswith('_loss') and not np.all(np.isfinite(value)):
        last = checkpointer.latest_step()
        kept = (f'the last good checkpoint (step {last}) in '
                f'{checkpointer.directory} is intact' if last is not None
                else 'no checkpoint had been written yet')
        raise NonFiniteLossError(
            f'{name} is {value} at step {step}: training stopped and {kept}. '
            'Lower the learning rates, add a gradient penalty, or check the '
            'data for NaNs.')


def log_metrics(writer: summary.MetricWriter, step: int, num_steps: int,
                fetched: list[tuple[int, dict]], steps_per_sec: float,
                step_batch_size: int, name: str = '') -> dict[str, float]:
  """Writes the mean of the fetched metrics, prints the progress line and
  returns the means."""
  means = {name: float(np.mean([m[name] for _, m in fetched]))
           for name in fetched[0][1]}
  means['steps_per_sec'] = steps_per_sec
  means['examples_per_sec'] = steps_per_sec * step_batch_size
  writer.write_scalars(step, means)
  remaining = (num_steps - step) / max(steps_per_sec, 1e-9)
  logging.info('%sstep %d/%d | %.1f steps/s | ETA %s | %s',
               f'[{name}] ' if name else '', step, num_steps,
               steps_per_sec, _format_duration(remaining),
               ' '.join(f'{k}={means[k]:.4g}' for k in
                        ('d_loss', 'g_loss', 'd_real', 'd_fake') if k in means))
  return means


def _format_duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}'


def dispatch_lengths(config: ml_collections.ConfigDict,
                     start_step: int) -> list[int]:
  """How many train steps each dispatch runs, from `start_step` to the end.

  Up to `config.steps_per_dispatch` per dispatch, cut so that every log,
  checkpoint and sample step ends a dispatch (the state is on the host's
  reach exactly there). Periods that are multiples of steps_per_dispatch
  give one length, so the step compiles once. Evaluation steps
  (`config.evals`) end dispatches too.
  """
  periods = (config.log_every_steps, config.checkpoint_every_steps,
             config.sample_every_steps) + tuple(
                 period for period in config.evals.values() if period)
  lengths, step = [], start_step
  while step < config.num_train_steps:
    boundary = min([config.num_train_steps]
                   + [(step // p + 1) * p for p in periods])
    length = min(config.steps_per_dispatch, boundary - step)
    lengths.append(length)
    step += length
  return lengths


def make_mesh(config: ml_collections.ConfigDict) -> jax.sharding.Mesh:
  """The data-parallel mesh `config.mesh` describes.

  Raises:
    ConfigError: for more devices than there are, or a global batch that
      does not split evenly over them.
  """
  devices = jax.devices()
  count = len(devices) if config.mesh.data == -1 else config.mesh.data
  if count > len(devices):
    raise ConfigError(f'config.mesh.data={count} is more than the '
                      f'{len(devices)} devices there are: use -1 (all) or '
                      f'a number up to {len(devices)}')
  if config.batch_size % count:
    raise ConfigError(f'config.batch_size={config.batch_size} does not split '
                      f'over config.mesh.data={count} devices: use a multiple '
                      f'of {count}')
  return jax.sharding.Mesh(np.asarray(devices[:count]), ('data',))


def replicate(tree, sharding: jax.sharding.Sharding):
  """Places a host-identical pytree on every device of `sharding`.

  Each process builds its own shards from its host copy, so this also works
  across hosts (where `device_put` of a local array cannot).
  """
  host = jax.device_get(tree)
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(
          np.shape(x), sharding, lambda index: np.asarray(x)[index]), host)


def per_step(fetched: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
  """(first step, metrics stacked over n steps) -> one (step, metrics) each."""
  return [(first + i, {name: values[i] for name, values in metrics.items()})
          for first, metrics in fetched
          for i in range(len(next(iter(metrics.values()))))]


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Everything a config determines before training starts."""
  config: ml_collections.ConfigDict
  dataset: input_pipeline.Dataset
  gan: variants.StandardGAN | variants.CycleGAN
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  step_batch_size: int             # batch_size x d_steps_per_g_step
  initial_state: train_step_lib.GANState | None   # None: setup(init=False)


def setup(config: ml_collections.ConfigDict, init: bool = True) -> Experiment:
  """Validates `config` and builds data, variant, optimizers and a fresh state.

  With `init=False` the state is left None (a population makes its own).

  Raises:
    ConfigError: for any invalid field, before anything is written.
  """
  config_lib.validate(config)
  dataset = input_pipeline.load_dataset(config.dataset)
  unpaired = config.model.name == 'cyclegan'
  if unpaired != (sorted(dataset.domains) == ['a', 'b']):
    raise ConfigError(
        f'config.dataset.name={config.dataset.name!r} has the domains '
        f'{list(dataset.domains)}, but config.model.name='
        f'{config.model.name!r} trains on '
        + ("two unpaired domains ['a', 'b'] (e.g. digits_unpaired, "
           "folder:<dirA>,<dirB>, tfds:cycle_gan/horse2zebra)" if unpaired
           else "one domain ['x']: use configs/cyclegan.py for two domains"))
  gan = variants.build(config, dataset.example_shape, dataset.num_classes)
  # The configured metrics must be computable before any training starts.
  evaluation.Evaluator(config, dataset, gan, workdir='').check(
      [name for name, period in config.evals.items() if period])
  g_tx, d_tx = train_step_lib.make_optimizers(config)
  # k minibatches per step, one per discriminator update.
  step_batch_size = config.batch_size * config.d_steps_per_g_step
  state = None
  if init:
    first_batch = next(input_pipeline.batches(dataset, step_batch_size,
                                              config.seed))
    state = train_step_lib.create_train_state(gan, g_tx, d_tx, first_batch,
                                              config.seed, config.ema_decay)
  return Experiment(config, dataset, gan, g_tx, d_tx, step_batch_size, state)


def restore_latest(experiment: Experiment, workdir: str):
  """The newest checkpointed state in `workdir`, or None if there is none."""
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'),
                                         experiment.config.keep_checkpoints)
  if checkpointer.latest_step() is None:
    return None
  return checkpointer.restore(experiment.initial_state)


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> train_step_lib.GANState:
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
                     workdir: str) -> train_step_lib.GANState:
  """Trains configs that differ only in numbers as one vmapped program.

  See `gan_jax.population`. The state has a leading member axis; the
  checkpoints in `workdir/checkpoints` hold every member; member i logs and
  draws samples into `workdir/members/<names[i]>/`.

  Raises:
    ConfigError: if the members differ in a structural field.
  """
  for member in members:
    config_lib.validate(member)
  return _train(members[0], workdir,
                population_lib.Population.create(members, names))


def _train(config: ml_collections.ConfigDict, workdir: str,
           population: population_lib.Population | None
           ) -> train_step_lib.GANState:
  """The training loop of a single run, or of a population (member axis)."""
  # Everything that can reject the config runs before the workdir is touched.
  experiment = setup(config, init=population is None)
  dataset, gan = experiment.dataset, experiment.gan
  step_batch_size = experiment.step_batch_size
  shape, num_classes = dataset.example_shape, dataset.num_classes
  members = population.members if population else [config]
  mesh = make_mesh(config)

  workdir = prepare_workdir(workdir)
  evaluator = evaluation.Evaluator(config, dataset, gan, workdir)
  is_host0 = jax.process_index() == 0
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'),
                                         config.keep_checkpoints)

  def data_from(start: int):
    """Per-step batches from `start` ((K, batch, ...) for a population)."""
    options = dict(start=start, random_flip=config.dataset.random_flip,
                   num_workers=config.dataset.num_workers)
    if population:
      return population.batches(dataset, step_batch_size, **options)
    return input_pipeline.batches(dataset, step_batch_size, config.seed,
                                  **options)

  if population:
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
  batch_axis = (None, None, 'data') if population else (None, 'data')
  batch_sharding = jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec(*batch_axis))
  state = replicate(state, replicated)
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore(state)    # onto the template's shardings
    logging.info('Resumed from %s at step %d.', checkpointer.directory,
                 int(np.max(state.step)))
  start_step = int(np.max(state.step))
  member_dirs = ([os.path.join(workdir, 'members', name)
                  for name in population.names] if population else [workdir])
  if is_host0:
    for member, directory in zip(members, member_dirs):
      os.makedirs(os.path.join(directory, 'samples'), exist_ok=True)
      with open(os.path.join(directory, 'config.json'), 'w') as f:
        f.write(member.to_json_best_effort(indent=2))

  # n train steps per dispatch (config.steps_per_dispatch) in one lax.scan.
  multi_step = jax.jit(train_step_lib.scan_steps(step_fn), donate_argnums=0,
                       in_shardings=(replicated, batch_sharding),
                       out_shardings=replicated)
  lengths = dispatch_lengths(config, start_step)
  data = input_pipeline.prefetch_to_device(
      input_pipeline.stack_batches(data_from(start_step), lengths),
      config.dataset.prefetch, batch_sharding)

  def member_sample_inputs(member):
    return gan.sample_inputs(
        jax.random.fold_in(jax.random.PRNGKey(member.seed), _SAMPLE_KEY_TAG),
        config.num_samples,
        {name: dataset.examples(config.num_samples, name)
         for name in dataset.domains})

  if population:
    sample_fn = jax.jit(jax.vmap(gan.sample), out_shardings=replicated)
    sample_inputs = jax.tree.map(
        lambda *leaves: np.stack(leaves),
        *[member_sample_inputs(member) for member in members])
  else:
    sample_fn = jax.jit(gan.sample, out_shardings=replicated)
    sample_inputs = member_sample_inputs(config)
  sample_inputs = replicate(sample_inputs, replicated)
  # Real points are drawn under 2-D samples; images need no reference.
  reference = (dataset.examples(2000) if len(dataset.example_shape) == 1
               else None)
  writers = [summary.MetricWriter(directory) for directory in member_dirs]

  def member_view(values, index: int):
    return jax.tree.map(lambda x: x[index], values) if population else values

  def write_samples(step: int) -> None:
    params = train_step_lib.sample_params(state)
    images = jax.device_get(sample_fn(params, state.generator.model_state,
                                      sample_inputs))
    for index, (directory, writer) in enumerate(zip(member_dirs, writers)):
      member_images = member_view(images, index)
      picture = summary.render_samples(
          member_images, reference,
          columns=gan.sample_grid_columns(len(member_images)))
      if is_host0:
        summary.save_png(os.path.join(directory, 'samples',
                                      f'step_{step:06d}.png'), picture)
        writer.write_image(step, 'samples', picture)


  def evaluate(index: int, names: list[str], step: int,
               writer: summary.MetricWriter) -> dict[str, float]:
    """Member `index`'s metrics `names`, logged as eval/<metric>."""
    start = time.perf_counter()
    params = member_view(train_step_lib.sample_params(state), index)
    results = evaluator.evaluate(params, member_view(
        state.generator.model_state, index), names)
    results = {f'eval/{name}': value for name, value in results.items()}
    writer.write_scalars(step, results)
    logging.info('%sstep %d eval (%.1f s): %s',
                 f'[{population.names[index]}] ' if population else '', step,
                 time.perf_counter() - start,
                 ' '.join(f'{k[5:]}={v:.4g}' for k, v in results.items()))
    return results

  if start_step >= config.num_train_steps:
    logging.info('Nothing to do: step %d >= num_train_steps.', start_step)
    checkpointer.close()
    for writer in writers:
      writer.close()
    return state

  logging.info('Training %s on %s (%s examples of shape %s) from step %d to '
               '%d.', config.model.name, config.dataset.name, len(dataset),
               dataset.example_shape, start_step, config.num_train_steps)
  compiled = {}    # dispatch length -> compiled multi-step

  def run(state, batches):
    length = len(jax.tree.leaves(batches)[0])
    if length not in compiled:
      compile_start = time.perf_counter()
      compiled[length] = multi_step.lower(state, batches).compile()
      logging.info('Compiled the train step (%d per dispatch) in %.1f s.',
                   length, time.perf_counter() - compile_start)
    return compiled[length](state, batches)

  try:
    # (first step, stacked metrics): on the device until a log or checkpoint
    # step fetches them, the loop's only host round-trip for metrics.
    pending: list[tuple[int, dict]] = []
    final_metrics = [{} for _ in writers]    # each member's last logged means
    interval_start, interval_first = None, start_step
    run_start = time.perf_counter()
    step = start_step
    for length in lengths:
      state, metrics = run(state, next(data))
      if interval_start is None:   # time from after the first compilation
        interval_start, interval_first = time.perf_counter(), step
      pending.append((step + 1, metrics))
      step += length
      is_last = step == config.num_train_steps

      is_log_step = step % config.log_every_steps == 0 or is_last
      is_checkpoint_step = step % config.checkpoint_every_steps == 0 or is_last
      if is_log_step or is_checkpoint_step:
        # Fetched once, kept on the host; never save or log a NaN state.
        pending = jax.device_get(pending)
        check_finite(per_step(pending), checkpointer)
      if is_log_step:
        steps_per_sec = (step - interval_first) / max(
            time.perf_counter() - interval_start, 1e-9)
        fetched = per_step(pending)
        for index, writer in enumerate(writers):
          final_metrics[index] = log_metrics(
              writer, step, config.num_train_steps,
              [(at, member_view(values, index)) for at, values in fetched],
              steps_per_sec, step_batch_size,
              population.names[index] if population else '')
        pending = []
        interval_start, interval_first = time.perf_counter(), step
      if is_checkpoint_step:
        checkpointer.save(step, state)
      if step % config.sample_every_steps == 0 or is_last:
        write_samples(step)
      due = evaluation.due(config, step, is_last)
      if due:
        for index, writer in enumerate(writers):
          final_metrics[index].update(evaluate(index, due, step, writer))

  finally:
    # Also on errors: let a good checkpoint already in flight commit.
    checkpointer.wait_until_finished()
    checkpointer.close()
    for writer in writers:
      writer.close()
  if is_host0:
    for directory, metrics in zip(member_dirs, final_metrics):
      with open(os.path.join(directory, 'final_metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
  logging.info('Done: %d steps in %s. Workdir: %s', config.num_train_steps -
               start_step, _format_duration(time.perf_counter() - run_start),
               workdir)
  return state
