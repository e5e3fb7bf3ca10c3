r"""Does the discriminator overfit the 10% subset? (Why DiffAugment did not help.)

  python experiments/diffaugment_overfit.py --seed=0 --steps=4000 --width=8
  python experiments/diffaugment_overfit.py --seed=0 --steps=4000 --width=32 \
      --fraction=0.01 --out=experiments/results/toolkit_diffaugment_overfit_1pct.json

DiffAugment (Zhao et al. 2020) fights a discriminator that memorizes a small
training set: D(x) on the training images drifts away from D(x) on real
images it never saw, and its feedback to the generator degrades. This trains
configs/dcgan.py (`--width`, 32 px) on the first `--fraction` of Fashion-MNIST, with
and without `augment.policy=color,translation,cutout`, keeping the
checkpoints of every 1,000 steps, and reports for each the discriminator's
mean D(x) on 2,000 of its training images and on 2,000 held-out training
images (indices 50,000 to 52,000, never in the subset), and on 2,000
generated ones: the train/held-out gap is the overfitting DiffAugment is
for. D runs as in training (batch statistics of each 250-image batch; no
augmentation at this measurement).
Writes experiments/results/toolkit_diffaugment_overfit.json.
"""

import os
import sys
import tempfile

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
# The user's classifier cache, not the temporary one tests/conftest.py sets.
os.environ.setdefault('GAN_JAX_CACHE', os.path.join(
    os.path.expanduser('~'), '.cache', 'gan_jax'))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))
import common  # pylint: disable=wrong-import-position
import toolkit_benchmark as toolkit  # pylint: disable=wrong-import-position
from conftest import apply_overrides, load_config  # pylint: disable=wrong-import-position
from gan_jax.core import state as state_lib  # pylint: disable=wrong-import-position
from gan_jax.data import prepare  # pylint: disable=wrong-import-position
from gan_jax.data import sources  # pylint: disable=wrong-import-position
from gan_jax.training import checkpoint as checkpoint_lib  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import loop  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.DEFINE_float('fraction', 0.1, 'Fraction of the training images.')


def model_inputs(images: np.ndarray) -> np.ndarray:
  """Stored uint8 images -> what D reads in training: float32 in [-1, 1]."""
  return prepare.to_model_inputs({'image': np.asarray(images)})['x']


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
  full = sources.load_dataset(apply_overrides(
      load_config('dcgan').dataset, {'name': f'idx:{FLAGS.data}',
                                     'resolution': 32}))
  held_out = model_inputs(full.domains['x'].arrays['image'][50_000:52_000])
  rows = []
  with tempfile.TemporaryDirectory() as scratch:
    data = toolkit.subset(FLAGS.fraction, os.path.join(scratch, 'subset'))
    for policy in ('', 'color,translation,cutout'):
      config = apply_overrides(toolkit.base_config('dcgan', FLAGS.seed, data),
                               {'augment.policy': policy,
                                'checkpoint_every_steps': 1000,
                                'keep_checkpoints': 10})
      workdir = os.path.join(scratch, policy or 'plain')
      loop.train_and_evaluate(config, workdir)
      experiment = experiment_lib.setup(config)
      train = model_inputs(
          experiment.dataset.domains['x'].arrays['image'][:2000])
      checkpointer = checkpoint_lib.Checkpointer(
          os.path.join(workdir, 'checkpoints'), 10)
      for step in checkpointer.all_steps():
        state = checkpointer.restore(experiment.initial_state, step)
        samples = np.asarray(experiment.gan.sample(
            state_lib.sample_params(state), state.generator.model_state,
            experiment.gan.sample_inputs(jax.random.PRNGKey(1), 2000)))
        row = dict(policy=policy or 'none', seed=FLAGS.seed, step=step,
                   d_train=mean_d(experiment, state, train),
                   d_held_out=mean_d(experiment, state, held_out),
                   d_generated=mean_d(experiment, state, samples))
        rows.append(row)
        print(row, flush=True)
      checkpointer.close()
  common.write_json(FLAGS.out or
                    'experiments/results/toolkit_diffaugment_overfit.json',
                    dict(common.provenance(), rows=rows))


if __name__ == '__main__':
  app.run(main)
