r"""Searching a best config for a 2-D mixture (issue 14's "beat the table").

The starting point is `configs/vanilla.py` (TTUR, LeakyReLU D, batch 256)
with a generator EMA; the search varies what the library offers against the
failure modes measured so far: a learning rate decayed linearly to zero over
the second half (both sides; the raw generator still oscillates around the
modes at the end, ring_ema_diagnosis.py), R1 (Mescheder et al. 2018: a
zero-centred gradient penalty on real data makes the game locally convergent
instead of circling) and packing (PacGAN, Lin et al. 2018).

  python experiments/best_config_search.py --seeds=0,1,7 \
      --schedules=constant,linear_decay --r1_weights=0,0.1
  python experiments/best_config_search.py --dataset=gaussian_grid \
      --seeds=0,1,2 --packs=1,2 --r1_weights=0,0.1 --steps=16000

Each (schedule, pack) is one population (R1 weight x EMA decay x seed,
vmapped; packing changes D's input shape, so it cannot vary inside one); the
populations train in turn, same seeds, same steps. Same data and metric as
mode_collapse_benchmark.py (PacGAN's: 2,500 samples, high quality within 3
standard deviations, a mode covered by one high-quality sample). Prints each
member's final metrics and each setting's mean over the seeds with its
verdict against the dataset's target (common.TARGETS), and writes them to
--out (default experiments/results/<ring|grid>_best_search.json).
"""

import itertools
import os
import time

from absl import app
from absl import flags

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_enum('dataset', 'gaussian_ring', sorted(common.TARGETS),
                  'The 2-D mixture.')
flags.DEFINE_list('seeds', ['0', '1', '7'], 'Seeds.')
flags.DEFINE_list('schedules', ['constant', 'linear_decay'],
                  'Learning-rate schedules (both sides).')
flags.DEFINE_list('packs', ['1'], 'PacGAN pack sizes (1: no packing).')
flags.DEFINE_list('r1_weights', ['0', '0.1'], 'R1 gammas.')
flags.DEFINE_list('ema_decays', ['0.999'], 'Generator EMA decays.')
flags.DEFINE_integer('steps', 8000, 'Train steps.')
flags.DEFINE_string('out', '', 'Results file; default experiments/results/'
                    '<ring|grid>_best_search.json.')
flags.DEFINE_string('workdir', '', 'Keep each population\'s runs in '
                    '<workdir>/<schedule>_pack<m>; default: temporary '
                    'directories.')


def member_config(schedule: str, pack: int, r1: float, decay: float,
                  seed: int):
  config = common.load_config('vanilla', f'dataset={FLAGS.dataset},pack={pack}')
  overrides = {'seed': seed, 'ema_decay': decay, 'loss.r1_weight': r1,
               'num_train_steps': FLAGS.steps, 'health.enabled': False}
  for side in ('generator', 'discriminator'):
    overrides[f'optimizer.{side}.schedule'] = schedule
  return config_lib.set_fields(config, overrides)


def summarise(finals: list[dict]) -> dict:
  """The seeds' means and whether they meet the dataset's target."""
  mean, met = common.meets_target(common.TARGETS[FLAGS.dataset], finals)
  return dict(**mean, met=met)


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds]
  weights = [(float(r), float(d)) for r, d in
             itertools.product(FLAGS.r1_weights, FLAGS.ema_decays)]
  grid = [(r1, d, s) for (r1, d), s in itertools.product(weights, seeds)]
  settings, members = {}, {}
  start = time.perf_counter()
  for schedule, pack in itertools.product(FLAGS.schedules,
                                          [int(p) for p in FLAGS.packs]):
    configs = [member_config(schedule, pack, *point) for point in grid]
    names = [f'schedule={schedule},pack={pack},r1={r1},ema={d},seed={s}'
             for r1, d, s in grid]
    finals = common.population_evals(
        configs, names,
        FLAGS.workdir and os.path.join(FLAGS.workdir, f'{schedule}_pack{pack}'))
    members.update(zip(names, finals))
    for r1, decay in weights:
      key = f'schedule={schedule},pack={pack},r1={r1},ema={decay}'
      settings[key] = summarise([f for (r, d, _), f in zip(grid, finals)
                                 if (r, d) == (r1, decay)])
      print(key, settings[key], flush=True)
  short = FLAGS.dataset[len('gaussian_'):]
  record = dict(dataset=FLAGS.dataset, seeds=seeds, steps=FLAGS.steps,
                target=common.TARGETS[FLAGS.dataset],
                settings=settings, members=members,
                wall_seconds=round(time.perf_counter() - start, 1),
                **common.provenance())
  common.write_json(
      FLAGS.out or f'experiments/results/{short}_best_search.json', record)


if __name__ == '__main__':
  app.run(main)
