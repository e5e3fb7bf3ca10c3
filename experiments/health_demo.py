r"""The health monitor on runs that collapse, and on the shipped defaults.

  python experiments/health_demo.py --part=collapse --seeds=0,1,2,3,4
  python experiments/health_demo.py --part=defaults --seeds=0,1,2
  python experiments/health_demo.py --part=stall
  python experiments/health_demo.py --part=likeness --seeds=0

collapse: configs/vanilla.py:dataset=gaussian_grid with a crippled
  discriminator (one hidden layer of 16 units instead of 3 of 200): it can
  only tell the generator "not there", and the generator piles all its
  samples onto one or two modes. Reports the first step at which the monitor
  flagged collapse on each seed, and the modes covered.
defaults: the shipped configs (dcgan on digits, vanilla on the ring, cgan,
  cyclegan), each seed counting the runs in which any condition was flagged
  (a false alarm on a run that trains well). `--steps_<name>` shortens a
  config where the budget requires it (said in the output).
stall: packed runs whose discriminator starts late (docs/results.md, "PacGAN
  under its own protocol"): the grid with configs/vanilla.py and pack 4 (the
  issue's run: D at chance for all 8,000 steps), the same unpacked, and
  PacGAN2 under the protocol with the authors' step (D starts at step
  8,000-14,000 on the ten seeds of the Table 1 row). Reports where the monitor
  flagged `stalled` (first and last step) against the D(x) - D(G(z)) curve.
likeness: the probe's `precision` signal on images (what `stalled` asks of
  the samples off a 2-D mixture), in the feature space the run's probe uses
  (configs/dcgan.py: its classifier's features) and in pixels: real examples
  the probe has not seen, G at initialisation, noise, a grey image, the mean
  image, blends; then over a real run of configs/dcgan.py (health/precision
  at each log step).

Writes experiments/results/health_<part>.json.
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from gan_jax.core import state as state_lib  # pylint: disable=wrong-import-position
from gan_jax.eval import evaluator as evaluator_lib  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import health  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position
from gan_jax.training import summary  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_enum('part', 'collapse',
                  ['collapse', 'defaults', 'stall', 'likeness'],
                  'Which demo.')
flags.DEFINE_list('seeds', ['0', '1', '2', '3', '4'], 'Seeds.')
flags.DEFINE_integer('collapse_steps', 3000, 'Steps of the collapsing runs.')
flags.DEFINE_list('configs', ['dcgan', 'vanilla', 'cgan', 'cyclegan'],
                  'Shipped configs for --part=defaults.')
flags.DEFINE_integer('steps_dcgan', 0, 'Shorter dcgan runs (0: as shipped).')
flags.DEFINE_integer('steps_vanilla', 0,
                     'Shorter vanilla runs (0: as shipped).')
flags.DEFINE_integer('steps_cgan', 0, 'Shorter cgan runs (0: as shipped).')
flags.DEFINE_integer('steps_cyclegan', 0,
                     'Shorter cyclegan runs (0: as shipped).')
flags.DEFINE_integer('stall_steps', 16000,
                     'Steps of the protocol PacGAN2 run of --part=stall.')
flags.DEFINE_string('out', '', 'Results file (default by --part).')

def collapsing_config(seed: int):
  config = common.load_config('vanilla', 'dataset=gaussian_grid')
  return config_lib.set_fields(config, {
      'seed': seed, 'num_train_steps': FLAGS.collapse_steps,
      'log_every_steps': 100, 'checkpoint_every_steps': FLAGS.collapse_steps,
      'sample_every_steps': 1000, 'evals.mode_coverage': 500,
      'model.d_hidden': (16,),
      'optimizer.generator.learning_rate': 1e-4,
      'optimizer.discriminator.learning_rate': 1e-4})


def stall_configs(seed: int) -> list:
  """(name, config) of --part=stall; `seed` for every run."""
  runs = []
  for pack in (4, 1):
    config = common.load_config('vanilla', f'dataset=gaussian_grid,pack={pack}')
    runs.append((f'vanilla grid, pack {pack}',
                 config_lib.set_fields(config, {'seed': seed})))
  config = common.load_config(
      'mode_collapse_2d', 'dataset=gaussian_grid,pack=2,order=simultaneous,'
      f'bn=per_call,real=points,steps={FLAGS.stall_steps},eval_every=2000')
  runs.append(('protocol grid PacGAN2, authors\' step', config_lib.set_fields(
      config, {'seed': seed, 'log_every_steps': 100})))
  return runs


def flags_of(workdir: str) -> dict:
  scalars = summary.read_scalars(workdir)
  return {name: sorted(step for step, value in
                       scalars.get(f'health/{name}', {}).items() if value)
          for name in health.CONDITIONS}


def run(config, name: str) -> dict:
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as workdir:
    loop.train_and_evaluate(config, workdir)
    flagged = flags_of(workdir)
    scalars = summary.read_scalars(workdir)
    with open(os.path.join(workdir, 'final_metrics.json')) as f:
      final = json.load(f)
  first = {k: v[0] for k, v in flagged.items() if v}
  gaps = {step: round(value - scalars['d_fake'][step], 4)
          for step, value in scalars.get('d_real', {}).items()}
  modes = scalars.get('eval/modes_pacgan', {})
  return dict(config=name, seed=config.seed, steps=config.num_train_steps,
              first_flag=first, flagged_checks={k: len(v) for k, v in
                                                flagged.items()},
              last_flag={k: v[-1] for k, v in flagged.items() if v},
              d_gap_over_time={s: g for s, g in sorted(gaps.items())
                               if s % 1000 == 0},
              high_quality_over_time=scalars.get('eval/high_quality', {}),
              precision_over_time=scalars.get('health/precision', {}),
              modes_pacgan_over_time=modes,
              final={k: v for k, v in final.items()
                     if k.startswith(('eval/', 'health/'))},
              seconds=round(time.perf_counter() - start, 1))


def likeness_references(config) -> dict:
  """The probe's precision, in its feature space and in pixels, for samples
  whose likeness to the data is known."""
  experiment = experiment_lib.setup(config)
  dataset, gan, state = (experiment.dataset, experiment.gan,
                         experiment.initial_state)
  evaluator = evaluator_lib.Evaluator(config, dataset, gan, workdir='')
  probe = loop._health_probe(experiment, evaluator)  # pylint: disable=protected-access
  n = config.health.num_samples
  real = dataset.examples(n)
  unseen = dataset.examples(3 * n)[n:]
  rng = np.random.default_rng(0)
  inputs = gan.sample_inputs(jax.random.PRNGKey(config.seed), n,
                             {'x': real})
  at_init = np.asarray(gan.sample(state_lib.sample_params(state),
                                  state.generator.model_state, inputs))
  mean = unseen.mean(0)
  candidates = {
      'real examples the probe has not seen': unseen[:n],
      'G at initialisation': at_init,
      'uniform noise in [-1, 1]': rng.uniform(-1, 1, real.shape),
      'a grey image (all 0)': np.zeros_like(real),
      'the mean image': np.broadcast_to(mean, real.shape),
      'the mean image + N(0, 0.3) noise': np.clip(
          mean + 0.3 * rng.standard_normal(real.shape), -1, 1),
      'the average of two real examples': (unseen[:n] + unseen[n:]) / 2,
  }
  pixels = health.DiversityProbe(lambda x: np.asarray(x).reshape(len(x), -1),
                                 real)
  return {name: dict(features=probe.signals(x)['precision'],
                     pixels=pixels.signals(x)['precision'])
          for name, x in candidates.items()}


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds]
  rows = []

  def record(row):    # written after every run: a long demo keeps its rows
    rows.append(row)
    print(json.dumps(row), flush=True)
    common.write_json(
        FLAGS.out or f'experiments/results/health_{FLAGS.part}.json',
        dict(common.provenance(), rows=rows))

  if FLAGS.part == 'collapse':
    for seed in seeds:
      record(run(collapsing_config(seed), 'collapsing grid'))
  elif FLAGS.part == 'likeness':
    for seed in seeds:
      config = config_lib.set_fields(common.load_config('dcgan'), {'seed': seed})
      row = run(config, 'dcgan')
      row['references'] = likeness_references(config)
      record(row)
  elif FLAGS.part == 'stall':
    for seed in seeds:
      for name, config in stall_configs(seed):
        record(run(config, name))
  else:
    for name in FLAGS.configs:
      for seed in seeds:
        config = config_lib.set_fields(common.load_config(name), {'seed': seed})
        steps = FLAGS[f'steps_{name}'].value if f'steps_{name}' in FLAGS else 0
        if steps:
          config.num_train_steps = steps
        record(run(config, name))


if __name__ == '__main__':
  app.run(main)
