r"""PacGAN's 2-D protocol in PyTorch: is packing's late start ours or the protocol's?

  python experiments/torch_pacgan_2d.py --dataset=gaussian_grid --pack=2 \
      --seeds=0,1 --steps=10000 --updates=simultaneous,alternating

gan_jax's packed 2-D rows sit at D(x) = D(G(z)) = 0.5 for thousands of steps
before the samples contract onto the modes (docs/results.md, Table 1). Two
differences from the authors' code are known (configs/mode_collapse_2d.py):
their step updates D and G *simultaneously* from one forward pass (ALI's
`ali_algorithm`), gan_jax updates D, then G against the updated D; and their
G draws the m samples of a pack in m calls of 100, each batch-normalised on
its own, gan_jax in one call of 100 m. This script trains the protocol's
networks, written independently in PyTorch, both ways:

  simultaneous  the authors' step: m G calls of 100 (batch norm per call,
                running statistics updated with their average, weight 0.05),
                one D pass over [real packs; fake packs], D's and G's
                gradients from that one pass, both Adam steps applied.
  alternating   gan_jax's step: one G call of 100 m, D's update, then G's
                loss through the updated D on the same samples.
  alternating_per_call  gan_jax's order with the authors' m calls of 100,
                which separates the two differences.

Everything else is the protocol (Lin et al. 2018; the authors'
synthetic_data_experiments/2DGrid_GAN&PacGAN, read for the settings): G 2 ->
4 x 400 (linear without bias, batch norm eps 1e-4, ReLU) -> 2; D 3 maxout
layers of 200 units x 5 pieces -> a logit; weights N(0, 0.02), zero biases;
Adam lr 1e-4, beta1 0.8, beta2 0.999 both sides; 100 real and 100 fake packs
per step, from a fixed set of 100,000 real packs reshuffled every epoch;
the non-saturating loss (`--real=points` instead re-pairs 100,000 points
every epoch, as gan_jax's data path does: the one difference of data left).
The metric is gan_jax's own
(`gan_jax.eval.metrics.mixture_coverage`, 2,500 samples of G with its running
statistics), so that only the training differs.

Prints, and appends to --out as one part of {"parts": [...]} (earlier
invocations' parts are kept; the part is rewritten after every run), per run
and checkpoint: modes (PacGAN's >= 1 rule),
high quality, reverse KL, and D(x), D(G(z)) averaged over the last
`--eval_every` steps. PyTorch is the optional reference dependency
(`pip install torch==2.13.0`). With --checkpoint_dir every run saves its
whole state (networks, Adam, both random generators, the data order) at each
evaluation, and a later invocation with a larger --steps continues it; the
continued run repeats an uninterrupted one exactly; a --steps the saved run
has already passed reports its curve to there and trains nothing.
`--summary --against=<gan_jax curves> --window=FIRST,LAST` also compares
each run's metrics averaged over the evaluations in [FIRST, LAST].
"""

import json
import os
import platform
import sys
import time

from absl import app
from absl import flags
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

import common
from gan_jax.data.sources import synthetic
from gan_jax.eval import metrics
from gan_jax.training import summary as summary_lib

FLAGS = flags.FLAGS
flags.DEFINE_enum('dataset', 'gaussian_grid', list(synthetic.MIXTURES),
                  'The 2-D mixture.')
flags.DEFINE_integer('pack', 2, 'Samples per pack (1 = the GAN row).')
flags.DEFINE_integer('steps', 10_000, 'Training steps.')
flags.DEFINE_integer('eval_every', 1000, 'Evaluate every this many steps.')
flags.DEFINE_list('seeds', ['0'], 'Seeds.')
flags.DEFINE_list('updates', ['simultaneous', 'alternating'],
                  'Steps to run: simultaneous (the authors\' ali_algorithm, '
                  'batch norm per call of 100), alternating (gan_jax: one '
                  'call of 100 m, D then G), alternating_per_call (gan_jax\'s '
                  'order with the authors\' m calls of 100).')
