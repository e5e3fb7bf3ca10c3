"""The table of variants by name, filled by the variant files (`@register`).

A model registers the variant its networks follow
(`gan_jax.models.registry.register(name, variant=...)`); the variant file
registers the class that turns such networks into the contract of
`base.Variant`.
"""

from __future__ import annotations

from gan_jax.registry import Registry

VARIANTS = Registry('variant')     # name -> base.Variant subclass


def register(name: str):
  """Registers the decorated `base.Variant` subclass under `name`."""
  def decorator(cls: type) -> type:
    VARIANTS.add(name, cls)
    return cls
  return decorator
