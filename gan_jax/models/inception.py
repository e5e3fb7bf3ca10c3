r"""The FID Inception-v3 feature network, in Flax, from a local weight file.

FID is defined on the 2048-d pool features of one particular Inception-v3:
the TensorFlow graph of Heusel et al. 2017 (`pt_inception-2015-12-05` in
pytorch-fid, which ports that graph to PyTorch). It differs from the
ImageNet Inception-v3 of torchvision in its pooling: the average pools in the
Mixed_5*/6*/7b blocks exclude padding from the average, and Mixed_7c's pool
branch is a 3x3 *max* pool. This module builds that network with the
parameter names of the PyTorch layout, so the weights map one to one:

  <block>.<branch>.conv.weight   (out, in, kh, kw)  -> params .../conv/kernel
                                                       (kh, kw, in, out)
  <block>.<branch>.bn.weight / .bias                -> params .../bn/scale, bias
  <block>.<branch>.bn.running_mean / running_var    -> batch_stats .../mean, var

Nothing is downloaded. Give the path of the pytorch-fid weights
(`pt_inception-2015-12-05-6726825d.pth`, from the pytorch-fid GitHub
releases) or of an .npz holding the same keys; `.pth` needs PyTorch to read
(`python -m gan_jax.models.inception --convert=in.pth --out=out.npz` writes
the .npz once, on any machine with torch).

Inputs are images in [-1, 1] of any size; they are resized to 299 x 299
(bilinear, as pytorch-fid) and grey images are repeated to 3 channels.
"""

from __future__ import annotations

import os
from typing import Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import CheckpointError

WEIGHTS_HELP = (
    'FID needs the Inception-v3 weights of pytorch-fid '
    '(pt_inception-2015-12-05-6726825d.pth, published in the releases of '
    'github.com/mseitzer/pytorch-fid). Download it on a machine with '
    'internet and pass its path as config.eval.inception; nothing is '
    'downloaded at run time. To read it without PyTorch, convert it once: '
    'python -m gan_jax.models.inception --convert=<file>.pth --out=<file>.npz')


class BasicConv2d(nn.Module):
  """Convolution without bias, batch norm (eps 1e-3), ReLU."""
  features: int
  kernel: Sequence[int]
  strides: int = 1
  padding: Sequence[int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    ph, pw = self.padding
    x = nn.Conv(self.features, tuple(self.kernel), strides=self.strides,
                padding=((ph, ph), (pw, pw)), use_bias=False, name='conv')(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _avg_pool(x):
  # The TF graph's average pools exclude the padding from the average.
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)),
                     count_include_pad=False)


