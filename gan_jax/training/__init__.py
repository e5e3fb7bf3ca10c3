"""Training: the loop and what runs around it.

  experiment.py  what a config determines: data, variant, optimizers, mesh
  loop.py        restore, then for each dispatch: the jitted step, the hooks
  hooks.py       logging, checkpoints, sample grids, evaluations
  population.py  K runs that differ in numbers, as one vmapped program
  checkpoint.py  orbax checkpoints of the whole state
  summary.py     TensorBoard writers and PNG grids
  workdir.py     the run's directory
"""
