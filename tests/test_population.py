"""Populations and sweeps: K runs in one vmapped program equal K single runs."""

import json
import os
import subprocess

import jax
import numpy as np
import pytest

from conftest import (PYTHON, REPO, load_config, subprocess_env,
                      tiny_dcgan_config)
from gan_jax.training import checkpoint
from gan_jax.training import population as population_lib
from gan_jax.training import report as report_lib
from gan_jax import sweep as sweep_lib
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.errors import ConfigError

# Four members: two learning rates x two seeds (init and data order differ).
SWEEP = sweep_lib.product(optimizer__generator__learning_rate=[2e-4, 1e-3],
                          seed=[0, 1])


def tiny(**overrides):
  return tiny_dcgan_config(num_train_steps=4, log_every_steps=2,
                           checkpoint_every_steps=4, sample_every_steps=4,
                           **overrides)


def test_product_and_zipped_build_override_dicts():
  assert SWEEP[1] == {'optimizer.generator.learning_rate': 2e-4, 'seed': 1}
  assert len(SWEEP) == 4
  assert sweep_lib.zipped(seed=[0, 1], ema_decay=[0.9, 0.99]) == [
      {'seed': 0, 'ema_decay': 0.9}, {'seed': 1, 'ema_decay': 0.99}]
  with pytest.raises(ConfigError, match='different lengths'):
    sweep_lib.zipped(seed=[0, 1], ema_decay=[0.9])


def test_a_population_of_four_matches_four_single_runs(tmp_path):
  configs = [sweep_lib.member_config(tiny(), o) for o in SWEEP]
  names = [sweep_lib.member_name(i, o) for i, o in enumerate(SWEEP)]
  states = loop.train_population(configs, names, str(tmp_path / 'pop'))
  assert states.step.shape == (4,)
  for index, config in enumerate(configs):
    single = loop.train_and_evaluate(config, str(tmp_path / f'single{index}'))
    member = population_lib.member_state(states, index)
    for got, want in zip(jax.tree.leaves(member), jax.tree.leaves(single)):
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    member_dir = tmp_path / 'pop' / 'members' / names[index]
    assert (member_dir / 'samples' / 'step_000004.png').exists()
    with open(member_dir / 'final_metrics.json') as f:
      assert set(json.load(f)) >= {'d_loss', 'g_loss'}
    assert any(n.startswith('events.out') for n in os.listdir(member_dir))
  # The members really differ: different seeds, different parameters.
  g0, g1 = (jax.tree.leaves(population_lib.member_state(states, i).generator)
            for i in (0, 1))
  assert not np.allclose(g0[0], g1[0])


def test_members_that_differ_in_structure_are_not_one_population():
  configs = [tiny(), tiny(**{'model.g_features': 16})]
  with pytest.raises(ConfigError, match=r"\['model.g_features'\]"):
    population_lib.Population.create(configs, ['a', 'b'])
  assert sweep_lib.group_members(
      configs + [tiny(seed=3), tiny(**{'model.g_features': 16, 'seed': 2})]
  ) == [[0, 2], [1, 3]]


def test_unknown_sweep_field_is_named():
  with pytest.raises(ConfigError, match=r'config.optimizer.generator.lr.*'
                     r'learning_rate'):
    sweep_lib.member_config(tiny(), {'optimizer.generator.lr': 1e-3})


