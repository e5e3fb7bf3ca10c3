r"""Trains a GAN from a config file.

  python -m gan_jax.main --config=configs/dcgan.py --workdir=/tmp/dcgan
  python -m gan_jax.main --config=configs/dcgan.py:res=64 \
      --config.batch_size=128 --workdir=/tmp/dcgan64

Running again with the same --workdir resumes from its newest checkpoint.
"""

import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from gan_jax import train
from gan_jax.errors import GanJaxError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None,
                    'Directory for checkpoints, samples and TensorBoard logs.')
config_flags.DEFINE_config_file(
    'config', None, 'Training configuration file (configs/*.py[:arg]).',
    lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.info('JAX process %d/%d, devices: %s', jax.process_index(),
               jax.process_count(), jax.devices())
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except GanJaxError as e:
    # One clear message, no traceback, nonzero exit.
    sys.exit(f'gan_jax: error: {e}')


if __name__ == '__main__':
  app.run(main)
