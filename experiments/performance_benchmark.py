r"""Train-step speed of every variant, side by side with PyTorch, in one run.

  python experiments/performance_benchmark.py [--repeats=5] [--steps=5] \
      [--torch=true] [--torch_compile=true] [--cases=all]

For each case it compiles gan_jax's jitted train step (compile time reported
separately), warms it up, and times `steps` steps `repeats` times with
`block_until_ready`; it reports the median and spread in steps/s and
images/s and XLA's memory estimate of the compiled step (arguments + outputs
+ temporaries; on a GPU the device's peak bytes in use).

For the DCGAN cases it also builds the PyTorch reference of the identical
network, loss, optimizer and batch (experiments/torch_dcgan.py, trained the
way pytorch/examples' dcgan/main.py trains: eager; and the same modules under
`torch.compile`), first checks that both compute the same losses on the same
inputs and parameters, and then times them alternating with gan_jax within
each repetition, so that machine noise hits all sides alike.

Writes experiments/results/performance_<backend>.json and the table in
docs/benchmarks.md (between the performance markers for this backend).
PyTorch is optional: `pip install -e '.[reference]'`. On a GPU the PyTorch side
runs on CUDA too, timed with `torch.cuda.synchronize()`.
"""

import statistics
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import numpy as np

from gan_jax.data import batching
from gan_jax import sweep  # pylint: disable=wrong-import-position
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib

flags.DEFINE_integer('repeats', 5, 'Timed repetitions per case and side.')
flags.DEFINE_integer('steps', 5, 'Train steps per repetition.')
flags.DEFINE_bool('torch', True, 'Time the PyTorch reference (DCGAN cases).')
flags.DEFINE_bool('torch_compile', True, 'Also time it under torch.compile.')
flags.DEFINE_string('cases', 'all', 'Comma-separated case names, or all.')
FLAGS = flags.FLAGS


def _dcgan(resolution, batch_size, channels):
  return lambda: common.dcgan_config(resolution, batch_size,
                                     channels=channels)


def _vanilla(steps_per_dispatch):
  def config():
    config = common.load_config('vanilla')
    config.steps_per_dispatch = steps_per_dispatch
    return config
  return config


def _cyclegan():
  # The paper's networks at 128 px (features 64, 6 residual blocks), batch 1.
  config = common.load_config('cyclegan', 'res=128,features=64,channels=3')
  config.batch_size = 1
  return config


# name -> (config factory, PyTorch reference: (resolution, channels) or None)
CASES = {
    'vanilla': (_vanilla(1), None),
    'vanilla_x10': (_vanilla(10), None),   # 10 steps per dispatch (lax.scan)
    'dcgan28_b128': (_dcgan(28, 128, 1), (28, 1)),
    'dcgan32_b64': (_dcgan(32, 64, 3), (32, 3)),
    'dcgan64_b64': (_dcgan(64, 64, 3), (64, 3)),
    'dcgan64_b64_bf16': (lambda: sweep.member_config(
        _dcgan(64, 64, 3)(), {'model.dtype': 'bfloat16'}), None),
    'cgan28_b64': (lambda: common.load_config('cgan'), None),
    'cyclegan128_b1': (_cyclegan, None),
}


