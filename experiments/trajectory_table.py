r"""Evaluation curves of finished runs, from their TensorBoard scalars.

  python experiments/trajectory_table.py --out=experiments/results/pacgan_trajectory.json \
      --runs='GAN=/tmp/long/grid_p1' --runs='PacGAN4=/tmp/long/grid_p4' \
      --metrics=eval/modes,eval/modes_pacgan,eval/high_quality,eval/reverse_kl_pacgan

Writes each run's metrics at every evaluated step, with its config.json and
the command that trained it (recorded in the file by --commands, one per
run, in the same order). A run stopped part way gives the evaluations it
logged; a workdir with no run in it is left out, saying so.
"""

import json
import os
import sys

from absl import app
from absl import flags

import common  # pylint: disable=wrong-import-position

sys.path.insert(0, common.REPO)
from gan_jax.training import summary  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_multi_string('runs', [], 'label=workdir')
flags.DEFINE_multi_string('commands', [], 'The command of each run.')
flags.DEFINE_list('metrics', ['eval/modes', 'eval/modes_pacgan',
                              'eval/high_quality', 'eval/reverse_kl_pacgan'],
                  'Scalars to keep.')
flags.DEFINE_string('out', None, 'Results file.')


def main(argv):
  del argv
  runs = []
  for index, spec in enumerate(FLAGS.runs):
    label, _, workdir = spec.partition('=')
    if not os.path.exists(os.path.join(workdir, 'config.json')):
      print(f'{label}: no run in {workdir}, left out')   # never started
      continue
    scalars = summary.read_scalars(workdir)
    with open(os.path.join(workdir, 'config.json')) as f:
      config = json.load(f)
    runs.append(dict(label=label, seed=config['seed'],
                     command=(FLAGS.commands[index]
                              if index < len(FLAGS.commands) else ''),
                     curves={m: {str(k): v for k, v in
                                 sorted(scalars.get(m, {}).items())}
                             for m in FLAGS.metrics}))
  common.write_json(FLAGS.out, dict(common.provenance(), runs=runs))


if __name__ == '__main__':
  app.run(main)
