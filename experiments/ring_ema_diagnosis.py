r"""Why one seed of the ring's best-config row (`ring_best`) ends with no
high-quality sample: the same training with and without the generator EMA.

  python experiments/ring_ema_diagnosis.py --seeds=7,0

Members with the same seed train identically (the EMA only changes which
parameters sample), so `ema_decay=0.999` against `0` at one seed separates
"the training failed" from "the averaged parameters fail". Prints each
member's final mode-coverage metrics and appends them to --out.
"""

import time

from absl import app
from absl import flags

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('seeds', ['7', '0'], 'Seeds.')
flags.DEFINE_list('ema_decays', ['0.999', '0'], 'EMA decays per seed.')
flags.DEFINE_string('out', 'experiments/results/ring_ema_diagnosis.json',
                    'Results file.')


def main(argv):
  del argv
  configs, names = [], []
  for seed in FLAGS.seeds:
    for decay in FLAGS.ema_decays:
      config = common.load_config('vanilla', 'dataset=gaussian_ring')
      configs.append(config_lib.set_fields(config, {
          'seed': int(seed), 'ema_decay': float(decay),
          'health.enabled': False}))
      names.append(f'seed={seed},ema_decay={decay}')
  start = time.perf_counter()
  members = dict(zip(names, common.population_evals(configs, names)))
  for name, metrics in members.items():
    print(name, metrics, flush=True)
  record = dict(members=members, wall_seconds=round(
      time.perf_counter() - start, 1), **common.provenance())
  common.write_json(FLAGS.out, record)


if __name__ == '__main__':
  app.run(main)
