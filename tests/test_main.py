"""End to end: the command line, its outputs, bad input (SIGKILL and resume:
test_faults.py)."""

import os
import subprocess

import jax
import numpy as np
import pytest
from PIL import Image

from conftest import PYTHON, REPO, subprocess_env, tiny_dcgan_config
from gan_jax import errors
from gan_jax.data import dataset as dataset_lib
from gan_jax.data.sources import digits
from gan_jax.data.sources import registry as source_registry
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.training import summary

TINY_FLAGS = [
    '--config.batch_size=8', '--config.num_samples=4',
    '--config.model.latent_dim=8', '--config.model.g_features=8',
    '--config.model.d_features=8', '--config.log_every_steps=2',
    '--config.checkpoint_every_steps=3', '--config.sample_every_steps=3',
]

def run_main(workdir, *flags, config='configs/dcgan.py:res=16'):
  return subprocess.run(
      [PYTHON, '-m', 'gan_jax.main', f'--config={config}',
       f'--workdir={workdir}', *flags],
      cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
      timeout=300)


def read_scalars(workdir):
  """{tag: {step: value}} from the TensorBoard event files in `workdir`."""
  return summary.read_scalars(workdir)


def final_state(config, workdir):
  return experiment_lib.restore_latest(experiment_lib.setup(config), workdir)


def assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
def test_command_line_run_writes_checkpoints_samples_and_events(tmp_path):
  workdir = str(tmp_path / 'run')
  result = run_main(workdir, '--config.num_train_steps=4', *TINY_FLAGS)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'steps/s' in result.stderr and 'ETA' in result.stderr
  # Checkpoints at 3 and at the end.
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '4']
  # Sample grids: 4 images of 16x16 in a 2x2 grid with 2 px padding.
  for step in (3, 4):
    png = Image.open(os.path.join(workdir, 'samples', f'step_{step:06d}.png'))
    assert png.size == (2 * 18 + 2, 2 * 18 + 2)
    assert np.asarray(png).std() > 0
  scalars = read_scalars(workdir)
  for tag in ('d_loss', 'g_loss', 'd_real', 'd_fake', 'd_grad_norm',
              'g_grad_norm', 'steps_per_sec'):
    assert sorted(scalars[tag]) == [2, 4], tag
    assert all(np.isfinite(v) for v in scalars[tag].values())
  assert os.path.exists(os.path.join(workdir, 'config.json'))


@pytest.mark.slow
@pytest.mark.parametrize('flag,message', [
    ('--config.batch_size=0', 'config.batch_size=0 is invalid'),
    ('--config.loss.name=wgan', "config.loss.name='wgan' is invalid"),
    ('--config.dataset.resolution=30', 'dataset.resolution=30 cannot be'),
    ('--config.no_such_field=1', 'unknown config field config.no_such_field'),
    ('--config.model.g_width=8',
     "config.model has the fields ['conditional', 'd_features', 'd_norm'"),
    ('--config.batch_size=many', '--config.batch_size=many'),
    ('--config=configs/dcgan.py:resolution=16',
     "config argument 'resolution=16' is not one of key=value"),
])
def test_bad_config_on_the_command_line(tmp_path, flag, message):
  workdir = str(tmp_path / 'never_created')
  result = run_main(workdir, flag)
  assert result.returncode != 0
  assert message in result.stderr
  assert 'Traceback' not in result.stderr
  assert not os.path.exists(workdir)


def test_missing_config_file_is_a_clear_error(tmp_path):
  result = run_main(str(tmp_path / 'w'), config='configs/no_such_config.py')
  assert result.returncode != 0
  assert 'No such file or directory' in result.stderr
  assert 'Traceback' not in result.stderr


def test_unwritable_workdir_is_a_clear_error(tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a directory')
  with pytest.raises(errors.WorkdirError, match='not a writable directory'):
    loop.train_and_evaluate(tiny_dcgan_config(), str(blocker / 'workdir'))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path,
                                                           monkeypatch):
  workdir = str(tmp_path / 'run')
  good = loop.train_and_evaluate(tiny_dcgan_config(num_train_steps=3),
                                  workdir)

  def nan_digits(config, argument):
    # The same data name, NaN inside: data damaged after the run started
    # (loaders refuse NaN at load; this one is past that check).
    shape = digits.load_digits(config, argument).example_shape
    return dataset_lib.Dataset({'x': dataset_lib.ArraySource(
        {'x': np.full((100,) + shape, np.nan, np.float32)})})

  monkeypatch.setitem(source_registry.SOURCES, 'digits',
                      source_registry.Source(nan_digits, False))
  config = tiny_dcgan_config(num_train_steps=6)
  with pytest.raises(errors.NonFiniteLossError,
                     match=r'd_loss is nan at step 4.*step 3.*intact'):
    loop.train_and_evaluate(config, workdir)
  assert os.listdir(os.path.join(workdir, 'checkpoints')) == ['3']
  assert_trees_equal(final_state(config, workdir), good)


def test_training_seconds_sums_each_start_of_a_run(tmp_path):
  # Two starts of one run (a resume), an hour apart: the hour stopped does
  # not count; a cut-off last record (a kill) is skipped, not an error.
  import tensorboardX  # pylint: disable=g-import-not-at-top
  for start, first_file in ((1000.0, True), (5000.0, False)):
    writer = tensorboardX.SummaryWriter(str(tmp_path),
                                        filename_suffix=str(int(start)))
    for step, offset in ((0, 0.0), (1, 30.0), (2, 70.0)):
      writer.add_scalar('d_loss', 1.0, step + (0 if first_file else 3),
                        walltime=start + offset)
    writer.close()
  assert summary.training_seconds(str(tmp_path)) == pytest.approx(140.0)
  [last] = sorted(tmp_path.glob('events.out.tfevents.*'))[-1:]
  last.write_bytes(last.read_bytes()[:-5])
  assert summary.training_seconds(str(tmp_path)) == pytest.approx(100.0)
  assert sorted(summary.read_scalars(str(tmp_path))['d_loss']) == [0, 1, 2,
                                                                   3, 4]
