r"""How a Stacked MNIST generator is sampled: running statistics or the batch's, live or EMA weights.

  python experiments/stacked_sampler_check.py --workdirs=RUNS/s0,RUNS/s1,...

PacGAN's Table 3 code (fjxmlzn/PacGAN, stacked_MNIST_experiments/
unrolled_GAN_experiment/D=0.25G/model.py) samples its evaluation images with
G's batch norm still in training mode: each call of 128 latents is
normalised with its own statistics. gan_jax samples with the running
statistics (`train=False`). With a generator EMA (`ema_decay`) there is a
second question: the running statistics are those of the live generator's
activations, not of the averaged weights'. This script restores each run's
newest checkpoint and scores the same 25,600 latents (the evaluator's fixed
key) four ways, with the mode count and KL of `eval/stacked_*`:

  live, running    the live generator, running statistics (gan_jax without EMA)
  live, batch      the live generator, statistics of each call of
                   --call_size latents (the authors' sampler)
  ema, running     the EMA weights, the live running statistics (gan_jax with EMA)
  ema, batch       the EMA weights, statistics of each call

The last two only for runs with an EMA. Nothing in the workdirs is changed.
Prints a table and appends to --out.
"""

import os
import time

from absl import app
from absl import flags
import jax

import common  # pylint: disable=wrong-import-position
from gan_jax import evaluate as evaluate_lib  # pylint: disable=wrong-import-position
from gan_jax.eval import evaluator as evaluator_lib  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list('workdirs', None, 'Workdirs of finished Stacked MNIST runs.')
flags.DEFINE_integer('call_size', 128, 'Latents per generator call when '
                     'sampling with batch statistics (the authors: 128).')
flags.DEFINE_string('out', 'experiments/results/stacked_sampler_check.json',
                    'Results file (rows appended).')


def batch_stats_sampler(gan):
  """`gan.sample` with batch norm in training mode: each call's statistics."""
  def sample(params, model_state, inputs):
    images, _ = gan.generator.apply({'params': params, **model_state},
                                    inputs['z'], None, train=True,
                                    mutable=['batch_stats'])
    return images
  return jax.jit(sample)


def check_run(workdir: str) -> dict:
  config = evaluate_lib.load_run_config(workdir)
  config.eval.batch_size = FLAGS.call_size
  experiment = experiment_lib.setup(config)
  evaluator = evaluator_lib.Evaluator(config, experiment.dataset,
                                      experiment.gan, workdir)
  state = experiment_lib.restore_latest(experiment, workdir)
  if state is None:
    raise SystemExit(f'gan_jax: error: no checkpoint in {workdir}/checkpoints')
  weights = {'live': state.generator.params}
  if state.ema_params is not None:
    weights['ema'] = state.ema_params
  samplers = {'running': jax.jit(experiment.gan.sample),
              'batch': batch_stats_sampler(experiment.gan)}
  scores = {}
  for weight_name, params in weights.items():
    for stats_name, sampler in samplers.items():
      evaluator._sample = sampler  # pylint: disable=protected-access
      results = evaluator.evaluate(params, state.generator.model_state,
                                   ['stacked_mnist'])
      way = f'{weight_name}, {stats_name}'
      scores[way] = {'modes': int(results['stacked_modes']),
                     'kl': float(results['stacked_kl'])}
      print(workdir, way, scores[way], flush=True)
  return {'workdir': workdir, 'step': int(state.step), 'seed': config.seed,
          'ema_decay': config.ema_decay, 'pack': config.model.pack,
          'scores': scores}


def main(argv):
  del argv
  start = time.perf_counter()
  rows = [check_run(w) for w in FLAGS.workdirs]
  ways = dict.fromkeys(way for r in rows for way in r['scores'])
  summary = {}
  for way in ways:
    have = [r['scores'][way] for r in rows if way in r['scores']]
    modes, modes_se = common.mean_and_error([h['modes'] for h in have])
    kl, kl_se = common.mean_and_error([h['kl'] for h in have])
    summary[way] = {'modes': modes, 'modes_se': modes_se, 'kl': kl,
                    'kl_se': kl_se, 'runs': len(have)}
  print('| sampler | runs | modes | KL |')
  print('| --- | ---: | ---: | ---: |')
  for way, s in summary.items():
    print(f"| {way} | {s['runs']} | {s['modes']:.1f} ± {s['modes_se']:.1f} | "
          f"{s['kl']:.2f} ± {s['kl_se']:.2f} |")
  record = {'rows': rows, 'summary': summary, 'call_size': FLAGS.call_size,
            'wall_seconds': round(time.perf_counter() - start, 1),
            **common.provenance()}
  results = (common.read_json(FLAGS.out) if os.path.exists(FLAGS.out)
             else {'rows': []})
  results['rows'].append(record)
  common.write_json(FLAGS.out, results)
  print('wrote', FLAGS.out)


if __name__ == '__main__':
  flags.mark_flag_as_required('workdirs')
  app.run(main)