def _max_pool(x, stride=2, padding=0):
  return nn.max_pool(x, (3, 3), (stride, stride),
                     ((padding, padding), (padding, padding)))


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    c = BasicConv2d
    b1 = c(64, (1, 1), name='branch1x1')(x)
    b5 = c(48, (1, 1), name='branch5x5_1')(x)
    b5 = c(64, (5, 5), padding=(2, 2), name='branch5x5_2')(b5)
    b3 = c(64, (1, 1), name='branch3x3dbl_1')(x)
    b3 = c(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(b3)
    b3 = c(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(b3)
    bp = c(self.pool_features, (1, 1), name='branch_pool')(_avg_pool(x))
    return jnp.concatenate([b1, b5, b3, bp], -1)


class InceptionB(nn.Module):

  @nn.compact
  def __call__(self, x):
    c = BasicConv2d
    b3 = c(384, (3, 3), strides=2, name='branch3x3')(x)
    bd = c(64, (1, 1), name='branch3x3dbl_1')(x)
    bd = c(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = c(96, (3, 3), strides=2, name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool(x)], -1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c, c7 = BasicConv2d, self.channels_7x7
    row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1),
                                                         padding=(3, 0))
    b1 = c(192, (1, 1), name='branch1x1')(x)
    b7 = c(c7, (1, 1), name='branch7x7_1')(x)
    b7 = c(c7, **row, name='branch7x7_2')(b7)
    b7 = c(192, **col, name='branch7x7_3')(b7)
    bd = c(c7, (1, 1), name='branch7x7dbl_1')(x)
    bd = c(c7, **col, name='branch7x7dbl_2')(bd)
    bd = c(c7, **row, name='branch7x7dbl_3')(bd)
    bd = c(c7, **col, name='branch7x7dbl_4')(bd)
    bd = c(192, **row, name='branch7x7dbl_5')(bd)
    bp = c(192, (1, 1), name='branch_pool')(_avg_pool(x))
    return jnp.concatenate([b1, b7, bd, bp], -1)


class InceptionD(nn.Module):

  @nn.compact
  def __call__(self, x):
    c = BasicConv2d
    b3 = c(192, (1, 1), name='branch3x3_1')(x)
    b3 = c(320, (3, 3), strides=2, name='branch3x3_2')(b3)
    b7 = c(192, (1, 1), name='branch7x7x3_1')(x)
    b7 = c(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
    b7 = c(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
    b7 = c(192, (3, 3), strides=2, name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool(x)], -1)


class InceptionE(nn.Module):
  pool: str  # 'avg' (Mixed_7b) or 'max' (Mixed_7c, as in the TF graph)

  @nn.compact
  def __call__(self, x):
    c = BasicConv2d
    row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1),
                                                         padding=(1, 0))
    b1 = c(320, (1, 1), name='branch1x1')(x)
    b3 = c(384, (1, 1), name='branch3x3_1')(x)
    b3 = jnp.concatenate([c(384, **row, name='branch3x3_2a')(b3),
                          c(384, **col, name='branch3x3_2b')(b3)], -1)
    bd = c(448, (1, 1), name='branch3x3dbl_1')(x)
    bd = c(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate([c(384, **row, name='branch3x3dbl_3a')(bd),
                          c(384, **col, name='branch3x3dbl_3b')(bd)], -1)
    pooled = (_avg_pool(x) if self.pool == 'avg'
              else _max_pool(x, stride=1, padding=1))
    bp = c(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], -1)


