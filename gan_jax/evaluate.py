r"""Evaluates the newest checkpoint of a workdir and prints a table.

  python -m gan_jax.evaluate --workdir=/tmp/ring
  python -m gan_jax.evaluate --workdir=/tmp/mnist --metrics=fid,kid \
      --classifier=classifiers/mnist

It rebuilds the run from `<workdir>/config.json`, restores the newest
checkpoint, computes the metrics (`--metrics`, else those with a period in
the run's `config.evals`, else the ones that apply to its data) and writes
them to `<workdir>/eval/step_<step>.json` as well as printing them. Flags
override `config.eval` (classifier, inception, features, num_samples).
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
import jax
import ml_collections

from gan_jax import cli
from gan_jax import config_lib
from gan_jax.core import state as state_lib
from gan_jax.data import sources
from gan_jax.data.sources import synthetic
from gan_jax.errors import CheckpointError, GanJaxError, WorkdirError
from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.training import experiment as experiment_lib

FLAGS = flags.FLAGS


def load_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run wrote to `<workdir>/config.json`, on today's defaults.

  Fields the run did not record (added to gan_jax since) keep their default.

  Raises:
    WorkdirError: if the workdir holds no readable config.json.
  """
  path = os.path.join(workdir, 'config.json')
  try:
    with open(path) as f:
      recorded = json.load(f)
  except (OSError, ValueError) as e:
    hint = ('it holds a population: export one member with python -m '
            'gan_jax.sweep ... --export_member=NAME --export_to=DIR and '
            'evaluate that' if os.path.isdir(os.path.join(workdir, 'members'))
            else 'give the workdir of a gan_jax training run')
    raise WorkdirError(f'--workdir={workdir} has no readable config.json '
                       f'({e}): {hint}') from e
  config = config_lib.default_config()

  def merge(node: ml_collections.ConfigDict, values: dict) -> None:
    for key, value in values.items():
      if isinstance(value, dict) and isinstance(node.get(key),
                                                ml_collections.ConfigDict):
        merge(node[key], value)
      else:
        with node.ignore_type():
          node[key] = tuple(value) if isinstance(value, list) else value

  merge(config, recorded)
  return config


def default_metrics(config: ml_collections.ConfigDict,
                    evaluator: evaluator_lib.Evaluator) -> list[str]:
  """The run's configured metrics, or the ones that apply to its data."""
  configured = [name for name, period in config.evals.items() if period]
  if configured:
    return configured
  kind = sources.dataset_kind(config.dataset.name)
  if evaluator.gan.kind == 'translation':
    return ['translation_error'] if kind == 'digits_unpaired' else []
  if kind in synthetic.MIXTURES:
    return ['mode_coverage', 'fid', 'precision_recall']
  names = []
  if evaluator.feature_kind() == 'identity' or config.eval.classifier or (
      config.eval.inception):
    names += ['fid', 'kid', 'precision_recall', 'density_coverage']
  if config.eval.classifier and kind == 'stacked_mnist':
    names = ['stacked_mnist']
  return names


def evaluate_workdir(workdir: str, metrics: list[str] | None = None,
                     overrides: dict | None = None) -> tuple[int, dict]:
  """Evaluates the newest checkpoint in `workdir`.

  Returns:
    (step, {metric: value}).
  """
  workdir = os.path.abspath(workdir)
  eval_dir = os.path.join(workdir, 'eval')
  if os.path.exists(eval_dir) and not os.path.isdir(eval_dir):
    raise WorkdirError(f'{eval_dir} is a file, but evaluate writes its '
                       'results and feature cache into that directory: move '
                       'the file away')
  config = load_run_config(workdir)
  for name, value in (overrides or {}).items():
    config.eval[name] = value
  experiment = experiment_lib.setup(config)
  evaluator = evaluator_lib.Evaluator(config, experiment.dataset, experiment.gan,
                                   workdir)
  names = metrics or default_metrics(config, evaluator)
  if not names:
    raise GanJaxError(
        'no metric applies without a feature network: pass --metrics and '
        '--classifier=<dir from python -m gan_jax.classifier>, '
        '--inception=<weights>, or --features=identity (raw pixels)')
  evaluator.check(names)
  state = experiment_lib.restore_latest(experiment, workdir)
  if state is None:
    raise CheckpointError(f'no checkpoint in {workdir}/checkpoints: train '
                          'first (python -m gan_jax.main ...)')
  step = int(state.step)
  results = evaluator.evaluate(state_lib.sample_params(state),
                               state.generator.model_state, names)
  if jax.process_index() == 0:
    os.makedirs(os.path.join(workdir, 'eval'), exist_ok=True)
    with open(os.path.join(workdir, 'eval', f'step_{step:06d}.json'),
              'w') as f:
      json.dump(dict(step=step, metrics=names, results=results,
                     eval=config.eval.to_dict()), f, indent=2)
  return step, results


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  overrides = {name: FLAGS[name].value for name in
               ('classifier', 'inception', 'features', 'num_samples')
               if FLAGS[name].present}
  step, results = evaluate_workdir(FLAGS.workdir, FLAGS.metrics or None,
                                   overrides)
  print(f'{FLAGS.workdir} at step {step}:')
  print(evaluator_lib.format_table(results))
  report = os.path.join(FLAGS.workdir, 'report.md')
  if os.path.exists(report):
    print(f'The run\'s report (health, curves, samples): {report}')


if __name__ == '__main__':
  flags.DEFINE_string('workdir', None, 'The workdir of a training run.')
  flags.DEFINE_list('metrics', [], 'Metrics to compute (default: the run\'s '
                    f'config.evals, else what applies); any of '
                    f'{", ".join(evaluator_lib.METRICS)}.')
  flags.DEFINE_string('classifier', '', 'Overrides config.eval.classifier.')
  flags.DEFINE_string('inception', '', 'Overrides config.eval.inception.')
  flags.DEFINE_string('features', 'auto', 'Overrides config.eval.features.')
  flags.DEFINE_integer('num_samples', 10_000,
                       'Overrides config.eval.num_samples.')
  flags.mark_flags_as_required(['workdir'])
  cli.run(main)
