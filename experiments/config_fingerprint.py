r"""A fingerprint of every shipped config: 20 steps each, losses and a checksum.

  python experiments/config_fingerprint.py --out=/tmp/fingerprint.json
  python experiments/config_fingerprint.py --compare=/tmp/before.json

For refactors that must not change behaviour: run it before and after, on
the same machine; the d_loss, g_loss and the sum of every parameter after 20
steps (seed 0) must be identical. Prints each config's figures; with
--compare, exits 1 when any differs.
"""

import json
import os
import sys
import tempfile

from absl import app
from absl import flags
import jax
import numpy as np

import common  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('out', None, 'Where to write the fingerprint (json).')
flags.DEFINE_string('compare', None, 'A fingerprint to compare against.')

CASES = (('dcgan', None), ('vanilla', None),
         ('vanilla', 'dataset=gaussian_grid,pack=4'), ('cgan', None),
         ('cgan', 'arch=mlp'), ('cyclegan', None))


def fingerprint(name: str, arg: str | None) -> dict:
  config = common.load_config(name, arg)
  config.num_train_steps = 20
  config.log_every_steps = 10
  config.checkpoint_every_steps = 20
  config.sample_every_steps = 20
  for metric in config.evals:
    config.evals[metric] = 0
  with tempfile.TemporaryDirectory() as workdir:
    state = loop.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, 'final_metrics.json')) as f:
      final = json.load(f)
  leaves = jax.tree.leaves(jax.device_get(
      (state.generator.params, state.discriminator.params)))
  return dict(d_loss=final['d_loss'], g_loss=final['g_loss'],
              checksum=float(sum(np.sum(np.asarray(leaf, np.float64))
                                 for leaf in leaves)))


def main(argv):
  del argv
  results = {f'{name}:{arg}': fingerprint(name, arg) for name, arg in CASES}
  for case, figures in results.items():
    print(case, figures)
  if FLAGS.out:
    common.write_json(FLAGS.out, dict(common.provenance(), results=results))
  if FLAGS.compare:
    with open(FLAGS.compare) as f:
      reference = json.load(f)
    reference = reference.get('results', reference)
    differ = [case for case in results if results[case] != reference.get(case)]
    print('identical' if not differ else f'DIFFERENT: {differ}')
    sys.exit(1 if differ else 0)


if __name__ == '__main__':
  app.run(main)
