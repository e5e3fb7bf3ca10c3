r"""Why gan_jax unrolls its loops on CPU: a train step inside `lax.scan`.

  python experiments/scan_benchmark.py [--repeats=3]

Times the DCGAN 28 px batch-128 train step called directly and inside a
`lax.scan` of length 1 and 2 (a while loop), and unrolled (no loop).
Writes experiments/results/scan_<backend>.json. On XLA:CPU (JAX 0.10.2) the
looped forms ran ~30x slower, hence `gan_jax.train_step.scan`.
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax

from gan_jax.data import batching
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib

flags.DEFINE_integer('repeats', 3, 'Timed calls per form.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  exp = experiment_lib.setup(common.dcgan_config(28, 128, channels=1))
  step = train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx)
  forms = {
      'direct': (1, lambda s, b: step(s, jax.tree.map(lambda x: x[0], b))),
      'while_loop_1': (1, lambda s, b: jax.lax.scan(step, s, b)),
      'while_loop_2': (2, lambda s, b: jax.lax.scan(step, s, b)),
      'unrolled_2': (2, lambda s, b: jax.lax.scan(step, s, b, unroll=True)),
      'gan_jax_scan_2': (2, train_step_lib.scan_steps(step)),
  }
  results = []
  for name, (n, fn) in forms.items():
    batches = jax.device_put(next(batching.stack_batches(
        batching.batches(exp.dataset, 128, 0), [n])))
    compiled = jax.jit(fn).lower(exp.initial_state, batches).compile()
    state, _ = compiled(exp.initial_state, batches)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(FLAGS.repeats):
      state, metrics = compiled(state, batches)
    jax.block_until_ready((state, metrics))
    ms = 1e3 * (time.perf_counter() - start) / (FLAGS.repeats * n)
    results.append(dict(form=name, steps_per_call=n, ms_per_step=ms))
    print(f'{name:>15s}: {ms:8.1f} ms/step', flush=True)
  common.write_results('scan', FLAGS, ('repeats',), results)


if __name__ == '__main__':
  app.run(main)
