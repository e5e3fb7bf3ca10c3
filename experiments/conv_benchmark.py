r"""The convolutions of the DCGAN step, one at a time: XLA:CPU vs PyTorch.

  python experiments/conv_benchmark.py [--repeats=3]

For each convolution shape of DCGAN at 28 px (batch 128) and 64 px (batch
64): forward, input gradient and weight gradient in JAX (jitted, arrays as
arguments) and in PyTorch, in GFLOP/s (2 * MACs of the forward, the same
for each gradient), next to the rate of a dense float32 and bfloat16 matmul
with JAX on this machine. Writes experiments/results/conv_<backend>.json.
PyTorch is optional (`pip install torch==2.13.0`).
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import jax.numpy as jnp
import numpy as np

flags.DEFINE_integer('repeats', 3, 'Timed repetitions (best is kept).')
FLAGS = flags.FLAGS

# (batch, size, in, out, kernel, stride): D's 4x4/2 convs and G's sub-pixel
# 3x3/1 convs (4x the output channels of the transposed conv they replace).
SHAPES = [(128, 14, 64, 128, 4, 2), (128, 7, 128, 256, 3, 1),
          (64, 32, 64, 128, 4, 2), (64, 16, 128, 256, 4, 2),
          (64, 8, 256, 512, 4, 2), (64, 16, 128, 256, 3, 1),
          (64, 8, 256, 512, 3, 1), (64, 4, 512, 1024, 3, 1)]


def best_seconds(fn, calls: int = 5) -> float:
  jax.block_until_ready(fn())
  best = float('inf')
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    for _ in range(calls):
      out = fn()
    jax.block_until_ready(out)
    best = min(best, (time.perf_counter() - start) / calls)
  return best


def jax_times(batch, size, cin, cout, kernel, stride):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((batch, size, size, cin)), jnp.float32)
  w = jnp.asarray(0.02 * rng.standard_normal((kernel, kernel, cin, cout)),
                  jnp.float32)
  pad = 1
  conv = lambda x, w: jax.lax.conv_general_dilated(  # pylint: disable=g-long-lambda
      x, w, (stride, stride), ((pad, pad), (pad, pad)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  g = jnp.ones(jax.eval_shape(conv, x, w).shape, jnp.float32)
  forward = jax.jit(conv)
  dx = jax.jit(lambda x, w, g: jax.vjp(lambda x: conv(x, w), x)[1](g))
  dw = jax.jit(lambda x, w, g: jax.vjp(lambda w: conv(x, w), w)[1](g))
  return (best_seconds(lambda: forward(x, w)),
          best_seconds(lambda: dx(x, w, g)),
          best_seconds(lambda: dw(x, w, g)), g.shape)


def torch_times(torch, batch, size, cin, cout, kernel, stride):
  """Forward, input and weight gradient (each gradient minus the forward)."""
  f = torch.nn.functional
  x = torch.randn(batch, cin, size, size, requires_grad=True)
  w = (0.02 * torch.randn(cout, cin, kernel, kernel)).requires_grad_()
  y = f.conv2d(x, w, stride=stride, padding=1)
  g = torch.ones_like(y)
  forward = best_seconds(
      lambda: f.conv2d(x.detach(), w.detach(), stride=stride, padding=1))
  with_dx = best_seconds(lambda: torch.autograd.grad(
      f.conv2d(x, w.detach(), stride=stride, padding=1), x, g))
  with_dw = best_seconds(lambda: torch.autograd.grad(
      f.conv2d(x.detach(), w, stride=stride, padding=1), w, g))
  return forward, with_dx - forward, with_dw - forward


def matmul_rate(dtype) -> float:
  a = jnp.ones((16384, 1152), dtype)
  b = jnp.ones((1152, 256), dtype)
  fn = jax.jit(jnp.dot)
  return 2 * 16384 * 1152 * 256 / best_seconds(lambda: fn(a, b)) / 1e9


def main(argv):
  del argv
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    torch = None
  rates = {'matmul_f32': matmul_rate(jnp.float32),
           'matmul_bf16': matmul_rate(jnp.bfloat16)}
  print(f'JAX dense matmul 16384x1152x256: float32 '
        f'{rates["matmul_f32"]:.0f} GFLOP/s, bfloat16 '
        f'{rates["matmul_bf16"]:.0f} GFLOP/s')
  results = []
  for shape in SHAPES:
    batch, size, cin, cout, kernel, stride = shape
    j_fwd, j_dx, j_dw, out_shape = jax_times(*shape)
    gflop = 2 * np.prod(out_shape) * kernel * kernel * cin / 1e9
    row = dict(shape=shape, gflop=gflop, jax_gflops=dict(
        forward=gflop / j_fwd, input_grad=gflop / j_dx,
        weight_grad=gflop / j_dw))
    if torch is not None:
      t_fwd, t_dx, t_dw = torch_times(torch, *shape)
      row['torch_gflops'] = dict(forward=gflop / t_fwd,
                                 input_grad=gflop / max(t_dx, 1e-6),
                                 weight_grad=gflop / max(t_dw, 1e-6))
    results.append(row)
    line = (f'B{batch} {size:>2d}px {cin:>4d}->{cout:<4d} k{kernel}s{stride} '
            f'({gflop:5.2f} GFLOP) GFLOP/s  JAX fwd/dx/dw ' + ' '.join(
                f'{v:5.0f}' for v in row['jax_gflops'].values()))
    if torch is not None:
      line += '  | PyTorch ' + ' '.join(
          f'{v:5.0f}' for v in row['torch_gflops'].values())
    print(line, flush=True)
  common.write_results('conv', FLAGS, ('repeats',),
                       dict(matmul_gflops=rates, convolutions=results))


if __name__ == '__main__':
  app.run(main)
