r"""PacGAN's Table 1, 2 and 3 rows under their protocols, each row's seeds as one population.

  python experiments/mode_collapse_benchmark.py --rows=grid_gan,grid_pacgan4 \
      --seeds=0,1,2,3,4,5,6,7,8,9
  python experiments/mode_collapse_benchmark.py \
      --rows=stacked_quarter_gan,stacked_quarter_pacgan4 --seeds=0,1,2,3,4

Rows:
  {ring,grid}_{gan,pacgan2,pacgan3,pacgan4}  Table 1:
      `configs/mode_collapse_2d.py:dataset=gaussian_{ring,grid},pack=m` (the
      authors' networks, optimiser, batch of 100 packs and metric; 400,000
      steps; 2,500 evaluation samples)
  stacked_veegan_{gan,pacgan2,pacgan3,pacgan4}  Table 2 (VEEGAN's setup):
      `configs/stacked_mnist.py:setup=veegan,pack=m` (DCGAN-tensorflow, two G
      updates per D update; 100,000 steps; 26,000 samples)
  stacked_{quarter,half}_{gan,pacgan2,pacgan3,pacgan4}  Table 3 (D = 1/4 or
      1/2 of G): `configs/stacked_mnist.py:setup=unrolled_{quarter,half},
      pack=m` (Unrolled GAN's networks; 500,000 steps; 25,600 samples)
  Table 1 rows run the authors' step and data by default: their update
      order (--order=simultaneous, `config.update_order`), batch norm per
      generator call of 100 (--bn=per_call, `config.model.g_norm_groups =
      m`) and 100,000 real packs drawn once (--real=packs, `config.dataset.
      fixed_packs`; Table 2 rows too, their 128,000 packs).
      --order=alternating, --bn=whole, --real=points give gan_jax's usual
      step and data path, which the rows recorded before these defaults
      ran (their commands in docs/results.md name them). A row is recorded
      with all three; the authors' options name its run directory and show
      in --table. Table 2 and 3 rows take --bn=per_call for the authors'
      batch norm per call of 64 or 128 digit triples; their default is
      still gan_jax's one call (--bn=whole), which every Stacked MNIST row
      recorded so far ran
  ring_best  the issue's "beat the table" attempt on the ring: gan_jax's
      `configs/vanilla.py` (TTUR, LeakyReLU D, batch 256, 8,000 steps) with
      a generator EMA (decay 0.999), same data and metric; its target is
      8/8 modes, >= 98% high quality, reverse KL (PacGAN's) <= 0.02
  ring_best_24k  the same for 24,000 steps
  ring_best_r1_24k  the same with R1 (gamma 0.1)
  ring_best_r1_48k  the same for 48,000 steps (resumes ring_best_r1_24k's
      runs when --workdir holds them under ring_best_r1_48k/)
  grid_best_r1_64k  the same recipe on the grid, 64,000 steps (target 25/25
      modes, >= 95% high quality, reverse KL <= 0.02; met with 10 seeds)
  stacked_veegan_best  Table 2's target (1,000 modes, KL <= 0.05), first
      candidate: `configs/stacked_mnist.py:setup=veegan,pack=2` with a
      generator EMA (decay 0.999); not yet run (GPU work)
  stacked_quarter_best  Table 3's D = 1/4 G target (above PacDCGAN4's 667.4
      modes and KL 1.81), first candidate: `configs/stacked_mnist.py:
      setup=unrolled_quarter,pack=4` with a generator EMA (decay 0.999)
  stacked_quarter_best_bn_per_call  the same with G's batch norm per call
      of 128 as the authors' code (`bn=per_call`)
The seeds of a row train together as one population (vmapped members, one
program) and are evaluated at the end. Prints and writes
experiments/results/mode_collapse.json (appending rows), with each row's wall
time and machine; `--steps` below the protocol's is a shortened protocol,
recorded with the row (`protocol_fraction`). `--reuse=SEED=MEMBER_DIR` adds
a finished run of the row's exact config (checked) instead of training that
seed again, e.g. a best_config_search.py member:

  python experiments/mode_collapse_benchmark.py --rows=grid_best_r1_64k \
      --seeds=0,1,2,3,4,5,6,7,8,9 --reuse=0=<search>/members/<...seed=0> ...
"""

import json
import os
import time

from absl import app
from absl import flags
import numpy as np

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax import cli  # pylint: disable=wrong-import-position
from gan_jax.core import train_step  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('rows', ['ring_gan', 'ring_pacgan2', 'grid_gan',
                           'grid_pacgan4'], 'Rows to run.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (one population).')