def test_sweep_command_trains_ranks_and_exports(tmp_path):
  sweep_file = tmp_path / 'sweep.py'
  sweep_file.write_text(
      'from gan_jax import sweep\n'
      'def get_sweep():\n'
      '  return (sweep.product(seed=[0, 1])\n'
      "          + [{'model.g_features': 4, 'seed': 5}])\n")
  base = [PYTHON, '-m', 'gan_jax.sweep', '--config=configs/dcgan.py:res=16',
          f'--sweep={sweep_file}', f'--workdir={tmp_path / "sweep"}',
          '--config.batch_size=8', '--config.num_train_steps=2',
          '--config.log_every_steps=2', '--config.checkpoint_every_steps=2',
          '--config.sample_every_steps=2', '--config.num_samples=4',
          '--config.model.latent_dim=8', '--config.model.g_features=8',
          '--config.model.d_features=8', '--config.evals.fid=0',
          '--config.evals.kid=0', '--config.evals.precision_recall=0',
          '--config.health.enabled=false', '--strategy=population']
  result = subprocess.run(base + ['--rank_by=g_loss'], cwd=REPO,
                          env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = (tmp_path / 'sweep' / 'summary.md').read_text()
  assert summary.count('\n') == 4 + 3   # title, blank, header, rule, 3 rows
  losses = [float(line.split('|')[4]) for line in summary.splitlines()[4:]]
  assert losses == sorted(losses)               # ranked by g_loss, min first
  # Two populations: the two seeds share one program, g_features=4 alone.
  assert sorted(os.listdir(tmp_path / 'sweep' / 'population_0' /
                           'members')) == ['00_seed=0', '01_seed=1']
  assert os.listdir(tmp_path / 'sweep' / 'population_1' / 'members') == [
      '02_g_features=4,seed=5']

  export = tmp_path / 'exported'
  result = subprocess.run(base + ['--export_member=01_seed=1',
                                  f'--export_to={export}'], cwd=REPO,
                          env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  # The export is an ordinary single-run checkpoint of that member.
  config = sweep_lib.member_config(
      tiny_dcgan_config(num_train_steps=2, seed=1), {})
  exported = experiment_lib.restore_latest(experiment_lib.setup(config), str(export))
  population_dir = tmp_path / 'sweep' / 'population_0' / 'checkpoints'
  assert checkpoint.Checkpointer(str(population_dir), 1).latest_step() == 2
  assert int(exported.step) == 2


def test_the_summary_ranks_by_the_evaluation_metric_each_shown_once(tmp_path):
  rows = [dict(member=name, population=0, report=f'{name}/report.md',
               metrics={'eval/fid': fid, 'eval/modes': modes, 'd_loss': 1.0,
                        'g_loss': 2.0, 'eval/kid_std': 0.1})
          for name, fid, modes in (('a', 30.0, 5), ('b', 10.0, 3),
                                   ('c', 20.0, 9))]
  assert sweep_lib.default_rank_by(rows[0]['metrics']) == 'eval/fid'
  for rank_by, order, expected in (('eval/fid', 'min', ['b', 'c', 'a']),
                                   ('eval/modes', 'max', ['c', 'a', 'b'])):
    assert report_lib.better(rank_by) == order
    ranked = sorted(rows, key=lambda r: r['metrics'][rank_by],
                    reverse=order == 'max')
    path = tmp_path / f'{rank_by[5:]}.md'
    sweep_lib.write_summary(ranked, rank_by, order, str(path))
    lines = path.read_text().splitlines()
    header = [c.strip() for c in lines[2].split('|')[1:-1]]
    assert header.count(rank_by) == 1 and header[3] == rank_by
    assert header.count('eval/fid') == 1 and header.count('d_loss') == 1
    assert [line.split('|')[2].strip() for line in lines[4:]] == expected
    assert '[report](b/report.md)' in path.read_text()
  assert sweep_lib.default_rank_by({'d_loss': 1.0}) == 'd_loss'


def test_auto_strategy_follows_the_measured_cpu_speeds():
  dcgan = tiny_dcgan_config()
  mlp = tiny_dcgan_config(**{'model.name': 'mlp'})
  assert sweep_lib.choose_strategy(dcgan, 4)[0] == (
      'sequential' if jax.default_backend() == 'cpu' else 'population')
  assert sweep_lib.choose_strategy(mlp, 4)[0] == 'population'
  assert sweep_lib.choose_strategy(dcgan, 4, 'population')[0] == 'population'
  assert sweep_lib.choose_strategy(mlp, 1)[0] == 'sequential'


@pytest.mark.parametrize('members', [1, 2])
def test_the_loop_reads_fixed_real_packs_when_asked(members):
  """configs/mode_collapse_2d.py:real=packs: every real pack the training
  loop feeds D (a run's or each population member's) is one of the source's
  fixed packs of m consecutive points; real=points re-pairs them."""
  for real in ('packs', 'points'):
    config = load_config('mode_collapse_2d',
                         f'dataset=gaussian_grid,pack=2,steps=10,real={real}')
    config.dataset.num_examples = 4_000 if real == 'packs' else 2_000
    experiment = experiment_lib.setup(config, init=False)
    population = population_lib.Population.create(
        [sweep_lib.member_config(config, {'seed': s}) for s in range(members)],
        [f'm{s}' for s in range(members)]) if members > 1 else None
    program = loop._Program(experiment, population)  # pylint: disable=protected-access
    batch = next(program.batches(3))['x'].reshape(members, 100, 2, 2)
    points = experiment.dataset.domains['x'].take(
        np.arange(config.dataset.num_examples))['x']
    index = {tuple(p): i for i, p in enumerate(points.tolist())}
    indices = np.array([[[index[tuple(p)] for p in pack] for pack in member]
                        for member in batch.tolist()])
    first, second = indices[..., 0], indices[..., 1]
    fixed = (first % 2 == 0) & (second == first + 1)
    assert fixed.all() if real == 'packs' else not fixed.all()

