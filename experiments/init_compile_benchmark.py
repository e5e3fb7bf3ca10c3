r"""Why initialisation compiles at -O2 on the CPU (`gan_jax.core.jit_once`).

  python experiments/init_compile_benchmark.py [--configs=vanilla,dcgan,...]

For each shipped config, compiles the state initialisation
(`state.init_state`: both networks, optimizer states, EMA, variant state)
twice from the same lowering, side by side: at XLA:CPU's default backend
optimisation level and at the level `jit_once` uses, and checks that the two
initial states are equal bit for bit. Writes
experiments/results/init_compile_<backend>.json.

On a 2-core CPU (JAX 0.10.2) XLA's LLVM spent about 4 s per random
initializer at the default level: JAX's partitionable threefry makes
kernels that LLVM's -O3 is slow to optimise; at -O2 they compile in about
0.5 s and give the same bits.
"""

import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import numpy as np

from gan_jax.core import jit_once
from gan_jax.core import state as state_lib
from gan_jax.data import batching
from gan_jax.training import experiment as experiment_lib

# name: (config file, its argument, overrides); evaluations off.
CONFIGS = {
    'vanilla': ('vanilla', None, {}),
    'dcgan': ('dcgan', None, {}),
    'cgan': ('cgan', None, {}),
    'sngan': ('sngan', None, {}),
    'cyclegan': ('cyclegan', None, {}),
    # The 4-channel, one-block CycleGAN of the tests.
    'cyclegan_tiny': ('cyclegan', None, {
        'batch_size': 4, 'model.g_features': 4, 'model.d_features': 4,
        'model.num_blocks': 1, 'dataset.resolution': 32}),
    'mode_collapse_2d': ('mode_collapse_2d', 'pack=2', {}),
    'stacked_mnist': ('stacked_mnist',
                      f'setup=veegan,pack=2,mnist={common.SHARED_MNIST}', {}),
}
flags.DEFINE_list('configs', list(CONFIGS), 'Configs to compile.')
FLAGS = flags.FLAGS


def _config(name: str):
  file, arg, overrides = CONFIGS[name]
  config = common.load_config(file, arg, **overrides)
  for metric in config.evals:
    config.evals[metric] = 0
  config.health.enabled = False
  return config


def _compile_seconds(lowered, options) -> tuple[float, object]:
  start = time.perf_counter()
  compiled = lowered.compile(compiler_options=options)
  return time.perf_counter() - start, compiled


def main(argv):
  del argv
  results = []
  for name in FLAGS.configs:
    config = _config(name)
    exp = experiment_lib.setup(config, init=False)
    batch = next(batching.batches(exp.dataset, exp.step_batch_size,
                                  config.seed))
    create = state_lib.initializer(exp.gan, exp.g_tx, exp.d_tx,
                                   config.ema_decay)
    key = jax.random.PRNGKey(config.seed)
    lowered = jax.jit(create).lower(key, batch)
    default_s, default = _compile_seconds(lowered, None)
    once_s, once = _compile_seconds(lowered, jit_once.OPTIONS)
    a = jax.tree.leaves(default(key, batch))
    b = jax.tree.leaves(once(key, batch))
    identical = all(np.array_equal(np.asarray(x), np.asarray(y))
                    for x, y in zip(a, b, strict=True))
    results.append(dict(config=name, spec=CONFIGS[name], arrays=len(a),
                        compile_s_default=round(default_s, 2),
                        compile_s_jit_once=round(once_s, 2),
                        identical=identical))
    print(f'{name:>18s}: default {default_s:6.1f} s, jit_once '
          f'{once_s:5.1f} s, {len(a)} arrays identical: {identical}',
          flush=True)
  common.write_results('init_compile', FLAGS, ('configs',), results)


if __name__ == '__main__':
  app.run(main)
