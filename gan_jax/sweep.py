r"""Runs a hyperparameter sweep: populations under vmap, the rest in turn.

  python -m gan_jax.sweep --config=configs/dcgan.py \
      --sweep=experiments/sweep_dcgan_lr.py --workdir=/tmp/sweep

The sweep file defines `get_sweep()` returning a list of override dicts
({'optimizer.generator.learning_rate': 1e-4, 'seed': 1}), usually built with
`product` and `zipped` below. Members that differ only in numeric
hyperparameters and seeds (`population.VECTORIZABLE`) train together as one
population, one compiled program under `jax.vmap`; members that differ
structurally (architecture, resolution, loss kind) form separate populations
run one after another by this same command.

Workdir layout:
  population_<j>/checkpoints/<step>/      every member of population j
  population_<j>/members/<name>/          one member's TensorBoard run,
                                          samples/ and final_metrics.json
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
  config = copy.deepcopy(base)
  for field, value in overrides.items():
    try:
      config_lib.set_field(config, field, value)
    except TypeError as e:   # ml_collections: a value of the wrong type
      raise ConfigError(f'sweep value config.{field}={value!r}: {e}') from e
  return config


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


def run(base: ml_collections.ConfigDict, sweep: list[dict], workdir: str,
        rank_by: str = '', rank_order: str = '') -> list[dict]:
  """Trains every member; returns the ranked rows of the summary table.

  Args:
    rank_by: the final metric to rank by ('' = an evaluation metric the
      members logged, see RANK_PREFERENCE).
    rank_order: 'min' or 'max' ('' = which is better for that metric).
  """
  configs, names, groups = plan(base, sweep)
  logging.info('Sweep of %d members in %d population(s): %s', len(configs),
               len(groups), [len(g) for g in groups])
  rows = []
  for j, group in enumerate(groups):
    directory = os.path.join(workdir, f'population_{j}')
    loop.train_population([configs[i] for i in group],
                          [names[i] for i in group], directory)
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
  if single.initial_state.ema_params is None:
    state = state.replace(ema_params=None)   # this member runs without EMA
  step = int(state.step)
  destination = prepare_workdir(destination)
  target = checkpoint.Checkpointer(os.path.join(destination, 'checkpoints'),
                                   configs[index].keep_checkpoints)
  target.save(step, state)
  target.wait_until_finished()
  target.close()
  source.close()
  with open(os.path.join(destination, 'config.json'), 'w') as f:
    f.write(configs[index].to_json_best_effort(indent=2))
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
  run(FLAGS.config, sweep, FLAGS.workdir, FLAGS.rank_by, FLAGS.rank_order)


if __name__ == '__main__':
  _define_flags()
  from gan_jax.main import parse_flags  # pylint: disable=g-import-not-at-top
  cli.run(main, flags_parser=parse_flags)
