"""The FID Inception-v3 port: layer shapes and the PyTorch weight mapping.

No real weights exist on this machine (they are a download); the tests use
random weights in pytorch-fid's layout.
"""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.errors import CheckpointError
from gan_jax.models import inception


def _random_pytorch_state_dict(seed=0):
  """Random weights under pytorch-fid's keys and PyTorch shapes."""
  rng = np.random.default_rng(seed)
  template = flax.traverse_util.flatten_dict(inception._variables_template())
  state = {}
  for (collection, *modules, leaf), shape in template.items():
    shape = shape.shape
    prefix = '.'.join(modules)
    if leaf == 'kernel':      # (kh, kw, in, out) -> (out, in, kh, kw)
      state[f'{prefix}.weight'] = 0.05 * rng.standard_normal(
          (shape[3], shape[2], shape[0], shape[1]))
    else:
      name = {('params', 'scale'): 'weight', ('params', 'bias'): 'bias',
              ('batch_stats', 'mean'): 'running_mean',
              ('batch_stats', 'var'): 'running_var'}[(collection, leaf)]
      value = rng.standard_normal(shape)
      state[f'{prefix}.{name}'] = np.abs(value) + 0.5 if 'var' in name else value
      if name == 'running_var':
        state[f'{prefix}.num_batches_tracked'] = np.array(0)
  state['fc.weight'] = rng.standard_normal((1008, 2048))
  state['fc.bias'] = rng.standard_normal(1008)
  return {k: np.asarray(v, np.float32) for k, v in state.items()}


def test_parameter_count_is_inception_v3_without_heads():
  # torchvision's Inception-v3 has 27,161,264 parameters; without its
  # auxiliary classifier (3,326,696) and fc layer (2,049,000) that leaves
  # 21,785,568 for the feature network FID uses.
  params = inception._variables_template()['params']
  assert sum(np.prod(x.shape) for x in jax.tree.leaves(params)) == 21_785_568


def test_known_pytorch_shapes_are_accepted():
  state = _random_pytorch_state_dict()
  expected = {'Conv2d_1a_3x3.conv.weight': (32, 3, 3, 3),
              'Conv2d_4a_3x3.conv.weight': (192, 80, 3, 3),
              'Mixed_5b.branch_pool.conv.weight': (32, 192, 1, 1),
              'Mixed_6b.branch7x7_2.conv.weight': (128, 128, 1, 7),
              'Mixed_6b.branch7x7_3.conv.weight': (192, 128, 7, 1),
              'Mixed_7b.branch3x3_2b.conv.weight': (384, 384, 3, 1),
              'Mixed_7c.branch_pool.conv.weight': (192, 2048, 1, 1),
              'Mixed_7c.branch3x3dbl_1.bn.running_var': (448,)}
  for key, shape in expected.items():
    assert state[key].shape == shape, key


