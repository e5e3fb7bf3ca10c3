"""Small CNN classifiers that gan_jax trains itself, to judge samples offline.

They label generated images (conditional accuracy, Stacked MNIST modes) and
give domain features for FID/KID and precision/recall without any downloaded
weights (`python -m gan_jax.classifier` builds one). `save` writes
`<dir>/params.msgpack` and `<dir>/classifier.json` (shape, classes, test
accuracy, the command) and replaces the directory only once the new one is
complete, so an interrupted build never leaves a broken classifier.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import flax.linen as nn
from flax import serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax import data
from gan_jax.core import jit_once
from gan_jax.data import sources
from gan_jax.errors import CheckpointError

_PARAMS_FILE = 'params.msgpack'
_META_FILE = 'classifier.json'


class SmallCNN(nn.Module):
  """(N, H, W, C) in [-1, 1] -> (N, num_classes) logits.

  Two blocks of two 3x3 convolutions (`widths` channels) and 2x2
  max-pooling, then a 256-unit dense layer: `features` (the dense layer's
  output) are the domain features for FID-like metrics.
  """
  num_classes: int = 10
  widths: tuple[int, int] = (32, 64)

  @nn.compact
  def __call__(self, x: jax.Array, features: bool = False) -> jax.Array:
    for width in self.widths:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), (2, 2))
    x = nn.relu(nn.Dense(256)(x.reshape((x.shape[0], -1))))
    if features:
      return x
    return nn.Dense(self.num_classes)(x)


class Classifier:
  """A trained SmallCNN: labels and features of images in [-1, 1]."""

  def __init__(self, model: SmallCNN, params, input_shape: tuple[int, ...],
               meta: dict | None = None):
    self.model = model
    self.params = params
    self.input_shape = tuple(input_shape)
    self.meta = meta or {}
    self._logits = jax.jit(lambda p, x: model.apply(p, x))
    self._features = jax.jit(lambda p, x: model.apply(p, x, features=True))

  @property
  def num_classes(self) -> int:
    return self.model.num_classes

  def check_shape(self, shape: tuple[int, ...], what: str) -> None:
    """Raises CheckpointError unless images of `shape` fit the classifier."""
    if tuple(shape) != self.input_shape:
      raise CheckpointError(
          f'{what} are {tuple(shape)} images but the classifier '
          f'{self.meta.get("path", "")} was trained on {self.input_shape}: '
          'build one at this resolution (python -m gan_jax.classifier '
          '--resolution=...)')

  def _batched(self, fn, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(self.params,
                                         images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])

  def logits(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    return self._batched(self._logits, images, batch_size)

  def predict(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The predicted class of every image."""
    return self.logits(images, batch_size).argmax(-1)

  def features(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 256) penultimate features."""
    return self._batched(self._features, images, batch_size)


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int,
                     steps: int = 4000, batch_size: int = 128,
                     learning_rate: float = 1e-3, seed: int = 0,
                     widths: tuple[int, int] = (32, 64)) -> Classifier:
  """Trains SmallCNN: Adam with cosine decay, random shifts of up to 2 px.

  Args:
    images: (N, H, W, C) float in [-1, 1].
    labels: (N,) int class labels.
    num_classes: number of classes.
    steps, batch_size, learning_rate, seed: the training run.
    widths: the channels of the two convolution blocks.
  """
  model = SmallCNN(num_classes, tuple(widths))
  key = jax.random.PRNGKey(seed)
  params = jit_once.run(model.init, key, jnp.zeros((1,) + images.shape[1:]))
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, x, y, i):
    # Shift each image by its own offset: background (-1) fills the edge.
    shifts = jax.random.randint(jax.random.fold_in(key, i), (len(x), 2), -2, 3)
    x = jax.vmap(lambda image, s: jnp.roll(image, s, axis=(0, 1)))(x, shifts)

    def loss_fn(params):
      logits = model.apply(params, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  rng = np.random.default_rng(seed)
  for i in range(steps):
    idx = rng.integers(0, len(images), batch_size)
    params, opt_state = step(params, opt_state, images[idx], labels[idx], i)
  return Classifier(model, params, images.shape[1:])


def save(classifier: Classifier, directory: str, meta: dict) -> None:
  """Writes the classifier to `directory`, replacing it only when complete."""
  directory = os.path.abspath(directory)
  parent = os.path.dirname(directory)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.classifier_', dir=parent)
  with open(os.path.join(staging, _PARAMS_FILE), 'wb') as f:
    f.write(serialization.to_bytes(classifier.params))
  meta = dict(meta, num_classes=classifier.num_classes,
              input_shape=list(classifier.input_shape),
              widths=list(classifier.model.widths))
  with open(os.path.join(staging, _META_FILE), 'w') as f:
    json.dump(meta, f, indent=2)
  if os.path.exists(directory):
    old = directory + '.old'
    shutil.rmtree(old, ignore_errors=True)
    os.replace(directory, old)
    os.replace(staging, directory)
    shutil.rmtree(old)
  else:
    os.replace(staging, directory)


def load(directory: str) -> Classifier:
  """Loads a classifier written by `save`.

  Raises:
    CheckpointError: if the directory is missing or its files are corrupt.
  """
  directory = os.path.abspath(os.path.expanduser(directory))
  build = ('build one with: python -m gan_jax.classifier '
           '--dataset=idx:../shared/data/mnist --out=<dir>')
  try:
    with open(os.path.join(directory, _META_FILE)) as f:
      meta = json.load(f)
    model = SmallCNN(int(meta['num_classes']),
                     tuple(meta.get('widths', (32, 64))))
    shape = tuple(meta['input_shape'])
    template = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                              jnp.zeros((1,) + shape))
    with open(os.path.join(directory, _PARAMS_FILE), 'rb') as f:
      params = serialization.from_bytes(template, f.read())
    jax.tree.map(lambda t, p: _check_leaf(t.shape, np.shape(p)), template,
                 params)
  except FileNotFoundError as e:
    raise CheckpointError(f'no classifier at {directory} ({e.filename} is '
                          f'missing): {build}') from e
  except Exception as e:  # json, msgpack and shape errors all mean corrupt
    raise CheckpointError(f'the classifier in {directory} is unreadable '
                          f'({type(e).__name__}: {e}): {build}') from e
  meta['path'] = directory
  return Classifier(model, params, shape, meta)


def _check_leaf(expected, got):
  if tuple(expected) != tuple(got):
    raise ValueError(f'parameter of shape {got}, expected {expected}')


def labelled_images(dataset_name: str, split: str, resolution: int
                    ) -> tuple[np.ndarray, np.ndarray]:
  """(images in [-1, 1], labels) of a labelled single-domain dataset."""
  config = data.dataset_config()
  config.update(dict(name=dataset_name, split=split, resolution=resolution,
                     channels=1))
  dataset = sources.load_dataset(config)
  source = dataset.domains['x']
  if not dataset.num_classes:
    raise CheckpointError(f'{dataset_name} has no labels to train on')
  images = dataset.examples(len(source))
  labels = np.array([source[i]['label'] for i in range(len(source))])
  return images, labels
