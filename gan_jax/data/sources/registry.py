"""The table of dataset sources by `config.dataset.name`, filled by the source files.

    @register('idx', takes_argument=True)     # config.dataset.name='idx:<dir>'
    def load_idx(config, directory) -> Dataset: ...

A loader receives `config.dataset` and the text after the colon.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import ml_collections

from gan_jax.data.dataset import Dataset
from gan_jax.registry import Registry

Loader = Callable[[ml_collections.ConfigDict, str], Dataset]


@dataclasses.dataclass(frozen=True)
class Source:
  load: Loader
  takes_argument: bool      # 'name:<argument>' (a path, a tfds name)


SOURCES = Registry('dataset source')     # name -> Source


def register(name: str, takes_argument: bool = False):
  """Registers the decorated loader under `name`."""
  def decorator(load: Loader) -> Loader:
    SOURCES.add(name, Source(load, takes_argument))
    return load
  return decorator
