r"""Is the packed grid's flat high quality the sampler's? Batch norm at evaluation.

  python experiments/bn_eval_mode.py \
      --checkpoints=/work/runs/gridpac2both/grid_pacgan2-simultaneous-bn_per_call/checkpoints \
      --step=90000 --seeds=0,1,2,3,4,5,6,7,8,9

The protocol's generator batch-normalises every layer. gan_jax evaluates it
with the running statistics (`train=False`), as a trained network is
normally sampled; during training each call normalises with its own batch's
statistics. If the running averages lag the batch statistics, the evaluated
samples are not the ones D was trained against. This script restores a
population checkpoint of the Table 1 grid PacGAN2 row with the authors' step
(`order=simultaneous,bn=per_call`, 10 seeds), samples each member's G both
ways from the same 2,500 latents (batch statistics: in calls of 100 x pack,
each group of 100 normalised on its own, the training-time normalisation),
and reports PacGAN's metric for both.

Writes experiments/results/bn_eval_mode.json.
"""


from absl import app
from absl import flags
import jax
import numpy as np

import common  # pylint: disable=wrong-import-position
from gan_jax import config_lib  # pylint: disable=wrong-import-position
from gan_jax.data.sources import synthetic  # pylint: disable=wrong-import-position
from gan_jax.eval import metrics  # pylint: disable=wrong-import-position
from gan_jax.training import checkpoint  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib  # pylint: disable=wrong-import-position
from gan_jax.training import population as population_lib  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('checkpoints', None, 'The population\'s checkpoint '
                    'directory (a copy: nothing in it is changed).')
flags.DEFINE_integer('step', None, 'Checkpoint step.')
flags.DEFINE_list('seeds', [str(s) for s in range(10)], 'The population\'s '
                  'seeds, in order.')
flags.DEFINE_integer('pack', 2, 'The row\'s packing degree.')
flags.DEFINE_integer('num_samples', 2500, 'Samples per member (PacGAN: 2,500).')
flags.DEFINE_string('out', 'experiments/results/bn_eval_mode.json',
                    'Results file.')


def member_config(seed: int):
  config = common.load_config(
      'mode_collapse_2d', f'dataset=gaussian_grid,pack={FLAGS.pack},'
      'order=simultaneous,bn=per_call,real=points')
  return config_lib.set_fields(config, {'seed': seed, 'health.enabled': False})


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds]
  configs = [member_config(seed) for seed in seeds]
  single = experiment_lib.setup(configs[0])
  population = population_lib.Population.create(
      configs, [f'seed={seed}' for seed in seeds])
  template = population.init(
      next(population.batches(single.dataset, single.step_batch_size)),
      single.dataset.example_shape, single.dataset.num_classes)
  source = checkpoint.Checkpointer(FLAGS.checkpoints, 1)
  states = source.restore(template, FLAGS.step)
  source.close()
  means, std = synthetic.MIXTURES['gaussian_grid']
  means = means()
  generator = single.gan.generator
  call = 100 * FLAGS.pack          # one training call: pack groups of 100
  calls = -(-FLAGS.num_samples // call)
  rows = []
  for index, seed in enumerate(seeds):
    state = population_lib.member_state(states, index)
    variables = {'params': state.generator.params,
                 **state.generator.model_state}
    z = jax.random.normal(jax.random.PRNGKey(1000 + seed),
                          (calls * call, configs[0].model.latent_dim))
    running = np.asarray(generator.apply(variables, z, train=False))
    batch = np.concatenate([
        np.asarray(generator.apply(variables, z[i * call:(i + 1) * call],
                                   train=True, mutable=['batch_stats'])[0])
        for i in range(calls)])
    row = {'seed': seed}
    for name, samples in (('running_statistics', running),
                          ('batch_statistics', batch)):
      row[name] = metrics.mixture_coverage(samples[:FLAGS.num_samples], means,
                                           std)
    rows.append(row)
    print(seed, {k: {m: round(v, 3) for m, v in row[k].items()
                     if m in ('modes_pacgan', 'high_quality',
                              'reverse_kl_pacgan')}
                 for k in ('running_statistics', 'batch_statistics')},
          flush=True)
  summary = {}
  for name in ('running_statistics', 'batch_statistics'):
    summary[name] = {
        metric: common.mean_and_error([r[name][metric] for r in rows])
        for metric in ('modes_pacgan', 'high_quality', 'reverse_kl_pacgan')}
  print(summary)
  common.write_json(FLAGS.out, dict(common.provenance(), step=FLAGS.step,
                                    checkpoints=FLAGS.checkpoints,
                                    summary=summary, rows=rows))


if __name__ == '__main__':
  flags.mark_flags_as_required(['checkpoints', 'step'])
  app.run(main)
