"""Fault injection: no fault loses a run, and every bad input gets one line.

Each test does to a real training run what happens on a shared cluster:
SIGKILL at random moments and in the middle of a checkpoint write, damaged
checkpoints, a full disk, a second launch on a busy workdir, bad data files.
What must hold: the run resumes to the state an uninterrupted run reaches,
leaf for leaf; nothing on disk is damaged by a failed write; and a failure
ends the command with exactly one `gan_jax: error:` line, no traceback.
"""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from PIL import Image

from conftest import PYTHON, REPO, subprocess_env, tiny_dcgan_config
from gan_jax import errors
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.training import stop
from gan_jax.training import workdir as workdir_lib

TINY_FLAGS = (
    '--config.batch_size=8', '--config.num_samples=4',
    '--config.model.latent_dim=8', '--config.model.g_features=8',
    '--config.model.d_features=8', '--config.log_every_steps=2',
    '--config.sample_every_steps=100',
    # No evaluations and no health monitor, as tiny_dcgan_config: what these
    # tests check is training, saving and resuming.
    '--config.evals.fid=0', '--config.evals.kid=0',
    '--config.evals.precision_recall=0', '--config.health.enabled=false',
)

# gan_jax.main with a fault chosen by GAN_JAX_FAULT=<kind>:<argument>:
#   kill_in_save:<step>  SIGKILL right after the save of <step> has started,
#                        while orbax is still writing it
#   enospc:<step>        the save of <step> fails with ENOSPC
#   slow:<seconds>       every log step takes that much longer (so that a
#                        kill from outside lands while training)
#   signal:<name>@<step> the process sends itself signal <name> (SIGTERM,
#                        SIGINT) while logging step <step>
FAULTY_MAIN = '''
import errno, os, signal, time
import orbax.checkpoint as ocp
from gan_jax import cli, main
from gan_jax.training import hooks
kind, _, argument = os.environ.get('GAN_JAX_FAULT', '').partition(':')
save = ocp.CheckpointManager.save
def faulty_save(self, step, *args, **kwargs):
  if kind == 'enospc' and step == int(argument):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
  result = save(self, step, *args, **kwargs)
  if kind == 'kill_in_save' and step == int(argument):
    os.kill(os.getpid(), signal.SIGKILL)
  return result
ocp.CheckpointManager.save = faulty_save
log = hooks.LogHook.__call__
def faulty_log(self, step, state):
  if kind == 'slow':
    time.sleep(float(argument))
  name, _, at = argument.partition('@')
  if kind == 'signal' and step == int(at):
    os.kill(os.getpid(), getattr(signal, name))
  return log(self, step, state)
hooks.LogHook.__call__ = faulty_log
cli.run(main.main, flags_parser=main.parse_flags)
'''


def command(workdir, *flags, config='configs/dcgan.py:res=16', fault=None):
  args = [f'--config={config}', f'--workdir={workdir}', *TINY_FLAGS, *flags]
  if fault:
    return [PYTHON, '-c', FAULTY_MAIN] + args, dict(GAN_JAX_FAULT=fault)
  return [PYTHON, '-m', 'gan_jax.main'] + args, {}


def run_main(workdir, *flags, fault=None, **kwargs):
  args, extra = command(workdir, *flags, fault=fault, **kwargs)
  return subprocess.run(args, cwd=REPO, env={**subprocess_env(), **extra},
                        capture_output=True, text=True, timeout=300)


def assert_one_error_line(result, *needles):
  """Nonzero exit; the last stderr line is the one error; no traceback."""
  assert result.returncode not in (0, -9), result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert lines and lines[-1].startswith('gan_jax: error: '), lines[-5:]
  assert sum(line.startswith('gan_jax: error:') for line in lines) == 1
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  for needle in needles:
    assert needle in lines[-1], (needle, lines[-1])
  return lines[-1]


def tiny_config(steps, checkpoint_every):
  return tiny_dcgan_config(num_train_steps=steps,
                           checkpoint_every_steps=checkpoint_every,
                           log_every_steps=2, sample_every_steps=100)


