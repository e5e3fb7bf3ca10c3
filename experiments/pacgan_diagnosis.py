r"""Why PacGAN4 fails on the grid with configs/vanilla.py: the protocol, piece by piece.

  python experiments/pacgan_diagnosis.py --steps=8000 --seeds=13

Starts from `configs/vanilla.py:dataset=gaussian_grid` and switches on one
piece of the published PacGAN protocol at a time (Lin et al. 2018; the
authors' synthetic_data_experiments/2DGrid_GAN&PacGAN: maxout D of 3 x 200
units with 5 pieces, batch-normed G, weights N(0, 0.02), Adam 1e-4 with
beta1 0.8 on both sides, 100 packs per side), then all of them, for pack 1
and pack 4. Mode coverage of 2,500 samples at the end (modes with >= 1
high-quality sample: PacGAN's rule; >= 20: gan_jax's stricter one). Writes
experiments/results/pacgan_diagnosis.json.
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer('steps', 8000, 'Train steps per run.')
flags.DEFINE_list('seeds', ['13'], 'Seeds.')
flags.DEFINE_list('packs', ['1', '4'], 'Packing degrees.')
flags.DEFINE_list('variants', None, 'Only these variants (default: all).')
flags.DEFINE_string('out', 'experiments/results/pacgan_diagnosis.json',
                    'Results file.')

ADAM = {f'optimizer.{side}.{name}': value
        for side in ('generator', 'discriminator')
        for name, value in (('learning_rate', 1e-4), ('b1', 0.8))}
PIECES = {
    'shipped': {},
    'maxout_d': {'model.d_maxout_pieces': 5},
    'batchnorm_g': {'model.g_norm': 'batch'},
    'init_0.02': {'model.init_std': 0.02},
    'adam_1e-4_b1_0.8': ADAM,
    'batch_100_packs': 'batch',
}
PIECES['protocol'] = {**PIECES['maxout_d'], **PIECES['batchnorm_g'],
                      **PIECES['init_0.02'], **ADAM}


def run(variant: str, pack: int, seed: int, steps: int) -> dict:
  config = common.load_config('vanilla', f'dataset=gaussian_grid,pack={pack}')
  overrides = {'seed': seed, 'num_train_steps': steps,
               'log_every_steps': steps // 4, 'checkpoint_every_steps': steps,
               'sample_every_steps': steps, 'evals.mode_coverage': steps}
  piece = PIECES[variant]
  if piece == 'batch' or variant == 'protocol':
    overrides['batch_size'] = 100 * pack     # 100 packs per side
  if isinstance(piece, dict):
    overrides.update(piece)
  config = config_lib.set_fields(config, overrides)
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as workdir:
    loop.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, 'final_metrics.json')) as f:
      final = json.load(f)
  return dict(variant=variant, pack=pack, seed=seed, steps=steps,
              seconds=round(time.perf_counter() - start, 1),
              **{k[5:]: v for k, v in final.items() if k.startswith('eval/')},
              d_real=final['d_real'], d_fake=final['d_fake'])


def main(argv):
  del argv
  rows = []
  for variant in FLAGS.variants or PIECES:
    for pack in map(int, FLAGS.packs):
      for seed in map(int, FLAGS.seeds):
        rows.append(run(variant, pack, seed, FLAGS.steps))
        print(json.dumps(rows[-1]), flush=True)
  common.write_json(FLAGS.out, dict(common.provenance(), rows=rows))


if __name__ == '__main__':
  app.run(main)