flags.DEFINE_enum('real', 'packs', ['packs', 'points'], 'The real data: '
                  'packs (the authors\': 100,000 packs of m fresh points, '
                  'fixed once, drawn in a new order every epoch) or points '
                  '(gan_jax\'s: 100,000 points in a new order every epoch, '
                  'm consecutive ones forming a pack, so the pairs change).')
flags.DEFINE_integer('threads', 1, 'torch.set_num_threads.')
flags.DEFINE_string('checkpoint_dir', None, 'If set, every run saves its '
                    'whole state here at each evaluation and resumes from it '
                    'when started again (a longer --steps continues it; the '
                    'resumed run repeats the uninterrupted one exactly).')
flags.DEFINE_string('out', 'experiments/results/torch_pacgan_2d.json',
                    'Results file.')
flags.DEFINE_string('figure_dir', None, 'If set, every evaluation also '
                    'writes its 2,500 samples (red) over 2,500 real points '
                    '(grey) as <dataset>_pack<m>_<updates>_seed<seed>_'
                    'step<step>.png here, drawn as gan_jax draws a run\'s.')
flags.DEFINE_string('against', None, 'With --summary: also print, per '
                    'evaluation step, the simultaneous runs beside gan_jax\'s '
                    'curves of the same seeds in this file (written by '
                    'experiments/trajectory_table.py).')
flags.DEFINE_string('against_fixed_packs', None, 'With --window: gan_jax\'s '
                    'curves on the authors\' fixed real packs '
                    '(mode_collapse_benchmark.py --real=packs), a fourth '
                    'group beside --against\'s (gan_jax\'s default data).')
flags.DEFINE_list('window', None, 'With --against: FIRST,LAST steps; also '
                  'print each run\'s metrics averaged over the evaluations '
                  'in [FIRST, LAST] and D(x) at LAST, both implementations, '
                  'grouped by whether a run kept every mode throughout.')
flags.DEFINE_bool('summary', False, 'Print the final step of the runs in '
                  '--out ({"parts": [results, ...]}, or one results dict) per '
                  'update order and run length, mean ± standard error, and '
                  'train nothing.')

PACKS_PER_STEP = 100
NUM_PACKS = 100_000
NUM_POINTS = 100_000
HIDDEN_G, HIDDEN_D, PIECES = 400, 200, 5


class BatchNorm(nn.Module):
  """Batch norm whose batch statistics are returned, so that the caller
  decides how the running averages are updated (the authors average the m
  calls' statistics, then move the running values 5% towards them)."""

  def __init__(self, features: int, eps: float = 1e-4):
    super().__init__()
    self.scale = nn.Parameter(torch.ones(features))
    self.shift = nn.Parameter(torch.zeros(features))
    self.register_buffer('mean', torch.zeros(features))
    self.register_buffer('var', torch.ones(features))
    self.eps = eps
    self.batch_stats = []

  def forward(self, x, train: bool):
    if train:
      mean, var = x.mean(0), x.var(0, unbiased=False)
      self.batch_stats.append((mean.detach(), var.detach()))
    else:
      mean, var = self.mean, self.var
    return (x - mean) / torch.sqrt(var + self.eps) * self.scale + self.shift

  @torch.no_grad()
  def update_running(self, weight: float = 0.05):
    means, variances = zip(*self.batch_stats)
    self.mean.mul_(1 - weight).add_(weight * torch.stack(means).mean(0))
    self.var.mul_(1 - weight).add_(weight * torch.stack(variances).mean(0))
    self.batch_stats = []


class Generator(nn.Module):

  def __init__(self):
    super().__init__()
    widths = [2] + [HIDDEN_G] * 4
    self.linears = nn.ModuleList(nn.Linear(a, b, bias=False)
                                 for a, b in zip(widths[:-1], widths[1:]))
    self.norms = nn.ModuleList(BatchNorm(HIDDEN_G) for _ in range(4))
    self.out = nn.Linear(HIDDEN_G, 2)

  def forward(self, z, train: bool = True):
    x = z
    for linear, norm in zip(self.linears, self.norms):
      x = F.relu(norm(linear(x), train))
    return self.out(x)

  def update_running(self):
    for norm in self.norms:
      norm.update_running()


