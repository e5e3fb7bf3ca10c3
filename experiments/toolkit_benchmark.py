r"""Measured gains of the toolkit on Fashion-MNIST at 32 px (issue: SN, DiffAugment, ResNet).

  apt-get install -y dataset-fashion-mnist     # the full 60k + 10k, IDX
  python experiments/toolkit_benchmark.py --part=sngan --seeds=0,1,2
  python experiments/toolkit_benchmark.py --part=diffaugment --seeds=0,1,2
  python experiments/toolkit_benchmark.py --part=spectral_norm --seeds=0,1,2
  python experiments/toolkit_benchmark.py --part=sn_diagnosis --seeds=0,1,2

Parts (each row trained for the same number of generator updates, `--steps`,
then evaluated on 5,000 samples against the FULL Fashion-MNIST training set,
on the features of the auto-built Fashion-MNIST classifier):
  sngan          configs/sngan.py (ResNet, hinge, spectral norm, n_dis 5) vs
                 configs/dcgan.py; both at g/d_features `--width`
  diffaugment    DCGAN on 10% and 1% of the training images, with and without
                 `augment.policy=color,translation,cutout`
  spectral_norm  DCGAN with `model.d_spectral_norm=true` vs without
  sn_diagnosis   why SN alone hurt DCGAN: SN with and without D's batch norm,
                 and no batch norm without SN
  replay         the floor of the limited-data rows: a "generator" that
                 replays its training subset (`--eval_samples` draws with
                 replacement from the first `--fractions` of the images),
                 scored like the runs; no training
Writes experiments/results/toolkit_<part>.json (one row per run, with its
wall time).
"""

