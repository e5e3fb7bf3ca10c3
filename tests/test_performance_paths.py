"""The fast paths compute what the plain paths compute.

Several steps per dispatch (lax.scan) equal single steps; mixed precision
stays within tolerance of float32; and, where PyTorch is installed, the
PyTorch reference DCGAN of the benchmark computes gan_jax's losses. (The
exact sub-pixel upsampling is tested against ConvTranspose in test_models.)
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, tiny_dcgan_config
from gan_jax.data import batching
from gan_jax import errors
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.core import train_step as train_step_lib


def tree_max_difference(a, b) -> float:
  return max(float(np.max(np.abs(np.asarray(x, np.float32)
                                 - np.asarray(y, np.float32))))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_scanned_steps_equal_single_steps():
  exp = experiment_lib.setup(tiny_dcgan_config())
  step = train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx,
                                        ema_decay=0.0)
  batches = list(batching.stack_batches(
      batching.batches(exp.dataset, exp.step_batch_size, 0), [3]))[0]
  scanned_state, scanned_metrics = jax.jit(train_step_lib.scan_steps(step))(
      exp.initial_state, batches)
  state, losses = exp.initial_state, []
  single = jax.jit(step)
  for i in range(3):
    state, metrics = single(state, jax.tree.map(lambda x: x[i], batches))
    losses.append(float(metrics['g_loss']))
  assert int(scanned_state.step) == 3
  assert scanned_metrics['g_loss'].shape == (3,)
  np.testing.assert_allclose(scanned_metrics['g_loss'], losses, rtol=1e-5)
  assert tree_max_difference(scanned_state, state) < 1e-5


@pytest.mark.parametrize('start,steps_per_dispatch,expected', [
    (0, 1, [1] * 6),
    (0, 3, [2, 1, 1, 2]),        # ends at 2, 3, 4, 6: log 2, checkpoint 3
    (3, 2, [1, 2]),              # resumed at 3: first back onto the grid
    (6, 4, []),
])
def test_dispatches_end_on_every_log_checkpoint_and_sample_step(
    start, steps_per_dispatch, expected):
  config = tiny_dcgan_config(steps_per_dispatch=steps_per_dispatch)
  lengths = experiment_lib.dispatch_lengths(config, start)
  assert lengths == expected
  ends = np.cumsum([start] + lengths)[1:]
  for period in (2, 3):     # log_every_steps, checkpoint/sample_every_steps
    for boundary in range(period, 7, period):
      if boundary > start:
        assert boundary in ends


def test_training_with_several_steps_per_dispatch_matches_one(tmp_path):
  states = [loop.train_and_evaluate(
      tiny_dcgan_config(steps_per_dispatch=n, checkpoint_every_steps=6,
                        sample_every_steps=6, log_every_steps=3),
      str(tmp_path / f'run{n}')) for n in (1, 3)]
  assert int(states[1].step) == 6
  assert tree_max_difference(states[0], states[1]) < 1e-5
  assert sorted(os.listdir(tmp_path / 'run3' / 'checkpoints')) == ['6']


def test_bfloat16_mixed_precision_stays_close_to_float32():
  results = []
  for dtype in ('float32', 'bfloat16'):
    exp = experiment_lib.setup(tiny_dcgan_config(**{'model.dtype': dtype}))
    batch = next(batching.batches(exp.dataset, exp.step_batch_size, 0))
    state, metrics = jax.jit(train_step_lib.make_train_step(
        exp.gan, exp.g_tx, exp.d_tx))(exp.initial_state, batch)
    results.append((state, metrics))
  (state32, metrics32), (state16, metrics16) = results
  # Master weights, optimizer states and statistics stay float32.
  for leaf in jax.tree.leaves(state16.generator) + jax.tree.leaves(
      state16.discriminator):
    assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
  for name in ('d_loss', 'g_loss'):
    assert metrics16[name].dtype == jnp.float32
    np.testing.assert_allclose(metrics16[name], metrics32[name], rtol=2e-2)
  # bf16 has an 8-bit mantissa: the computations really did change.
  assert float(metrics16['g_loss']) != float(metrics32['g_loss'])


def test_invalid_dtype_is_rejected():
  with pytest.raises(errors.ConfigError, match=r"model.dtype='float16'.*"
                     r"'float32', 'bfloat16'"):
    experiment_lib.setup(tiny_dcgan_config(**{'model.dtype': 'float16'}))


@pytest.mark.parametrize('resolution,channels', [(28, 1), (32, 3)])
def test_pytorch_reference_computes_the_same_losses(resolution, channels):
  """The benchmark's PyTorch DCGAN: same parameter count, same step-0 losses.

  Runs where PyTorch is installed (the `reference` extra, which CI
  installs).
  """
  torch = pytest.importorskip('torch')
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import common  # pylint: disable=g-import-not-at-top
  import torch_dcgan  # pylint: disable=g-import-not-at-top
  check = common.check_against_pytorch(
      common.dcgan_config(resolution, 8, channels=channels), torch_dcgan,
      torch, steps=2)
  assert check['parameters_jax'] == check['parameters_torch']
  # Step 0 (equal parameters, equal inputs) agrees to float32 rounding. After
  # an Adam update the two drift apart: Adam's first steps move every weight
  # by about lr whatever the gradient's size, so a weight whose gradient is
  # near zero can move either way in the two implementations (measured up to
  # 2e-4 at step 1, depending on the batch).
  for step, step_losses in enumerate(check['losses']):
    for name in ('d_loss', 'g_loss'):
      jax_value, torch_value = step_losses[name]
      assert jax_value == pytest.approx(
          torch_value, rel=1e-5 if step == 0 else 1e-3), step_losses