def final_state(config, workdir):
  return experiment_lib.restore_latest(experiment_lib.setup(config), workdir)


def assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def checkpoint_steps(workdir):
  return sorted(os.listdir(os.path.join(workdir, 'checkpoints')))


# --- pre-emption ------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_matches_uninterrupted(tmp_path):
  steps = ('--config.num_train_steps=24', '--config.checkpoint_every_steps=4')
  workdir = str(tmp_path / 'killed')
  # 1. Killed while orbax writes step 4: step 4 must not count as saved.
  killed = run_main(workdir, *steps, fault='kill_in_save:4')
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  assert [s for s in checkpoint_steps(workdir) if s.isdigit()] in ([], ['4'])
  # 2-3. Killed from outside at random moments of slowed-down training.
  rng = random.Random(0)
  for _ in range(2):
    args, extra = command(workdir, *steps, fault='slow:0.25')
    process = subprocess.Popen(args, cwd=REPO,
                               env={**subprocess_env(), **extra},
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120      # until its writers exist (training)
    while (not glob.glob(os.path.join(workdir, 'events.out.tfevents.*'))
           and process.poll() is None and time.time() < deadline):
      time.sleep(0.1)
    time.sleep(rng.uniform(0.5, 3.0))
    process.kill()
    stderr = process.communicate()[1]
    assert 'Traceback' not in stderr, stderr[-3000:]
  # 4. The last resume runs to the end, taking over the dead run's lock,
  # from the newest checkpoint the kills left (if one was written by then).
  saved = [int(s) for s in checkpoint_steps(workdir) if s.isdigit()]
  resumed = run_main(workdir, *steps)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'Took over the lock' in resumed.stderr
  if saved:
    assert f'at step {max(saved)}.' in resumed.stderr, resumed.stderr[-3000:]
  assert not os.path.exists(os.path.join(workdir, workdir_lib.LOCK_FILE))

  uninterrupted = loop.train_and_evaluate(tiny_config(24, 4),
                                          str(tmp_path / 'uninterrupted'))
  state = final_state(tiny_config(24, 4), workdir)
  assert int(state.step) == 24
  assert_trees_equal(state, uninterrupted)


@pytest.mark.slow
def test_sigterm_saves_its_step_and_resume_matches_uninterrupted(tmp_path):
  steps = ('--config.num_train_steps=12', '--config.checkpoint_every_steps=4')
  workdir = str(tmp_path / 'stopped')
  # SIGTERM (a scheduler's pre-emption; Ctrl-C's SIGINT takes the same path,
  # see the next test) at step 6 stops the run after saving step 6, which no
  # periodic checkpoint (every 4) would have kept.
  stopped = run_main(workdir, *steps, fault='signal:SIGTERM@6')
  assert stopped.returncode == 1
  assert_one_error_line(stopped, 'stopped by SIGTERM at step 6 after saving '
                        'a checkpoint there')
  assert 'gan_jax: SIGTERM: saving a checkpoint' in stopped.stderr
  assert max(int(s) for s in checkpoint_steps(workdir) if s.isdigit()) == 6
  assert not os.path.exists(os.path.join(workdir, workdir_lib.LOCK_FILE))
  resumed = run_main(workdir, *steps)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'at step 6.' in resumed.stderr, resumed.stderr[-3000:]
  uninterrupted = loop.train_and_evaluate(tiny_config(12, 4),
                                          str(tmp_path / 'uninterrupted'))
  assert_trees_equal(final_state(tiny_config(12, 4), workdir), uninterrupted)


def test_stop_on_signals_records_the_first_and_restores_the_handlers():
  # Python's own SIGINT handler, whatever this process inherited: pytest
  # started as a shell's background job (or under nohup) ignores SIGINT.
  inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    _check_stop_on_signals()
  finally:
    signal.signal(signal.SIGINT, inherited)


def _check_stop_on_signals():
  before = signal.getsignal(signal.SIGINT)
  with stop.StopOnSignals() as stopping:
    assert signal.getsignal(signal.SIGTERM) == stopping._handle  # pylint: disable=protected-access
    os.kill(os.getpid(), signal.SIGINT)      # no KeyboardInterrupt: recorded
    assert stopping.signal_name == 'SIGINT'
    assert signal.getsignal(signal.SIGINT) is before  # the second one acts
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
  assert signal.getsignal(signal.SIGINT) is before
  # A signal the process ignores stays ignored (a shell's background job).
  previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
  try:
    with stop.StopOnSignals():
      assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
  finally:
    signal.signal(signal.SIGTERM, previous)


# --- damaged checkpoints --------------------------------------------------------------


def damage(step_dir: str, how: str) -> None:
  data = [p for p in glob.glob(os.path.join(step_dir, '**', '*'),
                               recursive=True)
          if os.path.isfile(p) and 'ocdbt' in p]
  assert data
  if how == 'truncate':
    for path in data:
      with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
  elif how == 'overwrite':
    for path in data:
      with open(path, 'wb') as f:
        f.write(b'garbage')
  elif how == 'delete_metadata':
    for path in glob.glob(os.path.join(step_dir, '**', '_METADATA'),
                          recursive=True):
      os.remove(path)
  else:
    raise ValueError(how)


@pytest.fixture(scope='module')
def nine_steps(tmp_path_factory):
  return loop.train_and_evaluate(tiny_config(9, 3),
                                 str(tmp_path_factory.mktemp('nine')))


@pytest.mark.parametrize('how', ['truncate', 'overwrite', 'delete_metadata'])
def test_corrupt_newest_checkpoint_falls_back_to_the_previous(
    tmp_path, how, nine_steps, caplog):
  caplog.set_level('INFO')
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(6, 3), workdir)
  assert checkpoint_steps(workdir) == ['3', '6']
  damage(os.path.join(workdir, 'checkpoints', '6'), how)
  resumed = loop.train_and_evaluate(tiny_config(9, 3), workdir)
  assert 'Checkpoint step 6 is corrupt' in caplog.text
  assert 'Resumed from' in caplog.text and 'at step 3' in caplog.text
  # The damaged step is kept aside, never deleted; training went on.
  assert checkpoint_steps(workdir) == ['3', '6', '6.corrupt', '9']
  assert_trees_equal(resumed, nine_steps)


