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

from gan_jax import cli
from gan_jax import config_lib
from gan_jax.errors import ConfigError, GanJaxError
from gan_jax.training import loop

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None,
                    'Directory for checkpoints, samples and TensorBoard logs.')
config_flags.DEFINE_config_file(
    'config', None, 'Training configuration file (configs/*.py[:arg]).',
    lock_config=True)
flags.DEFINE_bool('distributed', False,
                  'Multi-host: call jax.distributed.initialize() and let it '
                  'detect the cluster (Cloud TPU, SLURM, Open MPI, ...).')
flags.DEFINE_string('coordinator_address', None,
                    'Multi-host without auto-detection: host:port of process '
                    '0; also give --num_processes and --process_id.')
flags.DEFINE_integer('num_processes', None, 'Number of processes (hosts).')
flags.DEFINE_integer('process_id', None, 'This process, 0..num_processes-1.')
flags.mark_flags_as_required(['config', 'workdir'])


def initialize_distributed() -> None:
  """Joins the processes of a multi-host run before JAX touches a device."""
  if not (FLAGS.distributed or FLAGS.coordinator_address):
    return
  if jax.config.jax_platforms in (None, '', 'cpu'):
    # CPU processes exchange gradients through gloo (no NCCL/ICI there).
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address=FLAGS.coordinator_address,
                             num_processes=FLAGS.num_processes,
                             process_id=FLAGS.process_id)


def _load_config_file(argv: list[str]):
  """The config that --config=path[:arg] in `argv` names, or None."""
  for arg in argv:
    if arg.startswith('--config='):
      try:
        return config_lib.load(arg[len('--config='):])
      except Exception:  # pylint: disable=broad-except
        return None
  return None


def _unknown_field_message(argv: list[str], error: Exception) -> str:
  """Names the override that failed and the fields valid at its level."""
  config = _load_config_file(argv)
  for arg in argv:
    if not arg.startswith('--config.'):
      continue
    try:
      config_lib.field_parent(config, arg[len('--config.'):].split('=', 1)[0])
    except ConfigError as e:
      return str(e)
  return f'cannot apply the config overrides: {type(error).__name__}: {error}'


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with one clear line for a bad config override."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    message = str(e)
    if 'Traceback' in message:  # config_flags formats get_config's error in
      message = message.strip().splitlines()[-1]
    sys.exit(f'gan_jax: error: {message}')
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections raises these for an unknown or mistyped --config.x.
    sys.exit(f'gan_jax: error: {_unknown_field_message(argv, e)}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  initialize_distributed()
  logging.info('JAX process %d/%d, devices: %s', jax.process_index(),
               jax.process_count(), jax.devices())
  try:
    config = FLAGS.config
    config.get('seed')  # ml_collections reports a bad --config file lazily
  except (OSError, GanJaxError) as e:
    cli.fail(f'--config: {e}')
  loop.train_and_evaluate(config, FLAGS.workdir)


if __name__ == '__main__':
  cli.run(main, flags_parser=parse_flags)