flags.DEFINE_integer('steps', 0, 'Train steps; 0: the protocol\'s (400,000 '
                     'for Table 1, 100,000 for Table 2, 500,000 for Table 3).')
flags.DEFINE_enum('order', 'simultaneous', list(train_step.UPDATE_ORDERS),
                  'Table 1 rows: config.update_order (simultaneous: the '
                  'authors\' ali_algorithm; alternating: gan_jax\'s usual '
                  'step, which rows recorded without an update_order ran).')
flags.DEFINE_enum('bn', None, ['per_call', 'whole'],
                  'The generator\'s batch norm per call (one pack slot: '
                  '100 points, Table 3\'s 128 and Table 2\'s 64 digit '
                  'triples) as the authors\' code, or over the whole batch '
                  'of m calls (configs/mode_collapse_2d.py and '
                  'stacked_mnist.py bn=). Default: per_call for Table 1, '
                  'whole for Tables 2 and 3 (the rows recorded so far).')
flags.DEFINE_enum('real', 'packs', ['packs', 'points'],
                  'Table 1 and 2 rows: real packs drawn once as the '
                  'authors\' code, or real points (digit triples) re-paired '
                  'every epoch (configs/mode_collapse_2d.py and '
                  'stacked_mnist.py:setup=veegan, real=).')
flags.DEFINE_integer('eval_every', 0,
                     'Steps between evaluations (a trajectory in each run\'s '
                     'TensorBoard events; experiments/trajectory_table.py '
                     'reads it); 0: only at the end. Table 1 and the Stacked '
                     'MNIST rows.')
flags.DEFINE_integer('steps_per_dispatch', 1,
                     'config.steps_per_dispatch: train steps per jitted call '
                     '(one lax.scan). Speed only: on a GPU the host\'s '
                     'per-step overhead otherwise dominates small networks.')
flags.DEFINE_string('mnist', '../shared/data/mnist',
                    'MNIST IDX directory (Stacked MNIST rows).')
flags.DEFINE_string('out', 'experiments/results/mode_collapse.json',
                    'Results file (rows are appended).')
flags.DEFINE_string('workdir', '', 'Keep each row\'s runs (checkpoints, '
                    'samples, TensorBoard) in <workdir>/<row>; default: a '
                    'temporary directory, removed after the row.')
flags.DEFINE_multi_string(
    'reuse', [], 'SEED=MEMBER_DIR: a finished run of the row\'s config with '
    'that seed (e.g. a member of experiments/best_config_search.py); its final '
    'evaluation joins the row instead of training the seed again. Its '
    'config.json must equal the row\'s in every field both have (as a resume '
    'compares them), and its last evaluation '
    'must be at the row\'s final step. One row at a time.')
flags.DEFINE_bool('table', False, 'Print the rows of --out as a markdown '
                  'table (mean ± standard error) and train nothing.')

