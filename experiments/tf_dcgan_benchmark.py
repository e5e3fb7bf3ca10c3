r"""The TensorFlow-built Stacked MNIST networks on this backend: XLA's
convolution against `layers.patch_conv`, side by side.

  python experiments/tf_dcgan_benchmark.py [--repeats=3]

For `configs/stacked_mnist.py:setup=veegan` (DCGAN-tensorflow, 5 x 5 kernels)
and `setup=unrolled_quarter` (Unrolled GAN's 3 x 3 networks): the seconds of
the whole jitted train step with every convolution of both networks computed
by XLA's convolution ('xla'), as strided slices and one einsum ('patches'),
or as patches only where the kernel is larger than the input
('small_input', tried here only), from the same state on the same batch, and
the largest difference of the updated parameters from XLA's; and the one
layer behind XLA's slow case alone. Writes
experiments/results/tf_dcgan_<backend>.json.
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.core import train_step as train_step_lib  # pylint: disable=g-bad-import-order
from gan_jax.data import batching
from gan_jax.models import layers
from gan_jax.training import experiment as experiment_lib

flags.DEFINE_integer('repeats', 3, 'Timed steps per method (best is kept).')
flags.DEFINE_string('mnist', common.SHARED_MNIST, 'MNIST IDX directory.')
FLAGS = flags.FLAGS

SETUPS = ('veegan', 'unrolled_quarter')
METHODS = ('xla', 'patches', 'small_input')


def small_input_conv(lhs, rhs, *args, **kwargs):
  """Tried and measured: patches only where the kernel is larger than the
  input (XLA:CPU's slowest case), XLA's convolution elsewhere."""
  if rhs.shape[0] > lhs.shape[1] or rhs.shape[1] > lhs.shape[2]:
    return layers.patch_conv(lhs, rhs, *args, **kwargs)
  return jax.lax.conv_general_dilated(lhs, rhs, *args, **kwargs)


layers.CONV_FUNCTIONS['small_input'] = small_input_conv


def step_seconds(exp, method: str):
  """(best seconds per train step, the state after one step) with `method`."""
  gan = exp.gan
  gan.generator = gan.generator.clone(conv_method=method)
  gan.discriminator = gan.discriminator.clone(conv_method=method)
  batch = next(batching.batches(exp.dataset, exp.step_batch_size, 0))
  step = jax.jit(train_step_lib.make_train_step_for(gan, exp.g_tx, exp.d_tx,
                                                    exp.config))
  first, _ = step(exp.initial_state, batch)
  return best_seconds(step, exp.initial_state, batch), first


def best_seconds(fn, *args) -> float:
  """Best of --repeats timed calls of the jitted `fn`, after one warm-up."""
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def layer_row() -> dict:
  """The one layer behind the slowdown: D's last convolution in the VEEGAN
  setup (5 x 5, stride 2, 'SAME', 64 images of 4 x 4 x 256 -> 512), forward
  and both gradients, XLA against patches; and XLA with a 4 x 4 kernel,
  which does not exceed the input."""
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  x = jax.random.normal(keys[0], (64, 4, 4, 256))
  seconds = {}
  for name, method, size in (('xla', 'xla', 5), ('patches', 'patches', 5),
                             ('xla, 4 x 4 kernel', 'xla', 4)):
    kernel = 0.02 * jax.random.normal(keys[1], (size, size, 256, 512))
    conv = lambda x, k, method=method: layers.CONV_FUNCTIONS[method](
        x, k, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    seconds[name] = dict(
        forward=best_seconds(jax.jit(conv), x, kernel),
        gradients=best_seconds(jax.jit(jax.grad(
            lambda x, k, conv=conv: jnp.sum(conv(x, k) ** 2), (0, 1))),
                               x, kernel))
  return dict(layer='5x5 stride-2 SAME conv, (64, 4, 4, 256) -> 512',
              seconds=seconds)


def max_difference(a, b) -> float:
  """Largest |difference| of the two states' parameters (both networks)."""
  leaves = lambda s: jax.tree.leaves((s.generator.params,
                                      s.discriminator.params))
  return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
             for x, y in zip(leaves(a), leaves(b)))


def main(argv):
  del argv
  rows = []
  for setup in SETUPS:
    config = common.load_config(
        'stacked_mnist', f'setup={setup},mnist={FLAGS.mnist}')
    config.dataset.num_examples = 4096
    config.evals.stacked_mnist = 0
    exp = experiment_lib.setup(config)
    seconds, states = {}, {}
    for method in METHODS:
      seconds[method], states[method] = step_seconds(exp, method)
    row = dict(setup=setup, batch_size=config.batch_size,
               g_steps_per_d_step=config.g_steps_per_d_step,
               seconds_per_step=seconds,
               speedup_over_xla={m: seconds['xla'] / seconds[m]
                                 for m in METHODS},
               max_param_difference_from_xla={
                   m: max_difference(states['xla'], states[m])
                   for m in METHODS})
    print(row, flush=True)
    rows.append(row)
  layer = layer_row()
  print(layer, flush=True)
  common.write_results('tf_dcgan', FLAGS, ['repeats'],
                       dict(layer=layer, train_steps=rows))


if __name__ == '__main__':
  app.run(main)
