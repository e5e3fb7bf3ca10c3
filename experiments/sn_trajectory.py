r"""Spectral norm in the DCGAN discriminator: the FID curve with and without.

  python experiments/sn_trajectory.py --seeds=0,1 --workdir=/tmp/exp
  python experiments/sn_trajectory.py --seeds=0,1 --workdir=/tmp/exp --collect

Trains configs/dcgan.py on Fashion-MNIST at 32 px (g/d_features 8, as in
experiments/toolkit_benchmark.py) for `--steps`, with and without
`model.d_spectral_norm`, each run evaluating FID every 500 steps in training
(2,000 samples, the auto-built Fashion-MNIST classifier's features), one
`gan_jax.main` process per run. `--collect` only reads the runs' TensorBoard
scalars. Writes experiments/results/toolkit_sn_trajectory.json.
"""

import os
import subprocess
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(__file__))
import common  # pylint: disable=wrong-import-position
from gan_jax.training import summary  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('seeds', ['0'], 'Seeds.')
flags.DEFINE_integer('steps', 4000, 'Training steps per run.')
flags.DEFINE_string('workdir', '/tmp/exp', 'Runs go to <workdir>/sntraj_<sn>_<seed>.')
flags.DEFINE_string('data', '/usr/share/datasets/fashion-mnist',
                    'Fashion-MNIST IDX directory.')
flags.DEFINE_bool('collect', False, 'Only read finished runs.')


def command(sn: bool, seed: int, workdir: str) -> list[str]:
  return [sys.executable, '-m', 'gan_jax.main', '--config=configs/dcgan.py',
          f'--workdir={workdir}', f'--config.seed={seed}',
          f'--config.dataset.name=idx:{FLAGS.data}',
          '--config.dataset.resolution=32', '--config.model.g_features=8',
          '--config.model.d_features=8',
          f'--config.num_train_steps={FLAGS.steps}',
          f'--config.model.d_spectral_norm={str(sn).lower()}',
          '--config.evals.fid=500', '--config.evals.kid=0',
          '--config.evals.precision_recall=0',
          f'--config.checkpoint_every_steps={FLAGS.steps}',
          '--config.sample_every_steps=1000', '--config.log_every_steps=250']


def main(argv):
  del argv
  rows = []
  for sn in (True, False):
    for seed in (int(s) for s in FLAGS.seeds):
      workdir = os.path.join(FLAGS.workdir, f'sntraj_{str(sn).lower()}_{seed}')
      if not FLAGS.collect:
        subprocess.run(command(sn, seed, workdir), check=True)
      scalars = summary.read_scalars(workdir)
      rows.append(dict(d_spectral_norm=sn, seed=seed,
                       fid={int(k): round(v, 2) for k, v in
                            sorted(scalars['eval/fid'].items())},
                       d_real=scalars['d_real'][max(scalars['d_real'])],
                       d_fake=scalars['d_fake'][max(scalars['d_fake'])],
                       command=' '.join(command(sn, seed, workdir)[1:])))
      print(rows[-1], flush=True)
  common.write_json('experiments/results/toolkit_sn_trajectory.json',
                    dict(common.provenance(), rows=rows))


if __name__ == '__main__':
  app.run(main)