class JaxSide:
  """gan_jax's compiled step (n steps per dispatch) on a fixed batch."""

  def __init__(self, config):
    exp = experiment_lib.setup(config)
    n = config.steps_per_dispatch
    self.steps_per_call = n
    self.batch_size = exp.step_batch_size
    batches = jax.device_put(next(batching.stack_batches(
        batching.batches(exp.dataset, exp.step_batch_size, 0), [n])))
    step = jax.jit(train_step_lib.scan_steps(
        train_step_lib.make_train_step_for(exp.gan, exp.g_tx, exp.d_tx,
                                           config)), donate_argnums=0)
    start = time.perf_counter()
    self.compiled = step.lower(exp.initial_state, batches).compile()
    self.compile_s = time.perf_counter() - start
    self.memory_mb = _memory_mb(self.compiled)
    self.batches = batches
    self.state, _ = self.compiled(exp.initial_state, batches)   # warm-up
    jax.block_until_ready(self.state)

  def time_steps(self, steps: int) -> float:
    """Seconds per train step over `steps` steps (rounded up to calls)."""
    calls = max(1, steps // self.steps_per_call)
    start = time.perf_counter()
    for _ in range(calls):
      self.state, metrics = self.compiled(self.state, self.batches)
    jax.block_until_ready((self.state, metrics))
    return (time.perf_counter() - start) / (calls * self.steps_per_call)


def _memory_mb(compiled) -> float | None:
  device = jax.devices()[0]
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'peak_bytes_in_use' in stats:
    return stats['peak_bytes_in_use'] / 2**20
  analysis = compiled.memory_analysis()
  if analysis is None:
    return None
  return (analysis.argument_size_in_bytes + analysis.output_size_in_bytes
          - analysis.alias_size_in_bytes
          + analysis.temp_size_in_bytes) / 2**20


class TorchSide:
  """The PyTorch reference, eager or under torch.compile, on a fixed batch."""

  def __init__(self, torch, torch_dcgan, resolution, channels, batch_size,
               compile_models):
    self.torch = torch
    # The same device JAX runs on: CUDA when JAX does (the GPU comparison).
    self.device = 'cuda' if (jax.default_backend() == 'gpu'
                             and torch.cuda.is_available()) else 'cpu'
    self.trainer = torch_dcgan.Trainer(resolution, channels,
                                       compile_models=compile_models,
                                       device=self.device)
    self.real = torch.randn(batch_size, channels, resolution, resolution,
                            device=self.device)
    start = time.perf_counter()
    self.trainer.step(self.real)          # compiles when compile_models
    self._synchronize()
    self.compile_s = time.perf_counter() - start
    self.trainer.step(self.real)
    self._synchronize()

  def _synchronize(self):
    if self.device == 'cuda':     # CUDA kernels run asynchronously
      self.torch.cuda.synchronize()

  def time_steps(self, steps: int) -> float:
    self._synchronize()
    start = time.perf_counter()
    for _ in range(steps):
      self.trainer.step(self.real)
    self._synchronize()
    return (time.perf_counter() - start) / steps


def _summary(seconds: list[float], batch_size: int) -> dict:
  median = statistics.median(seconds)
  return dict(steps_per_sec=1.0 / median,
              steps_per_sec_min=1.0 / max(seconds),
              steps_per_sec_max=1.0 / min(seconds),
              images_per_sec=batch_size / median)


def run_case(name, make_config, reference, torch_modules):
  config = make_config()
  sides = {'gan_jax': JaxSide(config)}
  batch_size = sides['gan_jax'].batch_size
  record = dict(case=name, batch_size=batch_size)
  if reference and torch_modules:
    torch, torch_dcgan = torch_modules
    check = common.check_against_pytorch(
        common.dcgan_config(reference[0], min(batch_size, 16),
                            channels=reference[1]), torch_dcgan, torch,
        steps=1)
    record['equivalence'] = check
    d_jax, d_torch = check['losses'][0]['d_loss']
    g_jax, g_torch = check['losses'][0]['g_loss']
    if (check['parameters_jax'] != check['parameters_torch']
        or not np.isclose(d_jax, d_torch, rtol=1e-4)
        or not np.isclose(g_jax, g_torch, rtol=1e-4)):
      raise SystemExit(f'{name}: the PyTorch reference does not compute the '
                       f'same thing as gan_jax: {check}')
    sides['torch_eager'] = TorchSide(torch, torch_dcgan, *reference,
                                     batch_size, compile_models=False)
    if FLAGS.torch_compile:
      try:
        sides['torch_compile'] = TorchSide(torch, torch_dcgan, *reference,
                                           batch_size, compile_models=True)
      except Exception as e:  # pylint: disable=broad-except
        record['torch_compile_error'] = f'{type(e).__name__}: {e}'[:300]
  times = {side: [] for side in sides}
  for _ in range(FLAGS.repeats):
    for side, runner in sides.items():   # alternate within each repetition
      times[side].append(runner.time_steps(FLAGS.steps))
  for side, runner in sides.items():
    record[side] = dict(_summary(times[side], batch_size),
                        compile_s=runner.compile_s)
  record['gan_jax']['memory_mb'] = sides['gan_jax'].memory_mb
  line = f'{name:>18s}: gan_jax {record["gan_jax"]["steps_per_sec"]:7.2f} ' \
         f'steps/s (compile {record["gan_jax"]["compile_s"]:.1f} s)'
  for side in ('torch_eager', 'torch_compile'):
    if side in record:
      ratio = record['gan_jax']['steps_per_sec'] / record[side][
          'steps_per_sec']
      record[f'ratio_vs_{side}'] = ratio
      line += f' | {side} {record[side]["steps_per_sec"]:6.2f} ({ratio:.2f}x)'
  print(line, flush=True)
  return record


def markdown(records, command, machine) -> str:
  """The docs/benchmarks.md table for these records."""
  def speed(side):
    if side is None:
      return '—'
    return (f'{side["steps_per_sec"]:.2f} ({side["steps_per_sec_min"]:.2f}–'
            f'{side["steps_per_sec_max"]:.2f})')

  lines = [f'Machine: {machine}. Command: `{command}`.', '',
           '| case | batch | gan_jax steps/s (min–max) | images/s | compile s '
           '| XLA memory MB | PyTorch eager steps/s | gan_jax / eager '
           '| torch.compile steps/s | gan_jax / compile |',
           '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: '
           '| ---: |']
  for r in records:
    j = r['gan_jax']
    memory = f'{j["memory_mb"]:.0f}' if j['memory_mb'] is not None else '—'
    eager, compiled = r.get('torch_eager'), r.get('torch_compile')
    lines.append(
        f'| {r["case"]} | {r["batch_size"]} | {speed(j)} | '
        f'{j["images_per_sec"]:.3g} | {j["compile_s"]:.1f} | {memory} | '
        f'{speed(eager)} | '
        + (f'{r["ratio_vs_torch_eager"]:.2f}x' if eager else '—') + ' | '
        + speed(compiled) + ' | '
        + (f'{r["ratio_vs_torch_compile"]:.2f}x' if compiled else '—') + ' |')
  return '\n'.join(lines)


def main(argv):
  del argv
  torch_modules = None
  if FLAGS.torch:
    try:
      import torch  # pylint: disable=g-import-not-at-top
      import torch_dcgan  # pylint: disable=g-import-not-at-top
      torch_modules = (torch, torch_dcgan)
      print(f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads')
    except ImportError:
      print('PyTorch is not installed: gan_jax only '
            '(pip install torch==2.13.0 for the side-by-side).')
  names = list(CASES) if FLAGS.cases == 'all' else FLAGS.cases.split(',')
  records = [run_case(name, *CASES[name], torch_modules) for name in names]
  flag_names = ('repeats', 'steps', 'torch', 'torch_compile', 'cases')
  path = common.write_results('performance', FLAGS, flag_names, records)
  record = common.read_json(path)
  if torch_modules:
    record['torch'] = torch_modules[0].__version__
  common.update_doc_section(
      'benchmarks.md', f'performance_{jax.default_backend()}',
      markdown(records, record['command'],
               f'{record["machine"]}, {record["devices"][0]}, JAX '
               f'{record["jax"]}, PyTorch {record.get("torch", "—")}, '
               f'{record["date"]}'))


if __name__ == '__main__':
  app.run(main)
