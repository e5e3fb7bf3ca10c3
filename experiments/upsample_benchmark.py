r"""Times the DCGAN train step with each upsampling method, in one run.

  python experiments/upsample_benchmark.py [--repeats=5] [--steps=10]

Prints a table and writes experiments/results/upsample_<backend>.json with
the machine, versions, date and command. Both methods compute the same
function with the same parameters (see tests/test_models.py), so the faster
one is what `config.model.upsample='auto'` should pick on this backend.
Methods alternate within each repetition so that machine noise hits both.
"""

import statistics
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax

from gan_jax.data import batching
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib

flags.DEFINE_integer('repeats', 5, 'Timed repetitions per method and case.')
flags.DEFINE_integer('steps', 10, 'Train steps per repetition.')
FLAGS = flags.FLAGS

CASES = [(28, 128), (32, 64), (64, 64)]   # (resolution, batch size)
METHODS = ('transpose', 'subpixel')


def prepare(config):
  """A compiled step, a state and a batch; returns (step_fn, state, batch, s)."""
  exp = experiment_lib.setup(config)
  batch = jax.device_put(next(batching.batches(
      exp.dataset, exp.step_batch_size, config.seed)))
  step = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx),
                 donate_argnums=0)
  start = time.perf_counter()
  compiled = step.lower(exp.initial_state, batch).compile()
  compile_seconds = time.perf_counter() - start
  state, _ = compiled(exp.initial_state, batch)   # warm-up
  jax.block_until_ready(state)
  return compiled, state, batch, compile_seconds


def main(argv):
  del argv
  results = []
  for resolution, batch_size in CASES:
    prepared = {m: prepare(common.dcgan_config(resolution, batch_size, m))
                for m in METHODS}
    times = {m: [] for m in METHODS}
    for _ in range(FLAGS.repeats):
      for method in METHODS:            # alternate: same conditions for both
        compiled, state, batch, _ = prepared[method]
        start = time.perf_counter()
        for _ in range(FLAGS.steps):
          state, metrics = compiled(state, batch)
        jax.block_until_ready((state, metrics))
        times[method].append((time.perf_counter() - start) / FLAGS.steps)
        prepared[method] = (compiled, state, batch, prepared[method][3])
    for method in METHODS:
      median = statistics.median(times[method])
      results.append(dict(
          resolution=resolution, batch_size=batch_size, method=method,
          step_ms_median=1e3 * median,
          step_ms_min=1e3 * min(times[method]),
          step_ms_max=1e3 * max(times[method]),
          steps_per_sec=1.0 / median,
          compile_s=prepared[method][3]))
    ratio = (statistics.median(times['transpose'])
             / statistics.median(times['subpixel']))
    print(f'{resolution:>3d} px batch {batch_size:>3d}: '
          + ' | '.join(f'{m} {1e3 * statistics.median(times[m]):7.1f} ms/step'
                       for m in METHODS)
          + f' | sub-pixel speed-up {ratio:.2f}x', flush=True)

  common.write_results('upsample', FLAGS, ('repeats', 'steps'), results)


if __name__ == '__main__':
  app.run(main)