class FIDInceptionV3(nn.Module):
  """(N, H, W, 1 or 3) images in [-1, 1] -> (N, 2048) pool features."""

  @nn.compact
  def __call__(self, x):
    if x.shape[-1] == 1:
      x = jnp.repeat(x, 3, axis=-1)
    x = jax.image.resize(x.astype(jnp.float32), (x.shape[0], 299, 299, 3),
                         'bilinear', antialias=False)
    c = BasicConv2d
    x = c(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
    x = c(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = c(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = _max_pool(x)
    x = c(80, (1, 1), name='Conv2d_3b_1x1')(x)
    x = c(192, (3, 3), name='Conv2d_4a_3x3')(x)
    x = _max_pool(x)
    x = InceptionA(32, name='Mixed_5b')(x)
    x = InceptionA(64, name='Mixed_5c')(x)
    x = InceptionA(64, name='Mixed_5d')(x)
    x = InceptionB(name='Mixed_6a')(x)
    for name, channels in (('Mixed_6b', 128), ('Mixed_6c', 160),
                           ('Mixed_6d', 160), ('Mixed_6e', 192)):
      x = InceptionC(channels, name=name)(x)
    x = InceptionD(name='Mixed_7a')(x)
    x = InceptionE('avg', name='Mixed_7b')(x)
    x = InceptionE('max', name='Mixed_7c')(x)
    return jnp.mean(x, axis=(1, 2))


# --- weights ----------------------------------------------------------------------

_BN_LEAVES = {'weight': ('params', 'scale'), 'bias': ('params', 'bias'),
              'running_mean': ('batch_stats', 'mean'),
              'running_var': ('batch_stats', 'var')}


def _variables_template() -> dict:
  return jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0),
                        jnp.zeros((1, 75, 75, 3)))


def variables_from_state_dict(state_dict: dict[str, np.ndarray]) -> dict:
  """Flax variables from the PyTorch-layout state dict of pytorch-fid.

  The classifier head (`fc.*`) and `num_batches_tracked` are not needed for
  pool features and are ignored.

  Raises:
    CheckpointError: naming missing, unexpected or mis-shaped entries.
  """
  flat = {}
  unexpected = []
  for key, value in state_dict.items():
    *modules, leaf = key.split('.')
    value = np.asarray(value, np.float32)
    if modules and modules[0] == 'fc' or leaf == 'num_batches_tracked':
      continue
    if modules and modules[-1] == 'conv' and leaf == 'weight':
      flat[('params', *modules, 'kernel')] = value.transpose(2, 3, 1, 0)
    elif modules and modules[-1] == 'bn' and leaf in _BN_LEAVES:
      collection, name = _BN_LEAVES[leaf]
      flat[(collection, *modules, name)] = value
    else:
      unexpected.append(key)
  template = flax.traverse_util.flatten_dict(
      jax.tree.map(lambda x: x.shape, _variables_template(),
                   is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct)))
  missing = sorted('.'.join(k) for k in template if k not in flat)
  unexpected += sorted('.'.join(k) for k in flat if k not in template)
  wrong = sorted(f'{".".join(k)}: {flat[k].shape} (expected {template[k]})'
                 for k in template if k in flat
                 and tuple(flat[k].shape) != tuple(template[k]))
  if missing or unexpected or wrong:
    raise CheckpointError(
        'the weights are not the FID Inception-v3 layout: '
        + '; '.join(f'{what}: {items[:5]}{" ..." if len(items) > 5 else ""}'
                    for what, items in (('missing', missing),
                                        ('unexpected', unexpected),
                                        ('wrong shape', wrong)) if items)
        + '. ' + WEIGHTS_HELP)
  return flax.traverse_util.unflatten_dict(
      {k: jnp.asarray(v) for k, v in flat.items()})


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """The PyTorch state dict in a .pth (needs torch) or .npz file."""
  path = os.path.expanduser(path)
  if not os.path.isfile(path):
    raise CheckpointError(f'no Inception weights at {path}. {WEIGHTS_HELP}')
  if path.endswith('.npz'):
    try:
      with np.load(path) as data:
        return {key: data[key] for key in data.files}
    except Exception as e:
      raise CheckpointError(f'{path} is not a readable .npz ({e}). '
                            f'{WEIGHTS_HELP}') from e
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise CheckpointError(
        f'{path} is a PyTorch file and torch is not installed. '
        f'{WEIGHTS_HELP}') from e
  try:
    state = torch.load(path, map_location='cpu', weights_only=True)
  except Exception as e:
    raise CheckpointError(f'{path} is not a readable PyTorch state dict '
                          f'({e}). {WEIGHTS_HELP}') from e
  return {key: value.numpy() for key, value in state.items()}


class InceptionFeatures:
  """Jitted, batched FID pool features of images in [-1, 1]."""

  def __init__(self, path: str):
    self.path = os.path.abspath(os.path.expanduser(path))
    self.variables = variables_from_state_dict(read_state_dict(path))
    self._apply = jax.jit(FIDInceptionV3().apply)

  def __call__(self, images: np.ndarray, batch_size: int = 200) -> np.ndarray:
    return np.concatenate([
        np.asarray(self._apply(self.variables, images[i:i + batch_size]))
        for i in range(0, len(images), batch_size)])


def main(argv):
  del argv
  from absl import flags  # pylint: disable=g-import-not-at-top
  state = read_state_dict(flags.FLAGS.convert)
  variables_from_state_dict(state)   # refuse to write a wrong layout
  np.savez(flags.FLAGS.out, **state)
  print(f'wrote {len(state)} arrays to {flags.FLAGS.out}')


if __name__ == '__main__':
  from absl import app, flags  # pylint: disable=g-import-not-at-top,g-multiple-import
  flags.DEFINE_string('convert', None, 'pytorch-fid .pth weights to convert.')
  flags.DEFINE_string('out', None, '.npz to write.')
  flags.mark_flags_as_required(['convert', 'out'])
  app.run(main)

