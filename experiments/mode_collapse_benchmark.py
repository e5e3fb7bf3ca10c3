r"""PacGAN's Table 1 rows under its protocol: each row's seeds as one population.

  python experiments/mode_collapse_benchmark.py --rows=grid_gan,grid_pacgan4 \
      --seeds=0,1,2 --steps=400000

Rows: {ring,grid}_{gan,pacgan2,pacgan3,pacgan4}, each
`configs/mode_collapse_2d.py:dataset=gaussian_{ring,grid},pack=m` (the
authors' networks, optimiser, batch of 100 packs and metric). The seeds of a
row train together as one population (vmapped members, one program);
2,500 samples are evaluated at the end. Prints and writes
experiments/results/mode_collapse.json (appending rows), with each row's wall
time and machine; `--steps` below 400,000 is a shortened protocol, recorded
with the row.
"""

import json
import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))
import common  # pylint: disable=wrong-import-position
from conftest import apply_overrides, load_config  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('rows', ['ring_gan', 'ring_pacgan2', 'grid_gan',
                           'grid_pacgan4'], 'Rows to run.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (one population).')
flags.DEFINE_integer('steps', 400_000, 'Train steps (the protocol: 400,000).')
flags.DEFINE_string('out', 'experiments/results/mode_collapse.json',
                    'Results file (rows are appended).')

PUBLISHED = {   # Lin et al. 2018, Table 1: modes, high quality %, reverse KL
    'ring_gan': (6.3, 98.2, 0.45), 'ring_pacgan2': (7.9, 95.6, 0.07),
    'ring_pacgan3': (7.8, 97.7, 0.10), 'ring_pacgan4': (7.8, 95.9, 0.07),
    'grid_gan': (17.3, 94.8, 0.70), 'grid_pacgan2': (23.8, 91.3, 0.13),
    'grid_pacgan3': (24.6, 94.2, 0.06), 'grid_pacgan4': (24.8, 93.6, 0.04),
}


def row_config(row: str, seed: int):
  dataset, variant = row.split('_')
  pack = 1 if variant == 'gan' else int(variant[len('pacgan'):])
  config = load_config(
      'mode_collapse_2d', f'dataset=gaussian_{dataset},pack={pack},'
      f'steps={FLAGS.steps},eval_every={FLAGS.steps}')
  return apply_overrides(config, {'seed': seed, 'health.enabled': False})


def run_row(row: str, seeds: list[int]) -> dict:
  configs = [row_config(row, seed) for seed in seeds]
  names = [f'seed={seed}' for seed in seeds]
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as workdir:
    loop.train_population(configs, names, workdir)
    finals = []
    for name in names:
      with open(os.path.join(workdir, 'members', name,
                             'final_metrics.json')) as f:
        finals.append(json.load(f))
  seconds = time.perf_counter() - start
  return dict(row=row, seeds=seeds, steps=FLAGS.steps,
              protocol_fraction=FLAGS.steps / 400_000,
              wall_seconds=round(seconds, 1),
              per_seed=[{k[5:]: v for k, v in f.items()
                         if k.startswith('eval/')} for f in finals],
              published=PUBLISHED.get(row))


def mean_and_error(values) -> tuple[float, float]:
  values = np.asarray(values, float)
  error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0
  return float(values.mean()), float(error)


def main(argv):
  del argv
  record = {'rows': []}
  if os.path.exists(FLAGS.out):
    with open(FLAGS.out) as f:
      record = json.load(f)
  for row in FLAGS.rows:
    result = run_row(row, [int(s) for s in FLAGS.seeds])
    result.update(common.provenance())
    record['rows'].append(result)
    print(json.dumps(result), flush=True)
    common.write_json(FLAGS.out, record)


if __name__ == '__main__':
  app.run(main)