PUBLISHED = {   # Lin et al. 2018, Table 1: modes, high quality %, reverse KL
    'ring_gan': (6.3, 98.2, 0.45), 'ring_pacgan2': (7.9, 95.6, 0.07),
    'ring_pacgan3': (7.8, 97.7, 0.10), 'ring_pacgan4': (7.8, 95.9, 0.07),
    'grid_gan': (17.3, 94.8, 0.70), 'grid_pacgan2': (23.8, 91.3, 0.13),
    'grid_pacgan3': (24.6, 94.2, 0.06), 'grid_pacgan4': (24.8, 93.6, 0.04),
    # Table 2 (10 runs, mean; "DCGAN (our implementation)" for the GAN row;
    # VEEGAN's paper reports 99 modes, KL 3.40 for its DCGAN): modes, KL
    'stacked_veegan_gan': (78.9, 4.50), 'stacked_veegan_pacgan2': (1000.0, 0.06),
    'stacked_veegan_pacgan3': (1000.0, 0.06),
    'stacked_veegan_pacgan4': (1000.0, 0.07),
    # Table 3 (50 runs, mean): modes (max 1,000), KL to uniform
    'stacked_quarter_gan': (78.5, 5.21), 'stacked_quarter_pacgan2': (484.5, 2.61),
    'stacked_quarter_pacgan3': (601.3, 2.00),
    'stacked_quarter_pacgan4': (667.4, 1.81),
    'stacked_half_gan': (487.7, 2.24), 'stacked_half_pacgan2': (840.7, 1.00),
    'stacked_half_pacgan3': (866.6, 0.90), 'stacked_half_pacgan4': (820.2, 1.15),
}
# Best-config rows: (config, argument, overrides, target: each metric's
# bound, see common.meets_target).
BEST = {
    'ring_best': ('vanilla', 'dataset=gaussian_ring', {'ema_decay': 0.999},
                  common.RING_TARGET),
    # The same, 3x longer: its high-quality fraction was still rising at
    # 12,000 steps (experiments/best_config_search.py, docs/results.md).
    'ring_best_24k': ('vanilla', 'dataset=gaussian_ring',
                      {'ema_decay': 0.999, 'num_train_steps': 24_000},
                      common.RING_TARGET),
    # ...with R1 (gamma 0.1), which at 8,000 steps evened the mode
    # histogram 2-3x and started the late seed 7 early.
    'ring_best_r1_24k': ('vanilla', 'dataset=gaussian_ring',
                         {'ema_decay': 0.999, 'loss.r1_weight': 0.1,
                          'num_train_steps': 24_000}, common.RING_TARGET),
    # ...2x longer again: at 24,000 steps every seed had 8/8 modes and KL
    # <= 0.004, and high quality (97.1%) was still rising.
    'ring_best_r1_48k': ('vanilla', 'dataset=gaussian_ring',
                         {'ema_decay': 0.999, 'loss.r1_weight': 0.1,
                          'num_train_steps': 48_000}, common.RING_TARGET),
    # The ring's recipe on the grid: 25/25 modes, 95.8% high quality and KL
    # 0.008 on 3 seeds at 64,000 steps (experiments/best_config_search.py);
    # on 10 seeds 25/25, 95.6%, 0.009 (docs/results.md).
    'grid_best_r1_64k': ('vanilla', 'dataset=gaussian_grid',
                         {'ema_decay': 0.999, 'loss.r1_weight': 0.1,
                          'num_train_steps': 64_000}, common.GRID_TARGET),
    # Table 2's first candidate, not yet run: PacDCGAN2 (999.6 modes, KL
    # 0.14 at 8,000 steps on the H200) with a generator EMA, which on the
    # 2-D rings and grids evened the mode histogram.
    'stacked_veegan_best': ('stacked_mnist', 'setup=veegan,pack=2',
                            {'ema_decay': 0.999},
                            common.STACKED_VEEGAN_TARGET),
    # Table 3's D = 1/4 G target (above PacDCGAN4's 667.4 modes, KL 1.81),
    # first candidate: PacDCGAN4 (257.4 modes at 4,000 steps on the CPU)
    # with the same generator EMA.
    'stacked_quarter_best': ('stacked_mnist', 'setup=unrolled_quarter,pack=4',
                             {'ema_decay': 0.999},
                             common.STACKED_QUARTER_TARGET),
    # ...with G batch-normalising each pack slot's call of 128 on its own,
    # as the authors' code (PacDCGAN4 is otherwise gan_jax's one call of 512).
    'stacked_quarter_best_bn_per_call': (
        'stacked_mnist', 'setup=unrolled_quarter,pack=4,bn=per_call',
        {'ema_decay': 0.999}, common.STACKED_QUARTER_TARGET),
}
PROTOCOL_STEPS = {'ring': 400_000, 'grid': 400_000, 'stacked_veegan': 100_000,
                  'stacked_quarter': 500_000, 'stacked_half': 500_000}


def row_steps(row: str) -> tuple[int, int]:
  """(steps to run, the protocol's steps) of a row; a best-config row's
  "protocol" is its config's own length."""
  if row in BEST:
    name, arg, overrides, _ = BEST[row]
    protocol = config_lib.set_fields(common.load_config(name, arg), overrides).num_train_steps
  else:
    protocol = PROTOCOL_STEPS[row.rsplit('_', 1)[0]]
  return FLAGS.steps or protocol, protocol


def row_config(row: str, seed: int):
  if row in BEST:
    name, arg, overrides, _ = BEST[row]
    if name == 'stacked_mnist':
      arg += (f',steps={row_steps(row)[0]},eval_every={FLAGS.eval_every},'
              f'mnist={FLAGS.mnist}')
    config = config_lib.set_fields(common.load_config(name, arg), overrides)
    config.num_train_steps = row_steps(row)[0]
    return run_overrides(config, seed)
  benchmark, variant = row.rsplit('_', 1)
  pack = 1 if variant == 'gan' else int(variant[len('pacgan'):])
  steps, _ = row_steps(row)
  if benchmark.startswith('stacked_'):
    setup = benchmark[len('stacked_'):]
    setup = setup if setup == 'veegan' else f'unrolled_{setup}'
    real = f',real={FLAGS.real}' if setup == 'veegan' else ''
    config = common.load_config(
        'stacked_mnist', f'setup={setup},pack={pack},steps={steps},'
        f'eval_every={FLAGS.eval_every},mnist={FLAGS.mnist}{real},'
        f"bn={row_options(row)['g_bn']}")
  else:
    config = common.load_config(
        'mode_collapse_2d', f'dataset=gaussian_{benchmark},pack={pack},'
        f'steps={steps},eval_every={FLAGS.eval_every or steps},'
        f"order={FLAGS.order},bn={row_options(row)['g_bn']},"
        f'real={FLAGS.real}')
  return run_overrides(config, seed)


