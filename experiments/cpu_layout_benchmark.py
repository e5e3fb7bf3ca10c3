r"""How to lay a population of seeds out on a small CPU: one process or several.

  python experiments/cpu_layout_benchmark.py --layouts=1x10,2x5,2x1

A layout PxK runs P processes at once, each training a population of K
members of one config (default: PacGAN's ring PacGAN2 protocol,
`configs/mode_collapse_2d.py:pack=2`); with P > 1 each process is pinned to
its own core (`taskset -c i`), with P = 1 it uses every core. Each process
times its compiled population step (after a warm-up call, median of
--repeats runs of --steps calls); the layout's throughput is the sum of its
processes' member-steps/s. Prints the table and writes
experiments/results/cpu_layout.json.
"""

import json
import os
import subprocess
import sys

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax


from gan_jax import sweep  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import population as population_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('layouts', ['1x10', '2x5'], 'PxK: P processes of K members.')
flags.DEFINE_string('config', 'mode_collapse_2d', 'Config under configs/.')
flags.DEFINE_string('arg', 'dataset=gaussian_ring,pack=2', 'Its argument.')
flags.DEFINE_integer('steps', 100, 'Train steps per timed run.')
flags.DEFINE_integer('repeats', 3, 'Timed runs per process.')
flags.DEFINE_integer('members', 0, 'Worker only: population size.')
flags.DEFINE_string('out', 'experiments/results/cpu_layout.json',
                    'Results file.')


def worker() -> None:
  """Times one population of FLAGS.members and prints its member-steps/s."""
  base = common.load_config(FLAGS.config, FLAGS.arg)
  configs = [sweep.member_config(base, o) for o in sweep.zipped(
      seed=list(range(FLAGS.members)))]
  population = population_lib.Population.create(
      configs, [str(i) for i in range(FLAGS.members)])
  exp = experiment_lib.setup(base, init=False)   # population.init does
  batches = jax.device_put(next(population.batches(
      exp.dataset, base.batch_size)))
  states = population.init(batches, exp.dataset.example_shape,
                           exp.dataset.num_classes)
  step = jax.jit(population.train_step(exp.dataset.example_shape,
                                       exp.dataset.num_classes),
                 donate_argnums=0)
  compiled = step.lower(states, batches).compile()
  seconds = common.time_compiled(compiled, states, batches, FLAGS.steps,
                                 FLAGS.repeats)
  print(json.dumps(dict(member_steps_per_sec=FLAGS.members / seconds)))


def run_layout(processes: int, members: int) -> dict:
  command = [sys.executable, __file__, f'--members={members}',
             f'--config={FLAGS.config}', f'--arg={FLAGS.arg}',
             f'--steps={FLAGS.steps}', f'--repeats={FLAGS.repeats}']
  launched = [subprocess.Popen(
      (['taskset', '-c', str(i)] if processes > 1 else []) + command,
      stdout=subprocess.PIPE, text=True) for i in range(processes)]
  rates = []
  for process in launched:
    out, _ = process.communicate()
    if process.returncode:
      raise RuntimeError(f'worker failed ({process.returncode})')
    rates.append(json.loads(out.strip().splitlines()[-1])[
        'member_steps_per_sec'])
  return dict(layout=f'{processes}x{members}', processes=processes,
              members=members, pinned=processes > 1,
              member_steps_per_sec=sum(rates), per_process=rates)


def main(argv):
  del argv
  if FLAGS.members:
    worker()
    return
  results = []
  for layout in FLAGS.layouts:
    processes, members = map(int, layout.split('x'))
    result = run_layout(processes, members)
    results.append(result)
    per_process = ', '.join(f'{r:.1f}' for r in result['per_process'])
    print(f"{result['layout']}: {result['member_steps_per_sec']:.1f} "
          f'member-steps/s ({per_process} per process)', flush=True)
  common.write_json(FLAGS.out, dict(
      common.provenance(), cores=os.cpu_count(), config=FLAGS.config,
      arg=FLAGS.arg, steps=FLAGS.steps, repeats=FLAGS.repeats,
      results=results))


if __name__ == '__main__':
  app.run(main)