class Discriminator(nn.Module):

  def __init__(self, pack: int):
    super().__init__()
    widths = [2 * pack] + [HIDDEN_D] * 3
    self.maxouts = nn.ModuleList(nn.Linear(a, b * PIECES)
                                 for a, b in zip(widths[:-1], widths[1:]))
    self.out = nn.Linear(HIDDEN_D, 1)

  def forward(self, x):
    for linear in self.maxouts:
      y = linear(x)
      x = y.reshape(y.shape[0], HIDDEN_D, PIECES).amax(-1)
    return self.out(x)[:, 0]


def _init(module: nn.Module):
  for name, p in module.named_parameters():
    if name.endswith('weight'):
      nn.init.normal_(p, std=0.02)
    elif name.endswith('bias'):
      nn.init.zeros_(p)


def _adam(params):
  return torch.optim.Adam(params, lr=1e-4, betas=(0.8, 0.999), eps=1e-8)


UPDATES = ('simultaneous', 'alternating', 'alternating_per_call')


def fake_packs(g: Generator, z: torch.Tensor, m: int,
               per_call: bool) -> torch.Tensor:
  """(P, 2 m) generated packs from m * P latents. Per call (the authors'):
  m calls of P, each batch-normalised on its own, pack i holding the i-th
  sample of every call (their concatenate along axis 1). Otherwise one call
  of m * P, consecutive samples forming a pack (gan_jax's `pack`)."""
  if not per_call:
    return g(z).reshape(-1, 2 * m)
  x = torch.cat([g(zi) for zi in z.split(len(z) // m)])
  return x.reshape(m, -1, 2).permute(1, 0, 2).reshape(-1, 2 * m)


def _save(path: str, state: dict):
  """Writes `state` to `path` through a temporary file, so that a run killed
  while saving keeps its previous checkpoint."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  torch.save(state, path + '.tmp')
  os.replace(path + '.tmp', path)


def train(seed: int, updates: str) -> list[dict]:
  torch.manual_seed(seed)
  rng = np.random.default_rng(seed)
  means_fn, std = synthetic.MIXTURES[FLAGS.dataset]
  means = means_fn()
  m = FLAGS.pack
  # real_set's rows: packs of m points (a step draws 100 of them), or
  # single points (a step draws 100 m, m consecutive ones forming a pack).
  if FLAGS.real == 'packs':
    num_rows, num_points = NUM_PACKS, NUM_PACKS * m
    rows_per_step = PACKS_PER_STEP
  else:
    num_rows = num_points = NUM_POINTS
    rows_per_step = PACKS_PER_STEP * m
  modes = rng.integers(len(means), size=num_points)
  real_set = torch.tensor(
      (means[modes] + std * rng.standard_normal((num_points, 2))
       ).reshape(num_rows, -1), dtype=torch.float32)
  g, d = Generator(), Discriminator(m)
  _init(g)
  _init(d)
  g_opt, d_opt = _adam(g.parameters()), _adam(d.parameters())
  eval_z = torch.tensor(np.random.default_rng(10_000 + seed)
                        .standard_normal((2500, 2)), dtype=torch.float32)
  order, position = rng.permutation(num_rows), 0
  d_real_sum = d_fake_sum = 0.0
  rows, start, first = [], time.time(), 1
  path = FLAGS.checkpoint_dir and os.path.join(
      FLAGS.checkpoint_dir, f'{FLAGS.dataset}_pack{m}_{updates}'
      f'{"_points" if FLAGS.real == "points" else ""}_seed{seed}.pt')
  if path and os.path.exists(path):
    state = torch.load(path, weights_only=False)
    if state['rows'] and state['rows'][-1]['step'] >= FLAGS.steps:
      # Already this far: report the curve to --steps, train nothing (how a
      # run still going elsewhere is read part way).
      return [r for r in state['rows'] if r['step'] <= FLAGS.steps]
    for module, key in ((g, 'g'), (d, 'd'), (g_opt, 'g_opt'),
                        (d_opt, 'd_opt')):
      module.load_state_dict(state[key])
    torch.set_rng_state(state['torch_rng'])
    rng.bit_generator.state = state['numpy_rng']
    order, position, rows = state['order'], state['position'], state['rows']
    first = rows[-1]['step'] + 1 if rows else 1
    start -= rows[-1]['seconds'] if rows else 0
    print(f'{updates} seed {seed}: resumed at step {first - 1} from {path}')
  for step in range(first, FLAGS.steps + 1):
    if position + rows_per_step > num_rows:
      order, position = rng.permutation(num_rows), 0
    real = real_set[order[position:position + rows_per_step]].reshape(
        PACKS_PER_STEP, 2 * m)
    position += rows_per_step
    z = torch.randn(m * PACKS_PER_STEP, 2)
    fake = fake_packs(g, z, m, per_call=updates != 'alternating')
    if updates == 'simultaneous':
      logits = d(torch.cat([real, fake]))
      real_logits, fake_logits = logits[:PACKS_PER_STEP], logits[PACKS_PER_STEP:]
      d_loss = (F.softplus(-real_logits) + F.softplus(fake_logits)).mean()
      g_loss = F.softplus(-fake_logits).mean()
      d_grads = torch.autograd.grad(d_loss, list(d.parameters()),
                                    retain_graph=True)
      g_grads = torch.autograd.grad(g_loss, list(g.parameters()))
      for p, grad in zip(d.parameters(), d_grads):
        p.grad = grad
      for p, grad in zip(g.parameters(), g_grads):
        p.grad = grad
      d_opt.step()
      g_opt.step()
    else:
      real_logits = d(real)
      fake_logits = d(fake.detach())
      d_loss = (F.softplus(-real_logits) + F.softplus(fake_logits)).mean()
      d_opt.zero_grad()
      d_loss.backward()
      d_opt.step()
      g_loss = F.softplus(-d(fake)).mean()
      g_opt.zero_grad()
      g_loss.backward()
      g_opt.step()
    g.update_running()
    d_real_sum += torch.sigmoid(real_logits).mean().item()
    d_fake_sum += torch.sigmoid(fake_logits).mean().item()
    if step % FLAGS.eval_every == 0:
      with torch.no_grad():
        samples = g(eval_z, train=False).numpy()
      coverage = metrics.mixture_coverage(samples, means, std)
      if FLAGS.figure_dir:
        os.makedirs(FLAGS.figure_dir, exist_ok=True)
        summary_lib.save_png(
            os.path.join(FLAGS.figure_dir, f'{FLAGS.dataset}_pack{m}_{updates}'
                         f'_seed{seed}_step{step:06d}.png'),
            summary_lib.scatter_image(
                samples, real_set.reshape(-1, 2)[:len(samples)].numpy()))
      rows.append({'step': step, **coverage,
                   'd_real': d_real_sum / FLAGS.eval_every,
                   'd_fake': d_fake_sum / FLAGS.eval_every,
                   'seconds': round(time.time() - start, 1)})
      d_real_sum = d_fake_sum = 0.0
      if path:
        _save(path, {'g': g.state_dict(), 'd': d.state_dict(),
                     'g_opt': g_opt.state_dict(), 'd_opt': d_opt.state_dict(),
                     'torch_rng': torch.get_rng_state(),
                     'numpy_rng': rng.bit_generator.state, 'order': order,
                     'position': position, 'rows': rows})
      r = rows[-1]
      print(f'{updates} seed {seed} step {step}: modes {r["modes_pacgan"]} '
            f'(>= 20: {r["modes"]}), high quality {r["high_quality"]:.3f}, '
            f'KL {r["reverse_kl_pacgan"]:.3f}, D(x) {r["d_real"]:.3f}, '
            f'D(G(z)) {r["d_fake"]:.3f}, {r["seconds"]:.0f} s', flush=True)
  return rows


# (key, scale, format) of the table columns: PacGAN's metric (--summary adds
# gan_jax's >= 20 rule as `modes`).
METRICS = (('modes_pacgan', 1, '{:.1f}'), ('high_quality', 100, '{:.1f}'),
           ('reverse_kl_pacgan', 1, '{:.2f}'))
LABELS = {'modes_pacgan': 'modes', 'high_quality': 'high quality',
          'reverse_kl_pacgan': 'reverse KL'}


def _kind(part: dict, run: dict) -> str:
  """A run's update order, with '_points' when its real data was points."""
  return run['updates'] + ('_points' if part.get('real') == 'points' else '')


def longest_runs(record: dict) -> dict:
  """{updates: {seed: {step: row}}} over all parts ({"parts": [...]}, or one
  results dict), keeping each seed's longest run: a longer run of a seed
  repeats its shorter ones step for step (same seed, same data order)."""
  runs = {}
  for part in record.get('parts', [record]):
    for run in part['runs']:
      seeds = runs.setdefault(_kind(part, run), {})
      by_step = {r['step']: r for r in run['trajectory']}
      if max(by_step) > max(seeds.get(run['seed'], {0: None})):
        seeds[run['seed']] = by_step
  return runs


def summary(record: dict) -> str:
  """Per update order and length of run (its last step): seeds (a seed run
  again to the same length counts once), how many have D started (its
  outputs on real and generated packs >= common.STARTED_GAP apart, over the
  run's last eval_every steps), and the final metrics, mean ± standard
  error."""
  finals = {}
  for part in record.get('parts', [record]):
    for run in part['runs']:
      final = run['trajectory'][-1]
      finals.setdefault((_kind(part, run), final['step']),
                        {})[run['seed']] = final
  lines = []
  for (updates, step), by_seed in sorted(finals.items()):
    rows = [by_seed[seed] for seed in sorted(by_seed)]
    cells = []
    for key, scale, _ in METRICS + (('modes', 1, None),):
      mean, error = common.mean_and_error([f[key] * scale for f in rows])
      cells.append(f'{key} {mean:.2f} ± {error:.2f}')
    lines.append(f'{updates}: step {step}, seeds {sorted(by_seed)}, D started '
                 f'on {common.d_started(rows)}, ' + ', '.join(cells))
  return '\n'.join(lines)


def gan_jax_runs(path: str) -> dict:
  """{seed: {step: row}} of gan_jax's curves in `path`
  (experiments/trajectory_table.py's output, one run per seed), at its
  evaluation steps, rows keyed as the replica's: METRICS and d_real."""
  with open(path) as f:
    curves = {int(run['seed']): run['curves'] for run in json.load(f)['runs']}
  return {seed: {int(step): {**{key: c[f'eval/{key}'][step]
                                for key, _, _ in METRICS},
                             'd_real': c['d_real'][step]}
                 for step in c['eval/modes_pacgan']}
          for seed, c in curves.items()}


def against(record: dict, path: str) -> str:
  """A markdown table, per evaluation step, of the replica's simultaneous
  runs beside gan_jax's curves in `path` (`gan_jax_runs`), over the seeds
  both have at that step: mean ± standard error of modes, high quality (%)
  and reverse KL."""
  replica = longest_runs(record).get('simultaneous', {})
  ours = gan_jax_runs(path)
  header = ['step', 'seeds'] + [f'{LABELS[key]}, {side}' for key, _, _ in METRICS
                                for side in ('PyTorch', 'gan_jax')]
  lines = ['| ' + ' | '.join(header) + ' |',
           '| ' + ' | '.join(['---:'] * len(header)) + ' |']
  for step in sorted({step for rows in replica.values() for step in rows}):
    seeds = [seed for seed, rows in sorted(replica.items())
             if step in rows and step in ours.get(seed, {})]
    if not seeds:
      continue
    cells = [f'{step:,}', ','.join(map(str, seeds))]
    for key, scale, fmt in METRICS:
      for values in ([replica[s][step][key] for s in seeds],
                     [ours[s][step][key] for s in seeds]):
        mean, error = common.mean_and_error([v * scale for v in values])
        cells.append(f'{fmt.format(mean)} ± {fmt.format(error)}')
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def window(record: dict, path: str, first: int, last: int) -> str:
  """Per run of each implementation (the replica's simultaneous runs on the
  authors' fixed packs, 'PyTorch'; those on gan_jax's data path, 'PyTorch,
  points', where some reached `last`; gan_jax's curves in `path`) that
  reached `last`, in order of D(x) at `last`
  (its mean over the last eval_every steps): D(x) and the metrics averaged
  over the evaluations in [first, last]; then per implementation the mean ±
  standard error over its runs, over its runs that keep every mode at every
  evaluation of the window, and over the others; then, over all runs of
  them, each metric's rank correlation with D(x) (Spearman's), and the
  two-sided Mann-Whitney U test of each other implementation's runs against
  the replica's on the authors' packs.

  One evaluation is one draw of 2,500 samples from a generator still moving
  (each group line gives how far a run's high quality moves between
  successive evaluations of the window), so a window's average compares
  runs more steadily than its last value. D(x) tells the runs' regimes
  apart: a run whose D rates real packs far above 0.5 has mode weights far
  from uniform."""
  # scipy comes with scikit-learn, a core dependency; only this needs it.
  from scipy import stats  # pylint: disable=g-import-not-at-top
  columns = METRICS + (('d_real', 1, None),)
  replica = longest_runs(record)
  runs = {'PyTorch': replica.get('simultaneous', {}),
          'PyTorch, points': replica.get('simultaneous_points', {}),
          'gan_jax': gan_jax_runs(path)}
  if FLAGS.against_fixed_packs:
    runs['gan_jax, fixed packs'] = gan_jax_runs(FLAGS.against_fixed_packs)
  full = len(synthetic.MIXTURES[FLAGS.dataset][0]())
  header = ['implementation', 'seed', 'D(x) at end'] + [
      LABELS[key] for key, _, _ in METRICS]
  lines = ['| ' + ' | '.join(header) + ' |',
           '| ' + ' | '.join(['---'] * 2 + ['---:'] * (len(header) - 2)) + ' |']
  groups, everyone = [], []
  for name, by_seed in runs.items():
    rows = []
    for seed, by_step in sorted(by_seed.items()):
      if last not in by_step:
        continue
      evals = [by_step[s] for s in sorted(by_step) if first <= s <= last]
      row = {key: float(np.mean([e[key] * scale for e in evals]))
             for key, scale, _ in METRICS}
      row['d_real'] = by_step[last]['d_real']
      row['every_mode'] = all(e['modes_pacgan'] == full for e in evals)
      row['moves'] = np.abs(np.diff([100 * e['high_quality'] for e in evals]))
      row['seed'], row['implementation'] = seed, name
      rows.append(row)
      everyone.append(row)
    for row in sorted(rows, key=lambda r: r['d_real']):
      lines.append('| ' + ' | '.join(
          [name, str(row['seed']), f'{row["d_real"]:.3f}'] +
          [fmt.format(row[key]) for key, _, fmt in METRICS]) + ' |')
    for label, keep in (('all', lambda r: True),
                        (f'{full} modes throughout', lambda r: r['every_mode']),
                        ('the others', lambda r: not r['every_mode'])):
      kept = [r for r in rows if keep(r)]
      if kept:
        cells = [common.mean_and_error([r[key] for r in kept])
                 for key, _, _ in columns]
        moves = np.concatenate([r['moves'] for r in kept])
        groups.append(f'{name}, {label} ({len(kept)} runs): ' + ', '.join(
            f'{LABELS.get(key, "D(x)")} {m:.2f} ± {e:.2f}'
            for (key, _, _), (m, e) in zip(columns, cells)) +
            (f'; high quality moves {moves.mean():.1f} points between '
             f'successive evaluations on average, up to {moves.max():.1f}'
             if moves.size else ''))

  def values(key, runs_of=None):
    return [r[key] for r in everyone
            if runs_of in (None, r['implementation'])]

  groups.append(
      f'rank correlation with D(x) over the {len(everyone)} runs: ' +
      ', '.join(f'{LABELS[key]} '
                f'{stats.spearmanr(values(key), values("d_real"))[0]:.2f}'
                for key, _, _ in METRICS))
  for name in list(runs)[1:]:
    if values('d_real', name) and values('d_real', 'PyTorch'):
      groups.append(
          f'Mann-Whitney U, {name} against PyTorch, two-sided: ' +
          ', '.join(f'{LABELS.get(key, "D(x)")} p = ' + '{:.2f}'.format(
              stats.mannwhitneyu(values(key, name),
                                 values(key, 'PyTorch')).pvalue)
                    for key, _, _ in columns))
  # The same seeds on both data paths (same networks and latents, only the
  # real data differs): the paired, two-sided Wilcoxon signed-rank test.
  for packs, points in (('PyTorch', 'PyTorch, points'),
                        ('gan_jax, fixed packs', 'gan_jax')):
    pairs = {}
    for r in everyone:
      if r['implementation'] in (packs, points):
        pairs.setdefault(r['seed'], {})[r['implementation']] = r
    pairs = [p for _, p in sorted(pairs.items()) if len(p) == 2]
    if len(pairs) >= 3:
      groups.append(
          f'{packs} minus {points}, the same {len(pairs)} seeds, paired: ' +
          ', '.join(
              f'{LABELS.get(key, "D(x)")} '
              f'{np.mean([p[packs][key] - p[points][key] for p in pairs]):+.2f}'
              f' (Wilcoxon p = ' + '{:.3f})'.format(stats.wilcoxon(
                  [p[packs][key] for p in pairs],
                  [p[points][key] for p in pairs]).pvalue)
              for key, _, _ in columns))
  return '\n'.join([f'steps {first:,}-{last:,}'] + lines + groups)


def main(argv):
  del argv
  if FLAGS.window and (not FLAGS.against or len(FLAGS.window) != 2):
    raise app.UsageError('--window=FIRST,LAST (two steps) needs --summary '
                         'and --against')
  if FLAGS.summary:
    with open(FLAGS.out) as f:
      record = json.load(f)
    print(summary(record))
    if FLAGS.against:
      print(against(record, FLAGS.against))
      if FLAGS.window:
        print(window(record, FLAGS.against, *map(int, FLAGS.window)))
    return
  torch.set_num_threads(FLAGS.threads)
  record = {'parts': []}
  if os.path.exists(FLAGS.out):
    with open(FLAGS.out) as f:
      record = json.load(f)
    record.setdefault('parts', [record] if 'runs' in record else [])
  results = {'command': 'python ' + ' '.join(sys.argv),
             'machine': f'{platform.processor() or platform.machine()}, '
                        f'torch {torch.__version__}, '
                        f'{FLAGS.threads} thread(s)',
             'date': time.strftime('%Y-%m-%d'),
             'dataset': FLAGS.dataset, 'pack': FLAGS.pack,
             'real': FLAGS.real, 'runs': []}
  unknown = sorted(set(FLAGS.updates) - set(UPDATES))
  if unknown:
    raise app.UsageError(f'--updates: {unknown} unknown, expected some of '
                         f'{list(UPDATES)}')
  record = {'parts': record['parts'] + [results]}
  for updates in FLAGS.updates:
    for seed in FLAGS.seeds:
      results['runs'].append({'updates': updates, 'seed': int(seed),
                              'trajectory': train(int(seed), updates)})
      common.write_json(FLAGS.out, record)


if __name__ == '__main__':
  app.run(main)
