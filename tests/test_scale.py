"""Data parallelism: a mesh of 8 devices, and 2 processes on localhost."""

import os
import socket
import subprocess
import textwrap

import pytest

from conftest import PYTHON, REPO, subprocess_env, tiny_dcgan_config
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.errors import ConfigError

_COMPARE = textwrap.dedent('''
    import jax, numpy as np, sys
    sys.path.insert(0, 'tests')
    from conftest import tiny_dcgan_config
    from gan_jax.training import loop
    assert len(jax.devices()) == 8, jax.devices()
    states = [loop.train_and_evaluate(
        tiny_dcgan_config(num_train_steps=3, **{'mesh.data': n}),
        f'{sys.argv[1]}/mesh{n}') for n in (8, 1)]
    print('sharding', states[0].generator.params['up0']['kernel'].sharding)
    print('max_difference', max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(jax.tree.leaves(states[0]),
                        jax.tree.leaves(states[1]))))
''')


def test_eight_devices_match_one_device_on_the_same_global_batch(tmp_path):
  env = subprocess_env()
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
  result = subprocess.run([PYTHON, '-c', _COMPARE, str(tmp_path)], cwd=REPO,
                          env=env, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = dict(line.split(' ', 1) for line in result.stdout.splitlines()
               if line.startswith(('sharding', 'max_difference')))
  assert '8' in lines['sharding'] or 'NamedSharding' in lines['sharding']
  # Batch norm over the global batch: the same numbers up to reassociation.
  assert float(lines['max_difference']) < 1e-4


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_two_processes_on_localhost_train_and_checkpoint(tmp_path):
  workdir = tmp_path / 'run'
  port = _free_port()
  command = [PYTHON, '-m', 'gan_jax.main', '--config=configs/dcgan.py:res=16',
             f'--workdir={workdir}', '--config.batch_size=8',
             '--config.num_train_steps=4', '--config.log_every_steps=2',
             '--config.checkpoint_every_steps=4',
             '--config.sample_every_steps=4', '--config.num_samples=4',
             '--config.model.latent_dim=8', '--config.model.g_features=8',
             '--config.model.d_features=8',
             f'--coordinator_address=localhost:{port}', '--num_processes=2']
  processes = [subprocess.Popen(command + [f'--process_id={i}'], cwd=REPO,
                                env=subprocess_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for i in range(2)]
  outputs = [p.communicate(timeout=600) for p in processes]
  for process, (_, stderr) in zip(processes, outputs):
    assert process.returncode == 0, stderr[-3000:]
  assert 'JAX process 1/2' in outputs[1][1]
  assert os.listdir(workdir / 'checkpoints') == ['4']
  assert (workdir / 'samples' / 'step_000004.png').exists()
  # Only host 0 writes TensorBoard events.
  events = [n for n in os.listdir(workdir) if n.startswith('events.out')]
  assert len(events) == 1


def test_mesh_errors_name_the_problem():
  with pytest.raises(ConfigError, match='mesh.data=64 is more than'):
    loop.train_and_evaluate(tiny_dcgan_config(**{'mesh.data': 64}), '/tmp')
  with pytest.raises(ConfigError, match=r'mesh.data=0 is invalid'):
    experiment_lib.setup(tiny_dcgan_config(**{'mesh.data': 0}))
