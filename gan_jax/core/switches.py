"""Numeric switches that also work for traced, per-member hyperparameters."""

from typing import Any

import jax


def is_enabled(value: Any) -> bool:
  """Whether a numeric switch (a weight, a decay) turns its term on.

  Inside a population (`gan_jax.training.population`) the numeric
  hyperparameters are traced arrays, one value per member: the term is then
  computed for every member and weighted by each member's value, which is the
  same arithmetic as skipping it where the value is 0.
  """
  return isinstance(value, jax.core.Tracer) or bool(value)
