"""A name -> entry table that the files defining the entries fill themselves.

gan_jax has three (models, variants, dataset sources); each is filled by a
decorator in the file that defines the entry, and the package holding those
files imports all of them, so no list anywhere names the entries.
"""


class Registry(dict):
  """A dict that refuses to register a name twice."""

  def __init__(self, what: str):
    super().__init__()
    self.what = what

  def add(self, name: str, entry) -> None:
    if name in self:
      raise ValueError(f'{self.what} {name!r} is registered twice')
    self[name] = entry
