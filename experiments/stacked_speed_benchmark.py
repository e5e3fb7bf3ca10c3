r"""Stacked MNIST protocol steps: member-steps/s of a population of K seeds.

  python experiments/stacked_speed_benchmark.py --setups=veegan \
      --packs=1,2 --sizes=1,5,10 [--mnist=../shared/data/mnist]

Sizes the Stacked MNIST rows of experiments/mode_collapse_benchmark.py before
they run: for each setup and pack, a population of K members (seeds 0..K-1 of
`configs/stacked_mnist.py:setup=S,pack=m`) runs the one vmapped train step
on one batch. Prints and writes experiments/results/stacked_speed_<backend>_
<setups>.json: member-steps/s, compile time, the hours the K seeds'
protocol-length runs take as that population, and on the CPU the step's
FLOPs per member (XLA's cost analysis; on a GPU it leaves out the
convolutions cuDNN runs, so it is not recorded there).
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax

from gan_jax import sweep
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import population as population_lib


flags.DEFINE_list('setups', ['veegan'], 'configs/stacked_mnist.py setups.')
flags.DEFINE_list('packs', ['1', '2'], 'Packing degrees m.')
flags.DEFINE_list('sizes', ['1', '5', '10'], 'Population sizes K (seeds).')
flags.DEFINE_integer('steps', 10, 'Train steps per repetition.')
flags.DEFINE_integer('repeats', 3, 'Timed repetitions.')
flags.DEFINE_string('mnist', '../shared/data/mnist', 'MNIST IDX directory.')
flags.DEFINE_enum('dtype', 'float32', ['float32', 'bfloat16'],
                  'config.model.dtype (bfloat16: mixed precision, not the '
                  'protocol\'s; its speed, for comparison).')
FLAGS = flags.FLAGS


def measure(setup: str, pack: int, k: int) -> dict:
  base = common.load_config('stacked_mnist', f'setup={setup},pack={pack},'
                     f'mnist={FLAGS.mnist}')
  base.model.dtype = FLAGS.dtype
  base.evals.stacked_mnist = 0     # times the step: no classifier needed
  base.health.enabled = False
  exp = experiment_lib.setup(base)
  shape, classes = exp.dataset.example_shape, exp.dataset.num_classes
  population = population_lib.Population.create(
      [sweep.member_config(base, o) for o in sweep.zipped(seed=list(range(k)))],
      [str(i) for i in range(k)])
  batches = jax.device_put(next(population.batches(exp.dataset,
                                                   base.batch_size)))
  states = population.init(batches, shape, classes)
  step = jax.jit(population.train_step(shape, classes), donate_argnums=0)
  start = time.perf_counter()
  compiled = step.lower(states, batches).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis() or {}
  cost = cost[0] if isinstance(cost, list) else cost
  flops = float(cost.get('flops', 0.0)) / k
  on_cpu = jax.default_backend() == 'cpu'
  seconds = common.time_compiled(compiled, states, batches, FLAGS.steps,
                                  FLAGS.repeats)
  rate = k / seconds
  return dict(setup=setup, pack=pack, members=k, batch=base.batch_size,
              dtype=FLAGS.dtype,
              member_steps_per_sec=rate,
              gflop_per_member_step=flops / 1e9 if on_cpu else None,
              compile_s=compile_s, protocol_steps=base.num_train_steps,
              # the K seeds' protocol-length runs, trained as this population
              hours_for_k_runs=base.num_train_steps * seconds / 3600)


def main(argv):
  del argv
  results = []
  for setup in FLAGS.setups:
    for pack in map(int, FLAGS.packs):
      for k in map(int, FLAGS.sizes):
        r = measure(setup, pack, k)
        results.append(r)
        print(f'{setup} pack {pack} K={k:3d}: {r["member_steps_per_sec"]:8.1f}'
              f' member-steps/s, compile {r["compile_s"]:.1f} s; {k} '
              f'protocol runs take {r["hours_for_k_runs"]:.2f} h', flush=True)
  common.write_results('stacked_speed', FLAGS,
                       ('setups', 'packs', 'sizes', 'steps', 'repeats', 'mnist',
                        'dtype'),
                       results, suffix='_'.join(
                           FLAGS.setups + ([FLAGS.dtype]
                                           if FLAGS.dtype != 'float32' else [])))


if __name__ == '__main__':
  app.run(main)
