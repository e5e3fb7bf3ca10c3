r"""Population throughput: K members under vmap against K single runs.

  python experiments/population_benchmark.py [--sizes=1,4,8,16] [--steps=3]

For each K, a population of K DCGAN members (28 px, batch 64, the
pytorch/examples widths) that differ in learning rate and seed runs the one
vmapped train step; the baseline is one single run's compiled step (K single
runs one after another reach exactly its member-steps/s). Reports
member-steps/s and the speed-up, and writes
experiments/results/population_<backend>.json and the table in
docs/benchmarks.md.
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax

from gan_jax.data import batching
from gan_jax.training import population as population_lib  # pylint: disable=wrong-import-position
from gan_jax import sweep  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib

flags.DEFINE_list('sizes', ['1', '4', '8', '16'], 'Population sizes K.')
flags.DEFINE_integer('steps', 3, 'Train steps per repetition.')
flags.DEFINE_integer('repeats', 3, 'Timed repetitions.')
FLAGS = flags.FLAGS


def time_step(compiled, state, batch):
  return common.time_compiled(compiled, state, batch, FLAGS.steps,
                              FLAGS.repeats)


def main(argv):
  del argv
  base = common.dcgan_config(28, 64)
  exp = experiment_lib.setup(base)
  shape, classes = exp.dataset.example_shape, exp.dataset.num_classes
  batch = jax.device_put(next(batching.batches(exp.dataset, 64, 0)))
  single = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx,
                                                  exp.d_tx), donate_argnums=0)
  single_s = time_step(single.lower(exp.initial_state, batch).compile(),
                       exp.initial_state, batch)
  print(f'single run: {1 / single_s:.2f} steps/s', flush=True)
  results = [dict(members=1, mode='single', member_steps_per_sec=1 / single_s,
                  speedup=1.0)]
  for k in map(int, FLAGS.sizes):
    overrides = sweep.zipped(
        seed=list(range(k)),
        optimizer__generator__learning_rate=[1e-4 * (1 + i) for i in range(k)])
    population = population_lib.Population.create(
        [sweep.member_config(base, o) for o in overrides],
        [str(i) for i in range(k)])
    batches = jax.device_put(next(population.batches(exp.dataset, 64)))
    states = population.init(batches, shape, classes)
    step = jax.jit(population.train_step(shape, classes), donate_argnums=0)
    start = time.perf_counter()
    compiled = step.lower(states, batches).compile()
    compile_s = time.perf_counter() - start
    seconds = time_step(compiled, states, batches)
    rate = k / seconds
    results.append(dict(members=k, mode='population',
                        member_steps_per_sec=rate, speedup=rate * single_s,
                        compile_s=compile_s))
    print(f'population of {k:2d}: {rate:.2f} member-steps/s '
          f'({rate * single_s:.2f}x K single runs), compile {compile_s:.1f} s',
          flush=True)
  path = common.write_results('population', FLAGS,
                              ('sizes', 'steps', 'repeats'), results)
  record = common.read_json(path)
  lines = [f'Machine: {record["machine"]}, {record["devices"][0]}, JAX '
           f'{record["jax"]}, {record["date"]}. Command: '
           f'`{record["command"]}`. DCGAN 28 px, batch 64 per member.', '',
           '| K | member-steps/s | vs K single runs one after another |',
           '| ---: | ---: | ---: |']
  for r in results:
    label = f'{r["members"]} (single run)' if r['mode'] == 'single' else str(
        r['members'])
    lines.append(f'| {label} | {r["member_steps_per_sec"]:.2f} | '
                 f'{r["speedup"]:.2f}x |')
  common.update_doc_section('benchmarks.md',
                            f'population_{jax.default_backend()}',
                            '\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
