r"""Would the health monitor have flagged the ring's collapsed seed? Its 2-D
collapse signal on every kept checkpoint of a `mode_collapse_benchmark.py`
best row trained with `--workdir`.

  python experiments/mode_collapse_benchmark.py --rows=ring_best_24k \
      --seeds=0,1,2,3,4,5,6,7,8,9 --workdir=/tmp/best24k
  python experiments/ring_health_check.py --row=ring_best_24k \
      --seeds=0,1,2,3,4,5,6,7,8,9 --workdir=/tmp/best24k

Restores each kept population checkpoint, draws `health.num_samples`
samples of each member from its sampling generator (the EMA here), as the
monitor does but from a fixed batch of its own noise, and prints the
monitor's signals (`mode_fraction`: modes holding at least a
quarter of their fair share of samples; `diversity_ratio`), whether the
collapse rule holds (`mode_fraction` < `health.mode_fraction`), and, beside
them, each mode's count of high-quality samples (within 3 std). Writes
--health_out.
"""

import os
import sys

from absl import app
from absl import flags
import jax
import numpy as np

import common  # pylint: disable=wrong-import-position
import mode_collapse_benchmark as benchmark  # pylint: disable=wrong-import-position

sys.path.insert(0, common.REPO)
from gan_jax.core import state as state_lib  # pylint: disable=wrong-import-position
from gan_jax.data.sources import synthetic  # pylint: disable=wrong-import-position
from gan_jax.eval import metrics  # pylint: disable=wrong-import-position
from gan_jax.training import checkpoint  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import health  # pylint: disable=wrong-import-position
from gan_jax.training import population as population_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
# --seeds and --workdir are mode_collapse_benchmark.py's flags (the row's
# seeds and the directory its runs were kept in).
flags.DEFINE_string('row', 'ring_best_24k', 'A best-config row.')
flags.DEFINE_string('health_out', 'experiments/results/ring_health_check.json',
                    'Results file.')


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds]
  configs = [benchmark.row_config(FLAGS.row, seed) for seed in seeds]
  names = [f'seed={seed}' for seed in seeds]
  single = experiment_lib.setup(configs[0], init=False)
  population = population_lib.Population.create(configs, names)
  template = population.init(
      next(population.batches(single.dataset, single.step_batch_size)),
      single.dataset.example_shape, single.dataset.num_classes)
  means, std = synthetic.MIXTURES[configs[0].dataset.name]
  means = means()
  real = single.dataset.examples(configs[0].health.num_samples)
  probe = health.DiversityProbe(lambda x: np.asarray(x).reshape(len(x), -1),
                                real, mixture=(means, std))
  source = checkpoint.Checkpointer(
      os.path.join(FLAGS.workdir, FLAGS.row, 'checkpoints'), 1)
  rows = []
  for step in source.all_steps():
    states = source.restore(template, step)
    for index, (config, name) in enumerate(zip(configs, names)):
      state = population_lib.member_state(states, index)
      inputs = single.gan.sample_inputs(
          jax.random.PRNGKey(config.seed), config.health.num_samples)
      samples = np.asarray(jax.device_get(single.gan.sample(
          state_lib.sample_params(state), state.generator.model_state,
          inputs)))
      signals = probe.signals(samples)
      _, counts = metrics.mode_histograms(samples, means, std)
      row = dict(step=step, member=name, **signals,
                 collapse_rule=bool(signals['mode_fraction']
                                    < config.health.mode_fraction),
                 high_quality_per_mode=counts.tolist())
      rows.append(row)
      print(row, flush=True)
  source.close()
  common.write_json(FLAGS.health_out, dict(row=FLAGS.row, rows=rows,
                                    **common.provenance()))


if __name__ == '__main__':
  app.run(main)