import json
import os
import shutil
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax.data.sources import idx  # pylint: disable=wrong-import-position
from gan_jax.core import state as state_lib  # pylint: disable=wrong-import-position
from gan_jax.data import prepare  # pylint: disable=wrong-import-position
from gan_jax.data import sources  # pylint: disable=wrong-import-position
from gan_jax.eval import evaluator as evaluator_lib  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_enum('part', 'sngan', ['sngan', 'diffaugment', 'spectral_norm',
                                    'sn_diagnosis', 'replay'],
                  'Which comparison.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
flags.DEFINE_integer('steps', 1500, 'Generator updates per run.')
flags.DEFINE_integer('width', 32, 'g_features and d_features of both models.')
flags.DEFINE_string('data', '/usr/share/datasets/fashion-mnist',
                    'Fashion-MNIST IDX directory.')
flags.DEFINE_integer('eval_samples', 5000, 'Samples per evaluation.')
flags.DEFINE_list('fractions', ['0.1', '0.01'],
                  'Fractions of the training images (--part=diffaugment).')
flags.DEFINE_string('out', '', 'Results file (default by --part).')
flags.DEFINE_string('keep_samples', '', 'Copy each run\'s last sample grid '
                    'into this directory (<part>_<seed>_<row>.png).')

METRICS = ['fid', 'kid', 'precision_recall', 'density_coverage']


def base_config(name: str, seed: int, dataset: str):
  config = (common.load_config('sngan', 'channels=1') if name == 'sngan'
            else common.load_config('dcgan'))
  overrides = {'seed': seed, 'num_train_steps': FLAGS.steps,
               'log_every_steps': 100, 'checkpoint_every_steps': FLAGS.steps,
               'sample_every_steps': FLAGS.steps,
               'model.g_features': FLAGS.width,
               'model.d_features': FLAGS.width,
               'dataset.name': dataset, 'dataset.resolution': 32,
               'eval.num_samples': FLAGS.eval_samples}
  for metric in config.evals:
    overrides[f'evals.{metric}'] = 0
  return config_lib.set_fields(config, overrides)


def subset(fraction: float, directory: str) -> str:
  """The first `fraction` of the training images, as IDX files."""
  full = sources.load_dataset(config_lib.set_fields(
      common.load_config('dcgan').dataset, {'name': f'idx:{FLAGS.data}',
                                     'resolution': 28}))
  count = int(len(full) * fraction)
  arrays = full.domains['x'].arrays
  os.makedirs(directory, exist_ok=True)
  idx.write_idx(os.path.join(directory, 'train-images-idx3-ubyte'),
            arrays['image'][:count, ..., 0])
  idx.write_idx(os.path.join(directory, 'train-labels-idx1-ubyte'),
            arrays['label'][:count])
  return f'idx:{directory}'


def model_inputs(images: np.ndarray) -> np.ndarray:
  """Stored uint8 images -> what the networks read: float32 in [-1, 1]."""
  return prepare.to_model_inputs({'image': np.asarray(images)})['x']


def full_set_evaluator(config, workdir: str) -> evaluator_lib.Evaluator:
  """Scores `config`'s samples against all of Fashion-MNIST's training
  images, whatever subset the run trained on."""
  full = config_lib.set_fields(config.copy_and_resolve_references(), {
      'dataset.name': f'idx:{FLAGS.data}'})
  experiment = experiment_lib.setup(full, init=False)
  return evaluator_lib.Evaluator(full, experiment.dataset, experiment.gan,
                                 workdir)


def train_and_measure(config, label: str, workdir: str) -> dict:
  """Trains, then evaluates against the full training set."""
  start = time.perf_counter()
  state = loop.train_and_evaluate(config, workdir)
  seconds = time.perf_counter() - start
  if FLAGS.keep_samples:
    last = sorted(os.listdir(os.path.join(workdir, 'samples')))[-1]
    os.makedirs(FLAGS.keep_samples, exist_ok=True)
    slug = ''.join(c if c.isalnum() else '_' for c in label).strip('_')
    shutil.copy(os.path.join(workdir, 'samples', last), os.path.join(
        FLAGS.keep_samples, f'{FLAGS.part}_{config.seed}_{slug}.png'))
  results = full_set_evaluator(config, workdir).evaluate(
      state_lib.sample_params(state), state.generator.model_state, METRICS)
  return dict(row=label, seed=config.seed, steps=config.num_train_steps,
              train_examples=len(experiment_lib.setup(config, False).dataset),
              train_seconds=round(seconds, 1), **results)


def runs(part: str, seed: int, scratch: str):
  fashion = f'idx:{FLAGS.data}'
  if part == 'sngan':
    yield 'SNGAN (ResNet, hinge, SN, n_dis 5)', base_config('sngan', seed,
                                                            fashion)
    yield 'DCGAN', base_config('dcgan', seed, fashion)
  elif part == 'sn_diagnosis':   # (apply_overrides changes its argument)
    dcgan = lambda: base_config('dcgan', seed, fashion)
    yield 'DCGAN', dcgan()
    yield 'DCGAN + SN in D', config_lib.set_fields(dcgan(),
                                             {'model.d_spectral_norm': True})
    yield 'DCGAN + SN in D, no BN in D', config_lib.set_fields(
        dcgan(), {'model.d_spectral_norm': True, 'model.d_norm': 'none'})
    yield 'DCGAN, no BN in D', config_lib.set_fields(dcgan(),
                                               {'model.d_norm': 'none'})
  elif part == 'spectral_norm':
    yield 'DCGAN + SN in D', config_lib.set_fields(
        base_config('dcgan', seed, fashion), {'model.d_spectral_norm': True})
    yield 'DCGAN', base_config('dcgan', seed, fashion)
  else:
    for fraction in (float(f) for f in FLAGS.fractions):
      data = subset(fraction, os.path.join(scratch, f'subset_{fraction}'))
      for policy in ('', 'color,translation,cutout'):
        config = config_lib.set_fields(base_config('dcgan', seed, data),
                                 {'augment.policy': policy})
        yield (f'DCGAN, {fraction:.0%} of the data'
               + (', DiffAugment' if policy else '')), config


def replay_rows(scratch: str):
  """A perfect memorizer of each subset, scored against the full set."""
  evaluator = None
  for seed in (int(s) for s in FLAGS.seeds):
    for fraction in (float(f) for f in FLAGS.fractions):
      data = subset(fraction, os.path.join(scratch, f'subset_{fraction}'))
      config = base_config('dcgan', seed, data)
      evaluator = evaluator or full_set_evaluator(config, scratch)
      images = model_inputs(experiment_lib.setup(config, init=False)
                            .dataset.domains['x'].arrays['image'])
      draws = np.random.default_rng(seed).integers(len(images),
                                                   size=FLAGS.eval_samples)
      yield dict(row=f'replaying the {fraction:.0%} subset', seed=seed,
                 steps=0, train_examples=len(images), train_seconds=0.0,
                 **evaluator.distribution_metrics(images[draws], METRICS))


def main(argv):
  del argv
  rows = []
  with tempfile.TemporaryDirectory() as scratch:
    if FLAGS.part == 'replay':
      for row in replay_rows(scratch):
        rows.append(row)
        print(json.dumps(row), flush=True)
      _write(rows)
      return
    for seed in (int(s) for s in FLAGS.seeds):
      for index, (label, config) in enumerate(runs(FLAGS.part, seed,
                                                   scratch)):
        workdir = os.path.join(scratch, f'{seed}_{index}')
        rows.append(train_and_measure(config, label, workdir))
        print(json.dumps(rows[-1]), flush=True)
        _write(rows)


def _write(rows):
  common.write_json(FLAGS.out or f'experiments/results/toolkit_{FLAGS.part}.json',
                    dict(common.provenance(), rows=rows))


def summarize(path: str) -> str:
  """Mean +- standard error per row, as a markdown table."""
  with open(path) as f:
    record = json.load(f)
  by_row = {}
  for row in record['rows']:
    by_row.setdefault(row['row'], []).append(row)
  columns = ['fid', 'kid', 'precision', 'recall', 'density', 'coverage',
             'train_seconds']
  lines = ['| run | seeds | ' + ' | '.join(columns) + ' |',
           '| --- | ---: | ' + ' | '.join('---:' for _ in columns) + ' |']
  for label, rows in by_row.items():
    cells = []
    for column in columns:
      mean, error = common.mean_and_error([r[column] for r in rows])
      cells.append(f'{mean:.4g} ± {error:.2g}')
    lines.append(f'| {label} | {len(rows)} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


if __name__ == '__main__':
  app.run(main)
