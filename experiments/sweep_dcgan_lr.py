"""A sweep for `python -m gan_jax.sweep --sweep=experiments/sweep_dcgan_lr.py`.

Three generator learning rates x two seeds: six members that differ only in
numbers, so they train as one population (one vmapped program).
"""

from gan_jax import sweep


def get_sweep():
  return sweep.product(optimizer__generator__learning_rate=[1e-4, 2e-4, 4e-4],
                       seed=[0, 1])