def test_no_intact_checkpoint_is_one_error_and_keeps_the_files(tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(3, 3), workdir)
  damage(os.path.join(workdir, 'checkpoints', '3'), 'overwrite')
  result = run_main(workdir, '--config.num_train_steps=6',
                    '--config.checkpoint_every_steps=3')
  assert_one_error_line(result, 'no intact checkpoint', 'steps [3]')
  assert checkpoint_steps(workdir) == ['3.corrupt']
  garbage = glob.glob(os.path.join(workdir, 'checkpoints', '3.corrupt', '**',
                                   '*ocdbt*'), recursive=True)
  assert garbage


UNRETRIEVED_MAIN = '''
import asyncio, gc
from gan_jax import cli, errors
def main(argv):
  async def read():
    raise ValueError('DATA_LOSS: a damaged chunk')
  loop = asyncio.new_event_loop()
  task = loop.create_task(read())
  loop.run_until_complete(asyncio.sleep(0.01))
  loop.close()
  globals()['pending'] = task    # freed only at exit, after the error line
  raise errors.CheckpointError('no intact checkpoint')
cli.run(main)
'''


def test_reads_left_unretrieved_by_a_failed_restore_print_nothing():
  # What a failed restore leaves behind: asyncio tasks whose exception nobody
  # awaited, freed at exit, which asyncio reports with a traceback apiece.
  result = subprocess.run([PYTHON, '-c', UNRETRIEVED_MAIN], cwd=REPO,
                          env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
  assert_one_error_line(result, 'no intact checkpoint')


# --- a full disk ----------------------------------------------------------------------


def test_disk_full_during_a_save_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path):
  workdir = str(tmp_path / 'run')
  result = run_main(workdir, '--config.num_train_steps=9',
                    '--config.checkpoint_every_steps=3', fault='enospc:6')
  line = assert_one_error_line(result, 'No space left on device',
                               os.path.join(workdir, 'checkpoints'),
                               'last intact checkpoint is step 3',
                               'a checkpoint needs about')
  assert 'step 6' in line
  # No partial step; the last good one restores.
  assert checkpoint_steps(workdir) == ['3']
  assert int(final_state(tiny_config(9, 3), workdir).step) == 3


