r"""Runs a hyperparameter sweep: populations under vmap, the rest in turn.

  python -m gan_jax.sweep --config=configs/dcgan.py \
      --sweep=experiments/sweep_dcgan_lr.py --workdir=/tmp/sweep

The sweep file defines `get_sweep()` returning a list of override dicts
({'optimizer.generator.learning_rate': 1e-4, 'seed': 1}), usually built with
`product` and `zipped` below. Members that differ only in numeric
hyperparameters and seeds (`population.VECTORIZABLE`) form a group that can
train as one population, one compiled program under `jax.vmap`; members
that differ structurally (architecture, resolution, loss kind) form separate
groups run one after another by this same command. `--strategy=auto` trains
a group the faster way for the backend, as measured (`choose_strategy`): a
vmapped population on accelerators and for MLPs, ordinary runs in turn for
convolutional networks on CPU; the log says which it chose and why.

Workdir layout:
  population_<j>/checkpoints/<step>/      every member of group j (vmapped)
  population_<j>/members/<name>/          one member's TensorBoard run,
                                          samples/, final_metrics.json and
                                          report.md (and, trained in turn,
                                          its own checkpoints/)
  summary.md                              members ranked by --rank_by (an
                                          evaluation metric by default)

`--export_member=<name> --export_to=DIR` (with the same --config/--sweep/
--workdir) writes that member's newest state as an ordinary single-run
checkpoint in DIR, which `gan_jax.main` resumes.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import re
from typing import Any, Sequence

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections

from gan_jax import cli
from gan_jax import config_lib
from gan_jax.errors import ConfigError
from gan_jax.training import checkpoint
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.training import population as population_lib
from gan_jax.training import report as report_lib
from gan_jax.training.workdir import prepare_workdir

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """The command's flags; --config and --workdir are gan_jax.main's.

  Defined only when run as a command, so that sweep files and scripts can
  import this module for `product` and `zipped`.
  """
  importlib.import_module('gan_jax.main')   # defines --config, --workdir
  flags.DEFINE_string('sweep', None, 'Python file with get_sweep().')
  flags.DEFINE_string('rank_by', '',
                      'Final metric the summary table ranks members by '
                      '(default: an evaluation metric they logged, e.g. '
                      'eval/fid).')
  flags.DEFINE_enum('rank_order', '', ['', 'min', 'max'],
                    'Whether a smaller or a larger --rank_by is better '
                    '(default: known per metric).')
  flags.DEFINE_enum('strategy', 'auto', list(STRATEGIES),
                    'How members that differ only in numbers train: one '
                    'vmapped population, ordinary runs in turn, or auto (the '
                    'faster for this backend, as measured).')
  flags.DEFINE_string('export_member', None,
                      'Export this member as a single-run checkpoint.')
  flags.DEFINE_string('export_to', None, 'Workdir for --export_member.')
  flags.mark_flags_as_required(['sweep'])


def product(**axes: Sequence[Any]) -> list[dict]:
  """Every combination: product(seed=[0, 1], lr=[1, 2]) -> 4 override dicts.

  Keys are config fields with '__' for '.', since keywords cannot hold dots:
  `optimizer__generator__learning_rate=[...]`.
  """
  names = [k.replace('__', '.') for k in axes]
  return [dict(zip(names, values))
          for values in itertools.product(*axes.values())]


def zipped(**axes: Sequence[Any]) -> list[dict]:
  """Values taken together: zipped(a=[1, 2], b=[3, 4]) -> 2 override dicts."""
  lengths = {len(v) for v in axes.values()}
  if len(lengths) > 1:
    raise ConfigError(f'zipped() axes have different lengths: '
                      f'{ {k: len(v) for k, v in axes.items()} }')
  names = [k.replace('__', '.') for k in axes]
  return [dict(zip(names, values)) for values in zip(*axes.values())]


def load_sweep(path: str) -> list[dict]:
  """The override dicts of `path`'s get_sweep()."""
  if not os.path.isfile(path):
    raise ConfigError(f'--sweep={path} is not a file: give a Python file '
                      'that defines get_sweep()')
  try:
    spec = importlib.util.spec_from_file_location('gan_jax_sweep', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, 'get_sweep'):
      raise ConfigError(f'--sweep={path} defines no get_sweep()')
    sweep = list(module.get_sweep())
  except ConfigError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise ConfigError(f'--sweep={path} cannot be loaded: {type(e).__name__}: '
                      f'{e}') from e
  if not sweep or not all(isinstance(m, dict) for m in sweep):
    raise ConfigError(f'get_sweep() of {path} must return a non-empty list '
                      'of override dicts')
  return sweep


def member_config(base: ml_collections.ConfigDict,
                  overrides: dict) -> ml_collections.ConfigDict:
  """`base` with the dotted `overrides` applied; unknown fields rejected."""
  return config_lib.set_fields(copy.deepcopy(base), overrides)


