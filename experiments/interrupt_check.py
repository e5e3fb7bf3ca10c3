"""What Ctrl-C does to `gan_jax.main` at different moments of a run.

Starts the command line on the vanilla config once per delay, sends SIGINT
after that many seconds (during initialisation, compilation or training) and
records the exit status, the last stderr line and the checkpoints left:

  python experiments/interrupt_check.py --delays=6,6,7,8,9,20,30 \
      [--repo=<another checkout, to compare a commit>]

Writes experiments/results/interrupt_check.json (one record per --label).
An exit status of -11 is a segmentation fault.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path

flags.DEFINE_list('delays', ['6', '6', '7', '8', '9', '20', '30'],
                  'Seconds after the start at which SIGINT is sent.')
flags.DEFINE_string('repo', common.REPO, 'The checkout whose gan_jax runs.')
flags.DEFINE_string('label', 'HEAD', 'Name of this record in the results.')
FLAGS = flags.FLAGS


def interrupt_once(delay: float, workdir: str) -> dict:
  process = subprocess.Popen(
      [sys.executable, '-m', 'gan_jax.main', '--config=configs/vanilla.py',
       '--config.num_train_steps=100000', '--config.checkpoint_every_steps=500',
       f'--workdir={workdir}'], cwd=FLAGS.repo, stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True,
      # A background shell job starts with SIGINT ignored: undo that.
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  time.sleep(delay)
  process.send_signal(signal.SIGINT)
  stderr = process.communicate(timeout=300)[1]
  lines = [line for line in stderr.splitlines() if line.strip()]
  checkpoints = os.path.join(workdir, 'checkpoints')
  return dict(delay_s=delay, exit_status=process.returncode,
              segfault=process.returncode == -signal.SIGSEGV,
              traceback='Traceback' in stderr,
              last_line=lines[-1] if lines else '',
              checkpoints=sorted(os.listdir(checkpoints))
              if os.path.isdir(checkpoints) else [])


def main(argv):
  del argv
  runs = []
  for delay in map(float, FLAGS.delays):
    workdir = tempfile.mkdtemp(prefix='gan_jax_interrupt_')
    try:
      runs.append(interrupt_once(delay, workdir))
    finally:
      shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(runs[-1]))
  commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                          cwd=FLAGS.repo, capture_output=True,
                          text=True).stdout.strip()
  path = os.path.join(common.REPO, 'experiments', 'results',
                      'interrupt_check.json')
  record = json.load(open(path)) if os.path.exists(path) else {}
  record[FLAGS.label] = dict(
      date=time.strftime('%Y-%m-%d'), commit=commit,
      machine=f'{common.cpu_model()}, {os.cpu_count()} cores',
      command='python experiments/interrupt_check.py --delays=' +
      ','.join(FLAGS.delays) + f' --label={FLAGS.label}' +
      ('' if FLAGS.repo == common.REPO else
       f' --repo=<a checkout of {commit}>'), runs=runs,
      segfaults=sum(r['segfault'] for r in runs))
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)
  print('wrote', path)


if __name__ == '__main__':
  app.run(main)