@pytest.mark.parametrize('partial_name', ['6.orbax-checkpoint-tmp-1',
                                          '6.orbax-checkpoint-tmp'])
def test_a_failed_asynchronous_write_is_reported_and_cleaned_up(
    tmp_path, monkeypatch, partial_name):
  """ENOSPC inside orbax's background write surfaces at the next wait; the
  unfinished directory is removed under either of orbax's names for it."""
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(3, 3), workdir)
  wait = ocp.CheckpointManager.wait_until_finished

  def failing_wait(self):
    wait(self)
    if glob.glob(os.path.join(workdir, 'checkpoints', '6*')):
      partial = os.path.join(workdir, 'checkpoints', partial_name)
      os.makedirs(partial, exist_ok=True)
      shutil.rmtree(os.path.join(workdir, 'checkpoints', '6'),
                    ignore_errors=True)
      raise ValueError('Error writing local file ".../d/1": [OS error: '
                       'No space left on device]')
  monkeypatch.setattr(ocp.CheckpointManager, 'wait_until_finished',
                      failing_wait)
  with pytest.raises(errors.WorkdirError,
                     match='No space left.*last intact checkpoint is step 3'):
    loop.train_and_evaluate(tiny_config(6, 3), workdir)
  assert checkpoint_steps(workdir) == ['3']


def test_a_real_full_disk(tmp_path):
  """A small tmpfs (where this machine lets the test mount one)."""
  mount = tmp_path / 'small_disk'
  mount.mkdir()
  if os.geteuid() != 0 or subprocess.run(
      ['mount', '-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', str(mount)],
      capture_output=True).returncode != 0:
    pytest.skip('cannot mount a tmpfs here; the injected ENOSPC tests ran')
  try:
    workdir = str(mount / 'run')
    result = run_main(workdir, '--config.num_train_steps=12',
                      '--config.checkpoint_every_steps=3',
                      '--config.model.g_features=16',
                      '--config.model.d_features=16')
    line = assert_one_error_line(result, 'No space left on device',
                                 'a checkpoint needs about')
    steps = [s for s in checkpoint_steps(workdir) if s.isdigit()]
    assert steps and 'last intact checkpoint is step ' + steps[-1] in line
    assert not glob.glob(os.path.join(workdir, 'checkpoints', '*tmp*'))
  finally:
    subprocess.run(['umount', str(mount)], check=False)


# --- a busy workdir --------------------------------------------------------------------