def member_name(index: int, overrides: dict) -> str:
  parts = [f'{field.split(".")[-1]}={value}'
           for field, value in sorted(overrides.items())]
  return re.sub(r'[^A-Za-z0-9_.=,-]', '_', f'{index:02d}_' + ','.join(parts))


def group_members(configs: Sequence[ml_collections.ConfigDict]) -> list:
  """Indices of configs that can share one program, in order of appearance."""
  groups: dict[str, list[int]] = {}
  for index, config in enumerate(configs):
    structure = {k: v for k, v in population_lib.flatten(config).items()
                 if k not in population_lib.VECTORIZABLE}
    groups.setdefault(repr(sorted(structure.items())), []).append(index)
  return list(groups.values())


def plan(base: ml_collections.ConfigDict, sweep: list[dict]):
  """(configs, names, groups) of a sweep."""
  configs = [member_config(base, overrides) for overrides in sweep]
  names = [member_name(i, o) for i, o in enumerate(sweep)]
  return configs, names, group_members(configs)


# The metric a sweep ranks by, when --rank_by is not given: the first of
# these that the members logged (evaluation metrics before any loss).
RANK_PREFERENCE = ('eval/fid', 'eval/kid', 'eval/modes_pacgan', 'eval/modes',
                   'eval/stacked_modes', 'eval/conditional_accuracy',
                   'eval/translation_mae', 'eval/precision', 'eval/coverage')


def default_rank_by(metrics: dict) -> str:
  for name in RANK_PREFERENCE:
    if name in metrics:
      return name
  evaluated = sorted(k for k in metrics if k.startswith('eval/'))
  if evaluated:
    return evaluated[0]
  logging.warning('No evaluation metric was logged (config.evals): ranking '
                  'by d_loss, which says little about sample quality.')
  return 'd_loss'


# How to train a group of members that could share one vmapped program.
STRATEGIES = ('auto', 'population', 'sequential')
# Measured on a 2-core CPU (docs/benchmarks.md, experiments/
# population_benchmark.py): a vmapped population of convolutional networks
# runs at 0.20-0.26x of its members trained one after another (XLA:CPU
# lowers the vmapped convolutions to grouped ones), of MLPs at about 1x.
_SLOW_VMAPPED_ON_CPU = ('dcgan', 'cyclegan', 'resnet')


def choose_strategy(config: ml_collections.ConfigDict, size: int,
                    strategy: str = 'auto') -> tuple[str, str]:
  """('population' | 'sequential', why) for a group of `size` members."""
  if strategy != 'auto':
    return strategy, f'--strategy={strategy}'
  if size == 1:
    return 'sequential', 'a single member'
  backend = jax.default_backend()
  if backend == 'cpu' and config.model.name in _SLOW_VMAPPED_ON_CPU:
    return 'sequential', (
        f'on CPU a vmapped population of {config.model.name} networks runs '
        'at 0.20-0.26x of its members trained in turn (docs/benchmarks.md)')
  return 'population', (f'one vmapped program on {backend} (members of '
                        f'{config.model.name} train together)')


def run(base: ml_collections.ConfigDict, sweep: list[dict], workdir: str,
        rank_by: str = '', rank_order: str = '',
        strategy: str = 'auto') -> list[dict]:
  """Trains every member; returns the ranked rows of the summary table.

  Args:
    rank_by: the final metric to rank by ('' = an evaluation metric the
      members logged, see RANK_PREFERENCE).
    rank_order: 'min' or 'max' ('' = which is better for that metric).
    strategy: how members that could share a program train: 'population'
      (vmapped together), 'sequential' (one ordinary run each, in turn), or
      'auto': the faster of the two for this backend and model.
  """
  configs, names, groups = plan(base, sweep)
  logging.info('Sweep of %d members in %d group(s): %s', len(configs),
               len(groups), [len(g) for g in groups])
  rows = []
  for j, group in enumerate(groups):
    directory = os.path.join(workdir, f'population_{j}')
    chosen, why = choose_strategy(configs[group[0]], len(group), strategy)
    logging.info('Group %d (%d members): %s, because %s.', j, len(group),
                 'one vmapped population' if chosen == 'population'
                 else 'ordinary runs one after another', why)
    if chosen == 'population':
      loop.train_population([configs[i] for i in group],
                            [names[i] for i in group], directory)
    else:
      for i in group:
        loop.train_and_evaluate(configs[i], os.path.join(
            directory, 'members', names[i]))
    for i in group:
      member_dir = os.path.join(directory, 'members', names[i])
      with open(os.path.join(member_dir, 'final_metrics.json')) as f:
        metrics = json.load(f)
      rows.append(dict(member=names[i], population=j, overrides=sweep[i],
                       metrics=metrics,
                       report=os.path.relpath(os.path.join(member_dir,
                                                           'report.md'),
                                              workdir)))
  rank_by = rank_by or default_rank_by(rows[0]['metrics'])
  missing = [r['member'] for r in rows if rank_by not in r['metrics']]
  if missing:
    raise ConfigError(f'--rank_by={rank_by} is not a logged metric; the '
                      f'members logged {sorted(rows[0]["metrics"])}')
  rank_order = rank_order or report_lib.better(rank_by)
  rows.sort(key=lambda r: r['metrics'][rank_by],
            reverse=rank_order == 'max')
  write_summary(rows, rank_by, rank_order, os.path.join(workdir, 'summary.md'))
  return rows


