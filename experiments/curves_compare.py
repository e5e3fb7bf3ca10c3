r"""Two or more rows' evaluation curves side by side, step by step.

  python experiments/curves_compare.py \
      --curves=GAN=experiments/results/grid_gan_authors_step_curves.json \
      --curves=PacGAN2=experiments/results/grid_pacgan2_authors_step_curves.json \
      --window=40000,70000 --out=experiments/results/grid_gan_vs_pacgan2.json

Each --curves file is what experiments/trajectory_table.py writes for one
row (one run per seed). At every step that all the rows evaluated, the table
gives each metric's mean ± standard error over the row's seeds and, for the
first two rows, the two-sided Mann-Whitney p of their seeds' values. With
--window=FIRST,LAST it also averages each seed over its evaluations in that
range first (a single evaluation of a 2-D run moves by several points of high
quality), and compares those averages the same way. Where the curves keep
D's outputs (d_real, d_fake), it also gives the step at which each seed's D
started: the first logged step with D(x) - D(G(z)) >= common.STARTED_GAP.
"""

import json

from absl import app
from absl import flags
import numpy as np

import common

FLAGS = flags.FLAGS
flags.DEFINE_multi_string('curves', [], 'LABEL=PATH of a trajectory_table.py '
                          'results file; two at least.')
flags.DEFINE_list('metrics', ['eval/modes_pacgan', 'eval/high_quality',
                              'eval/reverse_kl_pacgan'], 'Scalars to compare.')
flags.DEFINE_list('window', None, 'FIRST,LAST steps: also compare each '
                  "seed's mean over its evaluations in this range.")
flags.DEFINE_string('out', None, 'Results file (JSON); none: print only.')

PERCENT = ('eval/high_quality',)   # fractions, shown as percentages


def load_runs(path: str) -> list[dict]:
  with open(path) as f:
    return json.load(f)['runs']


def at_step(runs, metric: str, step: int) -> list[float]:
  """One value per seed that evaluated `metric` at `step`."""
  return [float(run['curves'][metric][str(step)]) for run in runs
          if str(step) in run['curves'].get(metric, {})]


def window_means(runs, metric: str, first: int, last: int) -> list[float]:
  """Each seed's mean of `metric` over its evaluations in [first, last]."""
  means = []
  for run in runs:
    values = [v for s, v in run['curves'].get(metric, {}).items()
              if first <= int(s) <= last]
    if values:
      means.append(float(np.mean(values)))
  return means


def start_steps(runs) -> list[int | None] | None:
  """Each seed's first logged step with D(x) - D(G(z)) >= STARTED_GAP (None:
  not started); None when the curves do not keep D's outputs."""
  if not all(all(k in run['curves'] for k in common.D_OUTPUTS)
             for run in runs):
    return None
  steps = []
  for run in runs:
    real, fake = (run['curves'][k] for k in common.D_OUTPUTS)
    started = sorted(int(s) for s in real
                     if s in fake and real[s] - fake[s] >= common.STARTED_GAP)
    steps.append(started[0] if started else None)
  return steps


def mann_whitney(a, b) -> float | None:
  if len(a) < 2 or len(b) < 2:
    return None
  # scipy comes with scikit-learn, a core dependency.
  from scipy import stats  # pylint: disable=g-import-not-at-top
  return float(stats.mannwhitneyu(a, b, alternative='two-sided').pvalue)


def cell(metric: str, values) -> str:
  mean, error = common.mean_and_error(values)
  if metric in PERCENT:
    return f'{100 * mean:.1f} ± {100 * error:.1f}%'
  return f'{mean:.2f} ± {error:.2f}'


def compare(labels, values_of, metric) -> dict:
  """One step's (or window's) record: per row mean, error, seeds; p."""
  record = {}
  for label in labels:
    mean, error = common.mean_and_error(values_of[label])
    record[label] = dict(mean=mean, error=error, seeds=len(values_of[label]))
  record['p'] = mann_whitney(values_of[labels[0]], values_of[labels[1]])
  return record


def main(argv):
  del argv
  specs = [spec.partition('=') for spec in FLAGS.curves]
  if len(specs) < 2 or any(not label or not path for label, _, path in specs):
    raise app.UsageError('give two --curves=LABEL=PATH at least')
  labels = [label for label, _, _ in specs]
  paths = {label: path for label, _, path in specs}
  runs = {label: load_runs(paths[label]) for label in labels}
  results = dict(steps={}, window=None)
  header = ['step'] + [f'{label}: {m.split("/")[-1]}'
                       for m in FLAGS.metrics for label in labels]
  header += [f'p {m.split("/")[-1]}' for m in FLAGS.metrics]
  print('| ' + ' | '.join(header) + ' |')
  print('|' + ' --- |' * len(header))
  steps = sorted(set.intersection(*(
      {int(step) for run in runs[label]
       for step in run['curves'].get(FLAGS.metrics[0], {})}
      for label in labels)))
  for step in steps:
    cells, ps, record = [], [], {}
    for m in FLAGS.metrics:
      values_of = {label: at_step(runs[label], m, step) for label in labels}
      record[m] = compare(labels, values_of, m)
      cells += [cell(m, values_of[label]) for label in labels]
      p = record[m]['p']
      ps.append('—' if p is None else f'{p:.3f}')
    results['steps'][str(step)] = record
    print(f'| {step:,} | ' + ' | '.join(cells + ps) + ' |')
  if FLAGS.window:
    first, last = map(int, FLAGS.window)
    record, cells, ps = {}, [], []
    for m in FLAGS.metrics:
      values_of = {label: window_means(runs[label], m, first, last)
                   for label in labels}
      record[m] = compare(labels, values_of, m)
      cells += [cell(m, values_of[label]) for label in labels]
      p = record[m]['p']
      ps.append('—' if p is None else f'{p:.3f}')
    results['window'] = dict(first=first, last=last, metrics=record)
    print(f'| mean over {first:,}-{last:,} | ' + ' | '.join(cells + ps) + ' |')
  results['d_started_at'] = {}
  for label in labels:
    starts = start_steps(runs[label])
    if starts is None:
      continue
    results['d_started_at'][label] = starts
    done = sorted(s for s in starts if s is not None)
    print(f'{label}: D started on {len(done)} of {len(starts)} seeds'
          + (f', at steps {", ".join(f"{s:,}" for s in done)}' if done else ''))
  if FLAGS.out:
    common.write_json(FLAGS.out, dict(common.provenance(), curves=paths,
                                      **results))


if __name__ == '__main__':
  app.run(main)
