r"""The results table of docs/results.md: each row trained over several seeds.

  python experiments/results_table.py --rows=grid_gan,grid_pacgan4 --seeds=5
  python experiments/results_table.py --rows=all --seeds=5

Each row is a shipped config (plus the overrides listed with it) trained once
per seed with `gan_jax.training.loop.train_and_evaluate`; its metrics are the
`eval/*` values the run's in-training evaluation logged at the last step
(`final_metrics.json`), so a row is reproduced by its config alone. The
script writes experiments/results/results_<row>.json (per-seed values, mean,
std, wall time, machine, date, command) and rebuilds the table in
docs/results.md from every results_*.json present.

Rows that need a classifier (domain FID, Stacked MNIST) read it from
classifiers/<mnist|fashion>; build them first (README, Evaluation).
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import os
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import numpy as np

from gan_jax.training import loop

FASHION = '/usr/share/datasets/fashion-mnist'
_FEATURE_EVALS = ('fid', 'kid', 'precision_recall', 'density_coverage')


@dataclasses.dataclass(frozen=True)
class Row:
  benchmark: str
  config: str                      # configs/<file>.py[:arg]
  metrics: tuple[str, ...]         # keys of eval/* to report
  baseline: str = ''               # published number and its source
  target: str = ''                 # the target for gan_jax
  overrides: tuple[tuple[str, object], ...] = ()


_MNIST = common.SHARED_MNIST
_MIXTURE = ('modes', 'high_quality', 'reverse_kl')
_STACKED = ('stacked_modes', 'stacked_kl')
_DOMAIN = ('fid', 'kid', 'precision', 'recall', 'density', 'coverage')


def _domain_overrides(classifier: str):
  return (('eval.classifier', classifier), ('eval.num_samples', 10_000),
          *((f'evals.{name}', 1500) for name in _FEATURE_EVALS))


ROWS = {
    'ring_gan': Row(
        '2-D ring, 8 modes', 'configs/vanilla.py:dataset=gaussian_ring',
        _MIXTURE, 'VEEGAN: 8 modes, ≈ 53% high quality (Srivastava et al. '
        '2017)', '8/8 modes, >= 95% high quality'),
    'ring_pacgan4': Row(
        '2-D ring, 8 modes', 'configs/vanilla.py:dataset=gaussian_ring,pack=4',
        _MIXTURE, 'VEEGAN: 8 modes, ≈ 53% high quality (Srivastava et al. '
        '2017)', '8/8 modes, >= 95% high quality'),
    'grid_gan': Row(
        '2-D grid, 25 modes', 'configs/vanilla.py:dataset=gaussian_grid',
        _MIXTURE, 'GAN: ≈ 17 modes (Lin et al. 2018, PacGAN)',
        '25/25 modes, >= 95% high quality'),
    'grid_pacgan4': Row(
        '2-D grid, 25 modes', 'configs/vanilla.py:dataset=gaussian_grid,pack=4',
        _MIXTURE, 'PacGAN4: ≈ 24.8 modes, ≈ 94% high quality (Lin et al. '
        '2018)', '25/25 modes, >= 95% high quality'),
    'stacked_dcgan': Row(
        'Stacked MNIST, 1,000 modes', 'configs/stacked_mnist.py',
        _STACKED, 'DCGAN: ≈ 99 modes, KL ≈ 3.4 (Srivastava et al. 2017; '
        'Lin et al. 2018)', '1,000 modes, KL <= 0.05'),
    'stacked_pacdcgan2': Row(
        'Stacked MNIST, 1,000 modes', 'configs/stacked_mnist.py:pack=2',
        _STACKED, 'PacDCGAN2: 1,000 modes, KL ≈ 0.06 (Lin et al. 2018)',
        '1,000 modes, KL <= 0.05'),
    'mnist_dcgan': Row(
        'MNIST 28 px, domain features', 'configs/dcgan.py:res=28,'
        f'dataset=idx:{_MNIST}', _DOMAIN,
        overrides=_domain_overrides('classifiers/mnist')),
    'fashion_dcgan': Row(
        'Fashion-MNIST 28 px, domain features', 'configs/dcgan.py:res=28,'
        f'dataset=idx:{FASHION}', _DOMAIN,
        overrides=_domain_overrides('classifiers/fashion')),
}

flags.DEFINE_list('rows', ['all'], f'Rows to run: all or some of {list(ROWS)}.')
flags.DEFINE_integer('seeds', 5, 'Seeds 0..n-1 per row.')
flags.DEFINE_string('workdir', '/tmp/gan_jax_results',
                    'Runs go to <workdir>/<row>/seed_<s> (resumed if there).')
flags.DEFINE_bool('table_only', False, 'Only rebuild docs/results.md.')
flags.DEFINE_list('reference', [], 'Domain rows (mnist_dcgan, fashion_dcgan) '
                  'whose real-vs-real floor to compute.')
FLAGS = flags.FLAGS


def row_config(row: Row, seed: int):
  path, _, arg = row.config.partition(':')
  config = common.load_config(os.path.basename(path)[:-3], arg or None,
                              **dict(row.overrides))
  config.seed = seed
  return config


def run_row(name: str, row: Row) -> dict:
  per_seed = []
  for seed in range(FLAGS.seeds):
    workdir = os.path.join(FLAGS.workdir, name, f'seed_{seed}')
    start = time.perf_counter()
    loop.train_and_evaluate(row_config(row, seed), workdir)
    seconds = time.perf_counter() - start
    with open(os.path.join(workdir, 'final_metrics.json')) as f:
      final = json.load(f)
    per_seed.append(dict(seed=seed, seconds=seconds,
                         **{m: final[f'eval/{m}'] for m in row.metrics}))
    print(name, per_seed[-1], flush=True)
  summary = {m: dict(mean=float(np.mean([s[m] for s in per_seed])),
                     std=float(np.std([s[m] for s in per_seed])))
             for m in row.metrics}
  record = dict(
      row=name, **dataclasses.asdict(row), seeds=FLAGS.seeds,
      per_seed=per_seed, summary=summary,
      mean_seconds_per_seed=float(np.mean([s['seconds'] for s in per_seed])))
  return write_record(record, f'--rows={name} --seeds={FLAGS.seeds}')


def write_record(record: dict, arguments: str) -> dict:
  """Adds provenance and writes experiments/results/results_<row>.json."""
  record.update(
      date=datetime.date.today().isoformat(),
      command=f'python experiments/results_table.py {arguments}',
      machine=f'{common.cpu_model()}, {os.cpu_count()} cores',
      backend=jax.default_backend(), jax=jax.__version__)
  path = os.path.join(common.REPO, 'experiments', 'results',
                      f'results_{record["row"]}.json')
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)
  print('wrote', path)
  return record


def reference_row(name: str, row: Row) -> dict:
  """The floor of a domain row: real test images against the real training
  images the runs are compared with, same features and sample counts."""
  from gan_jax.eval import classifier as classifier_lib
  from gan_jax.eval import metrics  # pylint: disable=g-import-not-at-top
  config = row_config(row, 0)
  dataset = config.dataset.name
  judge = classifier_lib.load(config.eval.classifier)
  count = config.eval.num_samples
  real = judge.features(classifier_lib.labelled_images(dataset, 'train',
                                                       28)[0][:count])
  test = judge.features(classifier_lib.labelled_images(dataset, 'test',
                                                       28)[0][:count])
  values = dict(fid=metrics.frechet_distance_of(real, test),
                kid=metrics.kernel_distance(real, test)[0])
  values['precision'], values['recall'] = metrics.precision_recall(real, test)
  values['density'], values['coverage'] = metrics.density_coverage(real, test)
  record = dict(
      row=f'{name}_reference',
      benchmark=row.benchmark + ': real test split vs real training images '
      '(the floor)', config=f'{dataset} test split', metrics=row.metrics,
      baseline='', target='', overrides=[], seeds=1, per_seed=[values],
      summary={m: dict(mean=float(values[m]), std=0.0) for m in row.metrics},
      mean_seconds_per_seed=0.0)
  print(record['row'], values)
  return write_record(record, f'--reference={name}')


def target_met(record: dict) -> str:
  """'met' / 'NOT met' for rows with a target (means over the seeds)."""
  summary = {m: v['mean'] for m, v in record['summary'].items()}
  if 'high_quality' in summary:
    total = 8 if 'ring' in record['row'] else 25
    met = summary['modes'] == total and summary['high_quality'] >= 0.95
  elif 'stacked_modes' in summary:
    met = summary['stacked_modes'] == 1000 and summary['stacked_kl'] <= 0.05
  else:
    return ''
  return ' — **met**' if met else ' — **NOT met**'


def _cell(summary: dict, metric: str) -> str:
  mean, std = summary[metric]['mean'], summary[metric]['std']
  if metric in ('high_quality', 'precision', 'recall', 'coverage'):
    return f'{metric} {100 * mean:.1f} ± {100 * std:.1f}%'
  return f'{metric} {mean:.4g} ± {std:.2g}'


def table() -> str:
  lines = ['| benchmark | config | seeds | gan_jax (mean ± std) | published '
           'baseline | target | wall time / seed | machine, date | command |',
           '| --- | --- | ---: | --- | --- | --- | ---: | --- | --- |']
  order = [n for name in ROWS for n in (name, f'{name}_reference')]
  paths = glob.glob(os.path.join(common.REPO, 'experiments', 'results',
                                 'results_*.json'))
  records = sorted((common.read_json(p) for p in paths),
                   key=lambda r: order.index(r['row']) if r['row'] in order
                   else len(order))
  for r in records:
    config = r['config'].replace(common.SHARED_MNIST, '../shared/data/mnist')
    extra = ''.join(f' `--config.{k}={v}`' for k, v in r['overrides']
                    if not k.startswith('evals.'))
    lines.append(
        f'| {r["benchmark"]} | `{config}`{extra} | {r["seeds"]} | '
        + '<br>'.join(_cell(r['summary'], m) for m in r['metrics'])
        + f' | {r["baseline"] or "—"} | '
        f'{(r["target"] + target_met(r)) if r["target"] else "—"} | '
        + (f'{r["mean_seconds_per_seed"] / 60:.1f} min'
           if r['mean_seconds_per_seed'] else '—')
        + f' | {r["machine"]}, '
        f'{r["date"]} | `{r["command"]}` |')
  return '\n'.join(lines)


def record_classifiers() -> None:
  """Copies classifiers/*/classifier.json (accuracy, command) into results."""
  for path in glob.glob(os.path.join(common.REPO, 'classifiers', '*',
                                     'classifier.json')):
    meta = common.read_json(path)
    name = os.path.basename(os.path.dirname(path))
    meta.update(machine=f'{common.cpu_model()}, {os.cpu_count()} cores',
                date=datetime.date.fromtimestamp(
                    os.path.getmtime(path)).isoformat())
    meta.pop('path', None)
    with open(os.path.join(common.REPO, 'experiments', 'results',
                           f'classifier_{name}.json'), 'w') as f:
      json.dump(meta, f, indent=2)


def classifier_table() -> str:
  rows = []
  for path in sorted(glob.glob(os.path.join(
      common.REPO, 'experiments', 'results', 'classifier_*.json'))):
    meta = common.read_json(path)
    rows.append(f'| {meta["dataset"]} ({meta["train_examples"]:,} training '
                f'images, {meta["steps"]} steps) | `{meta["command"]}` | '
                f'{100 * meta["test_accuracy"]:.2f}% | {meta["machine"]}, '
                f'{meta["date"]}, {meta["seconds"] / 60:.1f} min |')
  return '\n'.join(rows)


def main(argv):
  del argv
  record_classifiers()
  common.update_doc_section('results.md', 'classifiers', classifier_table())
  for name in FLAGS.reference:
    reference_row(name, ROWS[name])
  if not FLAGS.table_only and not FLAGS.reference:
    names = list(ROWS) if FLAGS.rows == ['all'] else FLAGS.rows
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
      raise app.UsageError(f'unknown rows {unknown}: expected {list(ROWS)}')
    for name in names:
      run_row(name, ROWS[name])
  common.update_doc_section('results.md', 'results', table())


if __name__ == '__main__':
  app.run(main)
