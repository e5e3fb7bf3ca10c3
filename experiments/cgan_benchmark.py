r"""Conditional accuracy of the conditional GAN, judged by a trained classifier.

  python experiments/cgan_benchmark.py --dataset=mnist --steps=3000
  python experiments/cgan_benchmark.py --dataset=digits --steps=3000

1. Trains gan_jax.classifier.SmallCNN on the real training data and reports
   its accuracy on held-out real data (MNIST: the official 10k test split in
   ../shared/data/mnist; digits: the last 297 of the 1,797).
2. Trains configs/cgan.py on the same training data for --steps steps.
3. Generates --per_class samples for every class and reports the fraction the
   classifier assigns to the requested class (conditional accuracy).
Writes experiments/results/cgan_<backend>.json (machine, date, command).
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.eval import classifier as classifier_lib
from gan_jax.data import sources
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.core import state as state_lib

flags.DEFINE_enum('dataset', 'mnist', ['mnist', 'digits'], 'Real data.')
flags.DEFINE_integer('steps', 3000, 'cGAN train steps.')
flags.DEFINE_integer('classifier_steps', 1500, 'Classifier train steps.')
flags.DEFINE_integer('per_class', 1000, 'Generated samples per class.')
flags.DEFINE_string('workdir', '/tmp/gan_jax_cgan_benchmark',
                    'Where the cGAN trains (resumes if present).')
FLAGS = flags.FLAGS


def real_data(dataset_config, split: str):
  """(images in [-1, 1], labels) of the cGAN's dataset, split train or test."""
  dataset_config = dataset_config.copy_and_resolve_references()
  if FLAGS.dataset == 'mnist':
    dataset_config.split = split
  dataset = sources.load_dataset(dataset_config)
  images = dataset.examples(len(dataset))
  labels = dataset.domains['x'].arrays['label']
  if FLAGS.dataset == 'digits':   # no official split: hold out the tail
    cut = 1500
    return (images[:cut], labels[:cut]) if split == 'train' else (
        images[cut:], labels[cut:])
  return images, labels


def main(argv):
  del argv
  start = time.perf_counter()
  config = common.load_config('cgan')
  config.num_train_steps = FLAGS.steps
  config.checkpoint_every_steps = FLAGS.steps
  if FLAGS.dataset == 'mnist':
    config.dataset.name = f'idx:{common.SHARED_MNIST}'

  train_x, train_y = real_data(config.dataset, 'train')
  test_x, test_y = real_data(config.dataset, 'test')
  judge = classifier_lib.train_classifier(train_x, train_y, 10,
                                      steps=FLAGS.classifier_steps)
  classifier_accuracy = float(np.mean(judge.predict(test_x) == test_y))
  print(f'classifier accuracy on held-out real {FLAGS.dataset}: '
        f'{classifier_accuracy:.4f}', flush=True)

  gan_start = time.perf_counter()
  state = loop.train_and_evaluate(config, FLAGS.workdir)
  gan_seconds = time.perf_counter() - gan_start
  gan = experiment_lib.setup(config).gan

  labels = jnp.repeat(jnp.arange(10), FLAGS.per_class)
  z = jax.random.normal(jax.random.PRNGKey(123), (len(labels),
                                                  config.model.latent_dim))
  samples = jax.jit(gan.sample)(state_lib.sample_params(state),
                                state.generator.model_state,
                                {'z': z, 'label': labels})
  predicted = judge.predict(np.asarray(samples))
  per_class = [float(np.mean(predicted[labels == c] == c)) for c in range(10)]
  accuracy = float(np.mean(predicted == np.asarray(labels)))
  print(f'conditional accuracy of {config.num_train_steps}-step cGAN samples: '
        f'{accuracy:.4f} (per class: '
        + ' '.join(f'{a:.2f}' for a in per_class) + ')', flush=True)
  common.write_results('cgan', FLAGS, ('dataset', 'steps', 'classifier_steps',
                                       'per_class'),
                       [dict(dataset=FLAGS.dataset,
                             classifier_test_accuracy=classifier_accuracy,
                             cgan_steps=FLAGS.steps,
                             conditional_accuracy=accuracy,
                             per_class_accuracy=per_class,
                             cgan_train_seconds=gan_seconds,
                             total_seconds=time.perf_counter() - start)],
                       suffix=FLAGS.dataset)


if __name__ == '__main__':
  app.run(main)