def run_overrides(config, seed: int):
  """What every row's run sets on its config: its seed, no health monitor,
  and the dispatch length (speed only)."""
  return config_lib.set_fields(config, {
      'seed': seed, 'health.enabled': False,
      'steps_per_dispatch': FLAGS.steps_per_dispatch})


# Fields a reused run may set differently: when it logged, checkpointed and
# wrote samples, not what it trained (resuming is exact, tests/test_faults.py).
BOOKKEEPING = ('log_every_steps', 'checkpoint_every_steps',
               'sample_every_steps', 'keep_checkpoints')


def reused_final(row: str, seed: int, directory: str) -> dict:
  """The final `eval/*` metrics of a finished run of `row`'s config with
  `seed` (prefix dropped), after checking that it is one."""
  # pylint: disable=g-import-not-at-top
  from gan_jax.training import summary, workdir
  config = row_config(row, seed)
  with open(os.path.join(directory, 'config.json')) as f:
    differences = {
        field: values for field, values in
        workdir.config_differences(json.load(f), config).items()
        if field not in BOOKKEEPING}
  if differences:
    raise app.UsageError(f'--reuse {seed}={directory}: its config differs '
                         f'from {row} seed {seed}: {differences}')
  # A metric every evaluation of the row's benchmark logs.
  metric = ('eval/stacked_modes' if row.startswith('stacked_')
            else 'eval/high_quality')
  last = max(summary.read_scalars(directory).get(metric, {}), default=None)
  if last != config.num_train_steps:
    raise app.UsageError(f'--reuse {seed}={directory}: last evaluation at '
                         f'step {last}, the row needs {config.num_train_steps}')
  return common.final_evals(directory)


def reused_seconds(reuse: dict[int, str]) -> float:
  """The reused runs' training wall time (summed over runs: they may have
  run side by side) from their event files."""
  # pylint: disable=g-import-not-at-top
  from gan_jax.training import summary
  return sum(summary.training_seconds(d) for d in reuse.values())


def run_row(row: str, seeds: list[int], reuse: dict[int, str]) -> dict:
  trained = [seed for seed in seeds if seed not in reuse]
  configs = [row_config(row, seed) for seed in trained]
  names = [f'seed={seed}' for seed in trained]
  finals = {seed: reused_final(row, seed, directory)   # checked first
            for seed, directory in reuse.items()}
  step = row_options(row)
  # Rows with the authors' options get their own runs; every other row keeps
  # <workdir>/<row> (where ring_best_r1_48k finds the runs it resumes).
  directory = row + ''.join(f'-{option}' for option in authors_options(step))
  start = time.perf_counter()
  finals.update(zip(trained, common.population_evals(
      configs, names, FLAGS.workdir and os.path.join(FLAGS.workdir, directory))
                    if trained else []))
  seconds = time.perf_counter() - start
  seeds = sorted(finals)
  finals = [finals[seed] for seed in seeds]
  steps, protocol = row_steps(row)
  return dict(row=row, seeds=seeds, steps=steps,
              protocol_fraction=steps / protocol,
              wall_seconds=round(seconds, 1),
              reused={str(seed): d for seed, d in sorted(reuse.items())},
              reused_train_seconds=round(reused_seconds(reuse), 1),
              per_seed=finals,
              published=PUBLISHED.get(row), target=target_verdict(row, finals),
              eval_every=FLAGS.eval_every,
              steps_per_dispatch=FLAGS.steps_per_dispatch, **step)


def row_options(row: str) -> dict:
  """The protocol options a row runs with: a Table 1 row's update order,
  batch norm and real data, a Table 2 row's batch norm and real data, a
  Table 3 row's batch norm; {} for best-config rows (their config says)."""
  if row in BEST:
    return {}
  if row.split('_')[0] in ('ring', 'grid'):
    return {'update_order': FLAGS.order, 'g_bn': FLAGS.bn or 'per_call',
            'real': FLAGS.real}
  if row.startswith('stacked_veegan_'):
    return {'g_bn': FLAGS.bn or 'whole', 'real': FLAGS.real}
  return {'g_bn': FLAGS.bn or 'whole'}


