r"""Where the DCGAN train step spends its time: a jax.profiler trace.

  python experiments/profile_benchmark.py [--resolution=28] [--batch_size=128]

Times the compiled step under XLA's default options and under the CPU
kernel-library options below (compiled side by side in one process, timed
alternating, median of 5x5 steps), then traces 5 default steps with
jax.profiler and prints the operations with the most time per step, each
with the layer it comes from. Writes
experiments/results/profile_<backend>_<res>px.json.
"""

import collections
import glob
import gzip
import json
import re
import statistics
import tempfile
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax

from gan_jax.data import batching
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib

flags.DEFINE_integer('resolution', 28, 'DCGAN resolution.')
flags.DEFINE_integer('batch_size', 128, 'Batch size.')
flags.DEFINE_integer('top', 12, 'Operations to print.')
FLAGS = flags.FLAGS

# XLA:CPU options compared with the default (compiler_options of one compile).
CPU_OPTIONS = {
    'onednn': {'xla_cpu_use_onednn': True},
    'xnnpack': {'xla_cpu_use_xnnpack': True},
    'ynn_fusions_off': {'xla_cpu_experimental_ynn_fusion_type': ''},
}


def main(argv):
  del argv
  config = common.dcgan_config(FLAGS.resolution, FLAGS.batch_size)
  exp = experiment_lib.setup(config)
  batch = jax.device_put(next(batching.batches(
      exp.dataset, FLAGS.batch_size, 0)))
  # Not donated: every compiled variant starts from the same initial state.
  step = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx))
  options = {'default': {}}
  if jax.default_backend() == 'cpu':
    options.update(CPU_OPTIONS)
  compiled = {name: step.lower(exp.initial_state, batch).compile(
      compiler_options=option) for name, option in options.items()}
  states = {name: fn(exp.initial_state, batch)[0]
            for name, fn in compiled.items()}
  times = {name: [] for name in compiled}
  for _ in range(5):
    for name, fn in compiled.items():        # alternating: same conditions
      start = time.perf_counter()
      for _ in range(5):
        states[name], metrics = fn(states[name], batch)
      jax.block_until_ready((states[name], metrics))
      times[name].append(1e3 * (time.perf_counter() - start) / 5)
  step_ms = {name: statistics.median(t) for name, t in times.items()}
  for name, ms in step_ms.items():
    print(f'step with {name:16s}: {ms:7.1f} ms (median of 5x5)')
  hlo = compiled['default'].as_text()
  state = states['default']

  trace_dir = tempfile.mkdtemp(prefix='gan_jax_profile_')
  jax.profiler.start_trace(trace_dir, create_perfetto_trace=True)
  for _ in range(5):
    state, metrics = compiled['default'](state, batch)
  jax.block_until_ready((state, metrics))
  jax.profiler.stop_trace()
  path = sorted(glob.glob(f'{trace_dir}/**/*.trace.json.gz',
                          recursive=True))[-1]
  with gzip.open(path) as f:
    events = json.load(f)['traceEvents']
  totals = collections.Counter()
  for event in events:
    name = event.get('name', '')
    # XLA's operations; not the executor, the wait or Python frames.
    if event.get('ph') == 'X' and not (
        name.startswith('$') or 'ThunkExecutor' in name or 'Await' in name):
      totals[name] += event.get('dur', 0) / 5e3     # ms per step
  results = []
  for name, ms in totals.most_common(FLAGS.top):
    line = re.search(rf'%{re.escape(name)} = (\S+) .*', hlo)
    shape = line.group(1) if line else ''
    origin = re.search(r'op_name="([^"]*)"', line.group(0)) if line else None
    origin = origin.group(1) if origin else ''
    results.append(dict(op=name, ms_per_step=ms, shape=shape, origin=origin))
    print(f'{ms:7.1f} ms  {name:28s} {shape:28s} {origin}')
  common.write_results('profile', FLAGS, ('resolution', 'batch_size', 'top'),
                       dict(step_ms=step_ms, ops=results), suffix=
                       f'{FLAGS.resolution}px')


if __name__ == '__main__':
  app.run(main)