def write_summary(rows: list[dict], rank_by: str, rank_order: str,
                  path: str) -> None:
  """A markdown table: the ranking metric, then every other evaluation
  metric and the final losses, each once, and each member's report."""
  logged = set().union(*(r['metrics'] for r in rows))
  columns = [rank_by] + sorted(
      name for name in logged if name.startswith('eval/') and name != rank_by
      and not name.endswith('_std')) + [
          name for name in ('d_loss', 'g_loss') if name in logged
          and name != rank_by]
  arrow = {'min': 'lower is better', 'max': 'higher is better'}[rank_order]
  lines = [f'Ranked by {rank_by} ({arrow}).', '',
           '| rank | member | population | ' + ' | '.join(columns)
           + ' | report |',
           '| ---: | --- | ---: | ' + ' | '.join('---:' for _ in columns)
           + ' | --- |']
  for rank, row in enumerate(rows, 1):
    values = ' | '.join(f'{row["metrics"].get(c, float("nan")):.4g}'
                        for c in columns)
    lines.append(f'| {rank} | {row["member"]} | {row["population"]} | '
                 f'{values} | [report]({row["report"]}) |')
  table = '\n'.join(lines)
  print(table)
  with open(path, 'w') as f:
    f.write(table + '\n')


def export_member(base: ml_collections.ConfigDict, sweep: list[dict],
                  workdir: str, name: str, destination: str) -> int:
  """Writes member `name`'s newest state as a single-run checkpoint.

  Returns:
    The exported step.
  """
  configs, names, groups = plan(base, sweep)
  if name not in names:
    raise ConfigError(f'--export_member={name} is not a member; the members '
                      f'are {names}')
  index = names.index(name)
  j = next(j for j, group in enumerate(groups) if index in group)
  member_dir = os.path.join(workdir, f'population_{j}', 'members', name)
  if os.path.isdir(os.path.join(member_dir, 'checkpoints')):
    # Trained as an ordinary run (strategy 'sequential'): already one.
    state = experiment_lib.restore_latest(
        experiment_lib.setup(configs[index]), member_dir)
    return _write_export(state, configs[index], destination)
  members = [configs[i] for i in groups[j]]
  single = experiment_lib.setup(configs[index])
  population = population_lib.Population.create(
      members, [names[i] for i in groups[j]])
  template = population.init(
      next(population.batches(single.dataset, single.step_batch_size)),
      single.dataset.example_shape, single.dataset.num_classes)
  source = checkpoint.Checkpointer(
      os.path.join(workdir, f'population_{j}', 'checkpoints'), 1)
  if source.latest_step() is None:
    raise ConfigError(f'no checkpoint of population {j} in {workdir}: train '
                      'the sweep first')
  state = population_lib.member_state(source.restore(template),
                                      groups[j].index(index))
  source.close()
  if single.initial_state.ema_params is None:
    state = state.replace(ema_params=None)   # this member runs without EMA
  return _write_export(state, configs[index], destination)


def _write_export(state, config: ml_collections.ConfigDict,
                  destination: str) -> int:
  if state is None:
    raise ConfigError('that member has no checkpoint: train the sweep first')
  step = int(state.step)
  destination = prepare_workdir(destination)
  target = checkpoint.Checkpointer(os.path.join(destination, 'checkpoints'),
                                   config.keep_checkpoints)
  target.save(step, state)
  target.wait_until_finished()
  target.close()
  with open(os.path.join(destination, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  return step


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  sweep = load_sweep(FLAGS.sweep)
  if FLAGS.export_member:
    if not FLAGS.export_to:
      raise ConfigError('--export_member needs --export_to=DIR')
    step = export_member(FLAGS.config, sweep, FLAGS.workdir,
                         FLAGS.export_member, FLAGS.export_to)
    print(f'exported {FLAGS.export_member} at step {step} to '
          f'{FLAGS.export_to}')
    return
  run(FLAGS.config, sweep, FLAGS.workdir, FLAGS.rank_by, FLAGS.rank_order,
      FLAGS.strategy)


if __name__ == '__main__':
  _define_flags()
  from gan_jax.main import parse_flags  # pylint: disable=g-import-not-at-top
  cli.run(main, flags_parser=parse_flags)
