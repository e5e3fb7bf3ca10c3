r"""Does the discriminator overfit its subset, and what does DiffAugment change?

  python experiments/diffaugment_overfit.py --seed=0 --steps=4000 --width=8
  python experiments/diffaugment_overfit.py --seed=0 --steps=12000 --width=32 \
      --fraction=0.01 --every=2000 --quality \
      --out=experiments/results/toolkit_diffaugment_overfit_1pct_w32.json

DiffAugment (Zhao et al. 2020) fights a discriminator that memorizes a small
training set: D(x) on the training images drifts away from D(x) on real
images it never saw, and its feedback to the generator degrades. This trains
configs/dcgan.py (`--width`, 32 px) on the first `--fraction` of Fashion-MNIST, with
and without `augment.policy=color,translation,cutout`, keeping the
checkpoints of every `--every` steps, and reports for each the
discriminator's mean D(x) on (up to) 2,000 of its training images and on
2,000 held-out training images (indices 50,000 to 52,000, never in the
subset), and on 2,000 generated ones: the train/held-out gap is the
overfitting DiffAugment is for. D runs as in training on its [-1, 1] inputs
(batch statistics of each 250-image batch; no augmentation at this
measurement). With `--quality`, each checkpoint's samples are also scored
against the full training set, as experiments/toolkit_benchmark.py does.
Writes `--out` (default experiments/results/toolkit_diffaugment_overfit.json)
after every checkpoint.
"""

import os
import sys
import tempfile

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import common  # pylint: disable=wrong-import-position
import toolkit_benchmark as toolkit  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax.core import state as state_lib  # pylint: disable=wrong-import-position
from gan_jax.data import sources  # pylint: disable=wrong-import-position
from gan_jax.training import checkpoint as checkpoint_lib  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.DEFINE_float('fraction', 0.1, 'Fraction of the training images.')
flags.DEFINE_integer('every', 1000, 'Steps between the checkpoints measured.')
flags.DEFINE_bool('quality', False, 'Also FID/KID/precision-recall/density-'
                  'coverage of each checkpoint against the full training set '
                  '(`--eval_samples` samples).')


def mean_d(experiment, state, images: np.ndarray) -> float:
  gan, d = experiment.gan, state.discriminator
  outputs = []
  for start in range(0, len(images), 250):
    logits, _ = gan._d(d.params, d.model_state,  # pylint: disable=protected-access
                       images[start:start + 250], None, update=False)
    outputs.append(np.asarray(jax.nn.sigmoid(logits)))
  return float(np.mean(np.concatenate(outputs)))


def main(argv):
  del argv
  full = sources.load_dataset(config_lib.set_fields(
      common.load_config('dcgan').dataset, {'name': f'idx:{FLAGS.data}',
                                     'resolution': 32}))
  held_out = toolkit.model_inputs(
      full.domains['x'].arrays['image'][50_000:52_000])
  rows, evaluator = [], None
  with tempfile.TemporaryDirectory() as scratch:
    data = toolkit.subset(FLAGS.fraction, os.path.join(scratch, 'subset'))
    for policy in ('', 'color,translation,cutout'):
      config = config_lib.set_fields(toolkit.base_config('dcgan', FLAGS.seed, data),
                               {'augment.policy': policy,
                                'checkpoint_every_steps': FLAGS.every,
                                'keep_checkpoints': 100})
      if FLAGS.quality and evaluator is None:
        evaluator = toolkit.full_set_evaluator(config, scratch)
      workdir = os.path.join(scratch, policy or 'plain')
      loop.train_and_evaluate(config, workdir)
      experiment = experiment_lib.setup(config)
      train = toolkit.model_inputs(
          experiment.dataset.domains['x'].arrays['image'][:2000])
      checkpointer = checkpoint_lib.Checkpointer(
          os.path.join(workdir, 'checkpoints'), 100)
      for step in checkpointer.all_steps():
        state = checkpointer.restore(experiment.initial_state, step)
        samples = np.asarray(experiment.gan.sample(
            state_lib.sample_params(state), state.generator.model_state,
            experiment.gan.sample_inputs(jax.random.PRNGKey(1), 2000)))
        row = dict(policy=policy or 'none', seed=FLAGS.seed, step=step,
                   d_train=mean_d(experiment, state, train),
                   d_held_out=mean_d(experiment, state, held_out),
                   d_generated=mean_d(experiment, state, samples))
        if evaluator is not None:
          row.update(evaluator.evaluate(state_lib.sample_params(state),
                                        state.generator.model_state,
                                        toolkit.METRICS))
        rows.append(row)
        print(row, flush=True)
        common.write_json(FLAGS.out or
                          'experiments/results/toolkit_diffaugment_overfit.json',
                          dict(common.provenance(), rows=rows))
      checkpointer.close()


if __name__ == '__main__':
  app.run(main)
