"""Evaluation: what a generator's samples are worth.

  metrics.py     pure functions of features (FID, KID, precision/recall,
                 density/coverage, mode coverage)
  features.py    feature spaces: identity, a gan_jax classifier, Inception
  classifier.py  the small CNN gan_jax trains itself to judge samples
  evaluator.py   samples -> features -> metrics; owns config.eval/evals
"""