def authors_options(step: dict) -> list[str]:
  """The options of a row's step that are the authors' and not gan_jax's
  usual step (rows recorded before an option existed ran gan_jax's)."""
  return [option for option, on in
          (('simultaneous', step.get('update_order') == 'simultaneous'),
           ('bn_per_call', step.get('g_bn') == 'per_call'),
           ('fixed_packs', step.get('real') == 'packs')) if on]


def target_verdict(row: str, finals: list[dict]) -> dict | None:
  """A best-config row's target and whether the seeds' mean meets it."""
  if row not in BEST:
    return None
  target = BEST[row][3]
  _, met = common.meets_target(target, finals)
  return dict(**target, met=met)


_2D = (('modes_pacgan', 1, '{:.1f}'), ('high_quality', 100, '{:.1f}%'),
       ('reverse_kl_pacgan', 1, '{:.2f}'), ('modes', 1, '{:.1f}'))
_STACKED = (('stacked_modes', 1, '{:.1f}'), ('stacked_kl', 1, '{:.2f}'))


def table(record: dict) -> str:
  """Markdown: one line per row of the results file, mean ± standard error
  over its seeds, beside the published mean."""
  lines = ['| row | seeds | steps (of the protocol) | gan_jax | published | '
           'wall time, machine, date |', '| --- | ---: | --- | --- | --- | --- |']
  for row in record['rows']:
    columns = _STACKED if row['row'].startswith('stacked_') else _2D
    cells = []
    for key, scale, fmt in columns:
      values = np.array([s[key] * scale for s in row['per_seed']], float)
      finite = values[np.isfinite(values)]
      mean, error = common.mean_and_error(finite) if finite.size else (np.inf, 0)
      cell = f'{key} {fmt.format(mean)} ± {fmt.format(error)}'
      if finite.size < values.size:   # a reverse KL with no high-quality sample
        cell += f' ({finite.size} of {values.size} seeds finite)'
      cells.append(cell)
    started = common.d_started(row['per_seed'])
    if columns is _2D and started is not None:
      cells.append(f"D started on {started} of {len(row['per_seed'])}")
    published = row.get('published')
    reused = (f" (+ {len(row['reused'])} seeds trained before, --reuse"
              + (f", {row['reused_train_seconds'] / 60:.0f} min summed"
                 if row.get('reused_train_seconds') else '') + ')'
              if row.get('reused') else '')
    options = authors_options(row)
    name = row['row'] + (f" ({', '.join(options)})" if options else '')
    lines.append(
        f"| {name} | {len(row['seeds'])} | {row['steps']:,} "
        f"({row['protocol_fraction']:.1%}) | {'<br>'.join(cells)} | "
        f"{published or '—'} | "
        f"{row['wall_seconds'] / 60:.0f} min{reused}, "
        f"{row['machine']}, {row['date']} |")
  return '\n'.join(lines)


def main(argv):
  del argv
  record = {'rows': []}
  if os.path.exists(FLAGS.out):
    with open(FLAGS.out) as f:
      record = json.load(f)
  if FLAGS.table:
    print(table(record))
    return
  unknown = [row for row in FLAGS.rows
             if row not in PUBLISHED and row not in BEST]
  if unknown:
    raise app.UsageError(f'unknown rows {unknown}: expected some of '
                         f'{sorted(PUBLISHED) + sorted(BEST)}')
  reuse = {int(seed): directory for seed, _, directory in
           (spec.partition('=') for spec in FLAGS.reuse)}
  if reuse and len(FLAGS.rows) > 1:
    raise app.UsageError('--reuse names runs of one row: give one --rows')
  for row in FLAGS.rows:
    try:
      result = run_row(row, [int(s) for s in FLAGS.seeds], reuse)
    except KeyboardInterrupt:
      if FLAGS.workdir:
        raise   # cli: one line; the row resumes from its last checkpoint
      cli.fail(f'interrupted: {row} trained in a temporary directory, now '
               'removed; give --workdir to keep a row\'s checkpoints')
    result.update(common.provenance())
    record['rows'].append(result)
    print(json.dumps(result), flush=True)
    common.write_json(FLAGS.out, record)


if __name__ == '__main__':
  cli.run(main)   # a failure or Ctrl-C: one `gan_jax: error:` line
