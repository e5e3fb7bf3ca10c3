r"""Builds a domain classifier that evaluation uses to judge samples offline.

  python -m gan_jax.classifier --dataset=idx:../shared/data/mnist \
      --out=classifiers/mnist
  python -m gan_jax.classifier \
      --dataset=idx:/usr/share/datasets/fashion-mnist --out=classifiers/fashion

It trains `gan_jax.eval.classifier.SmallCNN` on split 'train', reports
accuracy on split 'test', and writes `<out>/params.msgpack` and
`<out>/classifier.json` (shape, classes, test accuracy, the command). The
directory is replaced only once the new one is complete.
"""

import os
import sys
import time

from absl import flags
import numpy as np

from gan_jax import cli
from gan_jax.eval import classifier as classifier_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', 'idx:../shared/data/mnist',
                    'A labelled dataset with train and test splits.')
flags.DEFINE_string('out', None, 'Directory to write the classifier to.')
flags.DEFINE_integer('resolution', 28, 'Image resolution it classifies.')
flags.DEFINE_integer('steps', 4000, 'Training steps (batch 128).')
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.mark_flags_as_required(['out'])


def build(dataset: str, out: str, resolution: int, steps: int,
          seed: int) -> dict:
  """Trains, tests and saves a classifier; returns its metadata."""
  start = time.perf_counter()
  train_x, train_y = classifier_lib.labelled_images(dataset, 'train',
                                                    resolution)
  test_x, test_y = classifier_lib.labelled_images(dataset, 'test', resolution)
  model = classifier_lib.train_classifier(train_x, train_y,
                                          int(train_y.max()) + 1,
                                          steps=steps, seed=seed)
  accuracy = float(np.mean(model.predict(test_x) == test_y))
  meta = dict(dataset=dataset, train_examples=len(train_x),
              test_examples=len(test_x), test_accuracy=accuracy,
              steps=steps, seed=seed,
              seconds=round(time.perf_counter() - start, 1),
              command=' '.join(['python -m gan_jax.classifier'] + sys.argv[1:]))
  classifier_lib.save(model, out, meta)
  return meta


def main(argv):
  del argv
  meta = build(FLAGS.dataset, FLAGS.out, FLAGS.resolution, FLAGS.steps,
               FLAGS.seed)
  print(f'{FLAGS.dataset}: test accuracy {meta["test_accuracy"]:.4f} on '
        f'{meta["test_examples"]} images ({meta["train_examples"]} training '
        f'images, {FLAGS.steps} steps, {meta["seconds"]:.0f} s). Saved to '
        f'{os.path.abspath(FLAGS.out)}')


if __name__ == '__main__':
  cli.run(main)