def test_second_run_on_a_busy_workdir_is_refused(tmp_path):
  workdir = str(tmp_path / 'run')
  args, extra = command(workdir, '--config.num_train_steps=200',
                        fault='slow:0.2')
  first = subprocess.Popen(args, cwd=REPO, env={**subprocess_env(), **extra},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
  try:
    lock = os.path.join(workdir, workdir_lib.LOCK_FILE)
    deadline = time.time() + 120
    while not os.path.exists(lock) and time.time() < deadline:
      time.sleep(0.1)
    holder = json.load(open(lock))
    second = run_main(workdir, '--config.num_train_steps=200')
    assert_one_error_line(second, 'in use by process', str(first.pid),
                          holder['host'], holder['start'])
    assert first.poll() is None      # the first one trains on
  finally:
    first.kill()
    first.communicate()


def test_a_stale_lock_is_taken_over(tmp_path):
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  with open(os.path.join(workdir, workdir_lib.LOCK_FILE), 'w') as f:
    json.dump(dict(host=workdir_lib.socket.gethostname(), pid=dead.pid,
                   start='2026-01-01T00:00:00'), f)
  result = run_main(workdir, '--config.num_train_steps=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'from process {dead.pid}' in result.stderr
  assert not os.path.exists(os.path.join(workdir, workdir_lib.LOCK_FILE))


# --- a changed config ------------------------------------------------------------------


def test_resume_with_another_width_lists_the_fields(tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(2, 2), workdir)
  result = run_main(workdir, '--config.num_train_steps=4',
                    '--config.checkpoint_every_steps=2',
                    '--config.model.g_features=16')
  assert_one_error_line(result, 'model.g_features: 8 -> 16', 'new --workdir',
                        'config.json')
  allowed = result.stderr.splitlines()[-1].split('also changed, allowed:')[1]
  assert 'num_train_steps: 2 -> 4' in allowed
  assert 'model.g_features' not in allowed


def test_resume_with_harmless_changes_is_allowed_and_logged(tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(2, 2), workdir)
  config = tiny_config(4, 2)
  config.optimizer.generator.b1 = 0.9
  config.optimizer.generator.learning_rate = 1e-3
  state = loop.train_and_evaluate(config, workdir)
  assert int(state.step) == 4
  # The resumed optimizer uses the new beta1, not the checkpoint's.
  assert float(state.generator.opt_state.hyperparams['b1']) == pytest.approx(
      0.9)


# --- bad data ------------------------------------------------------------------------


def test_npz_that_is_not_an_npz_archive(tmp_path):
  path = tmp_path / 'data.npz'
  path.write_bytes(b'these bytes are no zip archive' * 10)
  result = run_main(str(tmp_path / 'run'), f'--config.dataset.name=npz:{path}')
  assert_one_error_line(result, str(path), 'not a readable .npz archive',
                        "'images'")


def test_npz_of_nan_images_is_refused_at_load(tmp_path):
  path = tmp_path / 'nan.npz'
  images = np.random.default_rng(0).random((20, 16, 16)).astype(np.float32)
  images[3:] = np.nan
  np.savez(path, images=images)
  result = run_main(str(tmp_path / 'run'), f'--config.dataset.name=npz:{path}')
  assert_one_error_line(result, str(path), f'{17 * 256} pixel values are NaN',
                        'the first is index 3')
  assert not os.path.exists(tmp_path / 'run')     # refused before writing


def test_folder_with_an_undecodable_image(tmp_path):
  folder = tmp_path / 'images'
  folder.mkdir()
  for i in range(10):
    Image.new('L', (16, 16), 20 * i).save(folder / f'{i}.png')
  (folder / '5.png').write_bytes(b'not a png at all')
  result = run_main(str(tmp_path / 'run'),
                    f'--config.dataset.name=folder:{folder}',
                    '--config.num_train_steps=4')
  assert_one_error_line(result, str(folder / '5.png'), 'not a decodable image',
                        'skip_bad_images')
  skipping = run_main(str(tmp_path / 'run2'),
                      f'--config.dataset.name=folder:{folder}',
                      '--config.dataset.skip_bad_images=true',
                      '--config.num_train_steps=2')
  assert skipping.returncode == 0, skipping.stderr[-3000:]
  assert 'left out 1 of 10 image files' in skipping.stderr


def test_evaluate_where_eval_is_a_file(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'eval').write_text('in the way')
  result = subprocess.run(
      [PYTHON, '-m', 'gan_jax.evaluate', f'--workdir={workdir}'], cwd=REPO,
      env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert_one_error_line(result, str(workdir / 'eval'), 'is a file')


def test_a_missing_workdir_config_for_evaluate(tmp_path):
  result = subprocess.run(
      [PYTHON, '-m', 'gan_jax.evaluate', f'--workdir={tmp_path / "nothing"}'],
      cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
      timeout=300)
  assert_one_error_line(result, 'config.json')


def test_a_sweep_file_that_does_not_parse(tmp_path):
  sweep = tmp_path / 'sweep.py'
  sweep.write_text('def get_sweep(:\n')
  result = subprocess.run(
      [PYTHON, '-m', 'gan_jax.sweep', '--config=configs/dcgan.py:res=16',
       f'--sweep={sweep}', f'--workdir={tmp_path / "w"}'], cwd=REPO,
      env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert_one_error_line(result, str(sweep), 'SyntaxError')
