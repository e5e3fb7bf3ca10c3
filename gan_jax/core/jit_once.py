"""Functions run once (initialisation), compiled for a short compile.

XLA compiles for the CPU at LLVM's highest optimisation level, where the
kernels of JAX's default PRNG (threefry, partitionable) are slow to optimise:
about 4 s per random initializer on a 2-core CPU, the more so the smaller the
network (LLVM unrolls its short loops). One level lower they compile in about
0.5 s and give the same bits. Initialising the tests' 4-channel CycleGAN
compiled in 57.5 s at the default level and 9.5 s at -O2, DCGAN's in 15.0 and
5.5 s, every initial array identical (`experiments/init_compile_benchmark.py`,
docs/benchmarks.md). Train steps keep the default: they run millions of
times, and the two levels do not give them bit-identical results.
"""

import jax

OPTIONS = {'xla_backend_optimization_level': 2}


def run(fn, *args):
  """`jax.jit(fn)(*args)`, compiled at LLVM's -O2 on the CPU."""
  jitted = jax.jit(fn)
  if jax.default_backend() != 'cpu':
    return jitted(*args)
  return jitted.lower(*args).compile(compiler_options=OPTIONS)(*args)
