"""The end-of-run report: one page that says whether the run worked.

`write_report(directory, config)` reads the run's own TensorBoard scalars
(so a resumed run's report covers all of it) and writes into `directory`:

  report.md            the verdict of the health monitor, the final
                       metrics, the plots, the last sample grid, the config
  report/losses.png    d_loss and g_loss
  report/outputs.png   D(x) and D(G(z))
  report/quality.png   every eval/* metric over training, one panel each
                       (FID in the hundreds and precision in [0, 1] would
                       flatten each other on one axis)
  report/health.png    each health condition (0/1) over training

Plots are drawn with matplotlib (Agg backend: no display needed).
"""

from __future__ import annotations

import json
import os

import ml_collections

from gan_jax.training import health
from gan_jax.training import summary

LOWER_IS_BETTER = ('fid', 'kid', 'kid_std', 'reverse_kl', 'reverse_kl_pacgan',
                   'stacked_kl', 'translation_mae', 'd_loss', 'g_loss')
HIGHER_IS_BETTER = ('precision', 'recall', 'density', 'coverage', 'modes',
                    'modes_pacgan', 'high_quality', 'stacked_modes',
                    'conditional_accuracy', 'translation_psnr')


def better(metric: str) -> str:
  """'min' or 'max': which direction of `metric` (with or without 'eval/')
  is better."""
  name = metric.split('/')[-1]
  if name in HIGHER_IS_BETTER:
    return 'max'
  return 'min'


def _draw(axes, series: dict[str, dict[int, float]]) -> None:
  for name, values in sorted(series.items()):
    steps = sorted(values)
    axes.plot(steps, [values[s] for s in steps], label=name,
              marker='o' if len(steps) < 15 else None, markersize=3)
  axes.set_xlabel('train step')
  axes.grid(alpha=0.3)


def _plot(path: str, series: dict[str, dict[int, float]], title: str,
          panels: bool = False) -> bool:
  """One axis for all `series`, or with `panels` one small axis per series."""
  if not series:
    return False
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  if not panels:
    figure, axes = pyplot.subplots(figsize=(6, 3.2), dpi=100)
    _draw(axes, series)
    axes.set_title(title)
    axes.legend(fontsize=8)
  else:
    columns = min(3, len(series))
    rows = -(-len(series) // columns)
    figure, grid = pyplot.subplots(rows, columns, squeeze=False, dpi=100,
                                   figsize=(3.2 * columns, 2.6 * rows))
    for axes, name in zip(grid.flat, sorted(series)):
      _draw(axes, {name: series[name]})
      direction = 'lower' if better(name) == 'min' else 'higher'
      axes.set_title(f'{name} ({direction} is better)', fontsize=9)
    for axes in list(grid.flat)[len(series):]:
      axes.set_visible(False)
    figure.suptitle(title)
  figure.tight_layout()
  figure.savefig(path)
  pyplot.close(figure)
  return True


def write_report(directory: str, config: ml_collections.ConfigDict,
                 health_lines: list[str] | None = None) -> str:
  """Writes `directory`/report.md and its plots; returns the report's path."""
  scalars = summary.read_scalars(directory)
  plots = os.path.join(directory, 'report')
  os.makedirs(plots, exist_ok=True)
  pick = lambda names: {n: scalars[n] for n in names if n in scalars}
  drawn = {
      'losses': _plot(os.path.join(plots, 'losses.png'),
                      pick(('d_loss', 'g_loss')), 'Losses'),
      'outputs': _plot(os.path.join(plots, 'outputs.png'),
                       pick(('d_real', 'd_fake')),
                       'Discriminator outputs: D(x), D(G(z))'),
      'quality': _plot(os.path.join(plots, 'quality.png'),
                       {k: v for k, v in scalars.items()
                        if k.startswith('eval/') and not k.endswith('_std')},
                       'Evaluation metrics', panels=True),
      'health': _plot(os.path.join(plots, 'health.png'),
                      {k: v for k, v in scalars.items()
                       if k.startswith('health/')
                       and k.split('/')[1] in health.CONDITIONS},
                      'Health flags (1 = condition holds)'),
  }
  final_path = os.path.join(directory, 'final_metrics.json')
  final = {}
  if os.path.exists(final_path):
    with open(final_path) as f:
      final = json.load(f)
  samples = sorted(os.listdir(os.path.join(directory, 'samples'))) if (
      os.path.isdir(os.path.join(directory, 'samples'))) else []
  lines = [f'# Training report: {config.model.name} on {config.dataset.name}',
           '', f'{config.num_train_steps} steps, seed {config.seed}, '
           f'loss {config.loss.name}.', '', '## Health', '']
  lines += health_lines or ['- The health monitor was off '
                            '(`health.enabled=False`): nothing was checked.']
  quality = {k: v for k, v in final.items() if k.startswith('eval/')}
  lines += ['', '## Quality at the end', '']
  if quality:
    lines += ['| metric | value | better |', '| --- | ---: | --- |']
    lines += [f'| {name[5:]} | {value:.5g} | '
              f'{"higher" if better(name) == "max" else "lower"} |'
              for name, value in sorted(quality.items())]
  else:
    lines.append('No evaluation was configured (config.evals).')
  lines += ['', '## Last logged means', '', '| signal | value |',
            '| --- | ---: |']
  lines += [f'| {name} | {value:.5g} |' for name, value in sorted(
      final.items()) if not name.startswith('eval/')
            and isinstance(value, (int, float))]
  for key, title in (('quality', 'Quality over training'),
                     ('losses', 'Losses'), ('outputs', 'D outputs'),
                     ('health', 'Health flags')):
    if drawn[key]:
      lines += ['', f'## {title}', '', f'![{title}](report/{key}.png)']
  if samples:
    lines += ['', f'## Last samples ({samples[-1]})', '',
              f'![samples](samples/{samples[-1]})']
  lines += ['', '## Config', '', '```json', config.to_json_best_effort(
      indent=2), '```', '']
  path = os.path.join(directory, 'report.md')
  with open(path + '.tmp', 'w') as f:
    f.write('\n'.join(lines))
  os.replace(path + '.tmp', path)
  return path