def test_weight_mapping_puts_every_array_in_its_place():
  state = _random_pytorch_state_dict()
  variables = inception.variables_from_state_dict(state)
  v = variables['params']['Mixed_6b']['branch7x7_2']
  np.testing.assert_array_equal(
      v['conv']['kernel'],
      state['Mixed_6b.branch7x7_2.conv.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(v['bn']['scale'],
                                state['Mixed_6b.branch7x7_2.bn.weight'])
  np.testing.assert_array_equal(
      variables['batch_stats']['Mixed_7c']['branch_pool']['bn']['var'],
      state['Mixed_7c.branch_pool.bn.running_var'])
  # Every array of the network came from the state dict (none left random).
  flat = flax.traverse_util.flatten_dict(variables)
  assert len(flat) == len([k for k in state if not k.startswith('fc.')
                           and 'num_batches' not in k])


def test_missing_and_misshaped_weights_are_named():
  state = _random_pytorch_state_dict()
  del state['Mixed_5b.branch1x1.conv.weight']
  state['Mixed_7a.branch3x3_2.bn.bias'] = np.zeros(3, np.float32)
  with pytest.raises(CheckpointError, match='Mixed_5b.branch1x1.conv.kernel'
                     ) as error:
    inception.variables_from_state_dict(state)
  assert 'Mixed_7a.branch3x3_2.bn.bias' in str(error.value)
  assert 'pytorch-fid' in str(error.value)


def test_missing_weight_file_says_where_to_get_it(tmp_path):
  with pytest.raises(CheckpointError, match='pt_inception-2015-12-05'):
    inception.read_state_dict(str(tmp_path / 'nope.pth'))
  corrupt = tmp_path / 'weights.npz'
  corrupt.write_bytes(b'not a zip file')
  with pytest.raises(CheckpointError, match='not a readable'):
    inception.read_state_dict(str(corrupt))


def test_npz_weights_give_2048_features_and_standard_block_shapes(tmp_path):
  path = tmp_path / 'fid_inception.npz'
  np.savez(path, **_random_pytorch_state_dict())
  features = inception.InceptionFeatures(str(path))
  images = np.random.default_rng(1).uniform(-1, 1, (2, 28, 28, 1))
  out = features(images.astype(np.float32))
  assert out.shape == (2, 2048) and np.all(np.isfinite(out))
  assert not np.allclose(out[0], out[1])    # depends on the input
  _, state = inception.FIDInceptionV3().apply(
      features.variables, jnp.asarray(images[:1], jnp.float32),
      capture_intermediates=lambda module, _: module.name and
      module.name.startswith(('Mixed', 'Conv2d_4a')),
      mutable=['intermediates'])
  shapes = {name: value['__call__'][0].shape[1:]
            for name, value in state['intermediates'].items()}
  assert shapes['Conv2d_4a_3x3'] == (71, 71, 192)
  assert shapes['Mixed_5d'] == (35, 35, 288)
  assert shapes['Mixed_6a'] == (17, 17, 768)
  assert shapes['Mixed_6e'] == (17, 17, 768)
  assert shapes['Mixed_7a'] == (8, 8, 1280)
  assert shapes['Mixed_7c'] == (8, 8, 2048)


def _pytorch_fid_with_random_weights(torch, pytorch_fid_inception, monkeypatch):
  """pytorch-fid's InceptionV3 with random, batch-calibrated weights (its
  loader, which downloads, is handed these instead), and its state dict."""
  module = pytorch_fid_inception
  torch.manual_seed(0)
  network = module._inception_v3(num_classes=1008, aux_logits=False,  # pylint: disable=protected-access
                                 weights=None)
  for name, block in (('Mixed_5b', module.FIDInceptionA(192, 32)),
                      ('Mixed_5c', module.FIDInceptionA(256, 64)),
                      ('Mixed_5d', module.FIDInceptionA(288, 64)),
                      ('Mixed_6b', module.FIDInceptionC(768, 128)),
                      ('Mixed_6c', module.FIDInceptionC(768, 160)),
                      ('Mixed_6d', module.FIDInceptionC(768, 160)),
                      ('Mixed_6e', module.FIDInceptionC(768, 192)),
                      ('Mixed_7b', module.FIDInceptionE_1(1280)),
                      ('Mixed_7c', module.FIDInceptionE_2(2048))):
    setattr(network, name, block)
  # Batch statistics of random images as the running averages, so that the
  # activations keep a sensible scale through the ~100 layers.
  for layer in network.modules():
    if isinstance(layer, torch.nn.BatchNorm2d):
      layer.momentum = None
  network.train()
  with torch.no_grad():
    network(torch.rand(6, 3, 299, 299) * 2 - 1)
  state = {k: v for k, v in network.state_dict().items()
           if 'num_batches_tracked' not in k}
  monkeypatch.setattr(module, 'load_state_dict_from_url',
                      lambda *args, **kwargs: state)
  reference = module.InceptionV3([module.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
  return reference.eval(), state


def test_pool_features_and_fid_match_pytorch_fid(tmp_path, monkeypatch):
  """The same random weights in pytorch-fid's network and in gan_jax's port
  give the same 2048-d pool features; both FID code paths agree."""
  torch = pytest.importorskip('torch')
  module = pytest.importorskip('pytorch_fid.inception')
  fid_score = pytest.importorskip('pytorch_fid.fid_score')
  reference, state = _pytorch_fid_with_random_weights(torch, module,
                                                      monkeypatch)
  path = tmp_path / 'random_fid_inception.pth'
  torch.save(state, path)
  ours = inception.InceptionFeatures(str(path))
  rng = np.random.default_rng(0)
  for size in (299, 64):       # as given, and resized by both to 299
    images = rng.uniform(0, 1, (3, size, size, 3)).astype(np.float32)
    with torch.no_grad():
      expected = reference(torch.from_numpy(images).permute(0, 3, 1, 2))[0]
    expected = expected[:, :, 0, 0].numpy()
    got = ours(images * 2 - 1)
    scale = np.abs(expected).max()
    assert scale > 1e-3                       # not a dead network
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=2e-4 * scale)
  # FID of two feature sets through pytorch-fid's code and gan_jax's.
  from gan_jax.eval import metrics  # pylint: disable=g-import-not-at-top
  a = rng.standard_normal((400, 32))
  b = 0.8 * rng.standard_normal((400, 32)) + 0.3
  theirs = fid_score.calculate_frechet_distance(
      a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
  assert metrics.frechet_distance_of(a, b) == pytest.approx(theirs, rel=1e-6)
