r"""CycleGAN's translation error on the embedded task, before and after training.

  python experiments/cyclegan_benchmark.py --steps=1500

The task (configs/cyclegan.py default, `digits_unpaired`): domain A = digits,
domain B = inverted and transposed digits, trained from disjoint halves so no
pair is ever seen. On the 197 held-out digits, G(a) is compared with the known
transform of a: mean absolute error (pixels in [-1, 1]) and PSNR (peak-to-peak
2), at initialisation and after --steps steps. The identity map scores as a
baseline. Writes experiments/results/cyclegan_<backend>.json.
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import numpy as np

from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.data import sources
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop

flags.DEFINE_integer('steps', 1500, 'CycleGAN train steps.')
flags.DEFINE_integer('features', 32, 'Base width of G and D.')
flags.DEFINE_integer('batch_size', 8, 'Batch size.')
flags.DEFINE_string('workdir', '/tmp/gan_jax_cyclegan_benchmark',
                    'Where CycleGAN trains (resumes if present).')
FLAGS = flags.FLAGS


def translation_error(translated: np.ndarray, target: np.ndarray):
  error = evaluator_lib.translation_error(translated, target)
  return error['translation_mae'], error['translation_psnr']


def main(argv):
  del argv
  config = common.load_config('cyclegan', f'features={FLAGS.features}')
  config.num_train_steps = FLAGS.steps
  config.batch_size = FLAGS.batch_size
  config.checkpoint_every_steps = FLAGS.steps
  test = config.dataset.copy_and_resolve_references()
  test.split = 'test'
  held_out = sources.load_dataset(test)
  a, target = held_out.examples(1000, 'a'), held_out.examples(1000, 'b')

  experiment = experiment_lib.setup(config)
  gan = experiment.gan
  translate = jax.jit(lambda params, x: gan.apply_generator(params, 'G', x))
  before = translation_error(
      np.asarray(translate(experiment.initial_state.generator.params, a)),
      target)
  identity = translation_error(a, target)
  start = time.perf_counter()
  state = loop.train_and_evaluate(config, FLAGS.workdir)
  seconds = time.perf_counter() - start
  after = translation_error(np.asarray(translate(state.generator.params, a)),
                            target)
  for name, (mae, psnr) in (('identity map', identity),
                            ('G at initialisation', before),
                            (f'G after {FLAGS.steps} steps', after)):
    print(f'{name:>24}: MAE {mae:.4f}  PSNR {psnr:.2f} dB', flush=True)
  common.write_results('cyclegan', FLAGS,
                       ('steps', 'features', 'batch_size'),
                       [dict(held_out_images=len(a), steps=FLAGS.steps,
                             identity_mae=identity[0],
                             identity_psnr=identity[1],
                             initial_mae=before[0], initial_psnr=before[1],
                             trained_mae=after[0], trained_psnr=after[1],
                             train_seconds=seconds)])


if __name__ == '__main__':
  app.run(main)
