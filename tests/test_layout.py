"""The package's shape: no import cycles, no module past 400 lines, and a
variant is added by registering it, with nothing else naming it."""

import ast
import json
import os

import flax.linen as nn
import jax.numpy as jnp

from conftest import REPO, apply_overrides, load_config
from gan_jax.models import mlp
from gan_jax.models import registry as model_registry
from gan_jax.training import loop
from gan_jax.variants import registry as variant_registry
from gan_jax.variants import standard
from gan_jax.variants.base import apply_train_mode

PACKAGE = os.path.join(REPO, 'gan_jax')


def package_modules() -> dict[str, str]:
  """{'gan_jax.core.losses': path} for every module of the package."""
  modules = {}
  for directory, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(directory, name)
        module = os.path.relpath(path, REPO)[:-3].replace(os.sep, '.')
        modules[module.removesuffix('.__init__')] = path
  return modules


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
  """module -> the package modules it imports, function-local imports too.

  `from a.b import c` imports a.b and, if it is a module, a.b.c; a module
  never counts as importing its own parent packages (Python runs those
  first whatever the module says).
  """
  graph = {}
  for module, path in modules.items():
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    targets = set()
    for node in ast.walk(ast.parse(open(path).read())):
      names = []
      if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ''
        if node.level:
          parts = package.split('.')[:len(package.split('.')) - node.level + 1]
          base = '.'.join(parts + ([base] if base else []))
        names = [base] + [f'{base}.{alias.name}' for alias in node.names]
      for name in names:
        while name and name not in modules:
          name = name.rpartition('.')[0]
        if name and name != module and not module.startswith(name + '.'):
          targets.add(name)
    graph[module] = targets
  return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for target in graph[node]:
      if target not in index:
        visit(target)
        low[node] = min(low[node], low[target])
      elif target in on_stack:
        low[node] = min(low[node], index[target])
    if low[node] == index[node]:
      component = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for node in graph:
    if node not in index:
      visit(node)
  return found


def test_cycle_finder_finds_a_planted_cycle():
  graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
  assert cycles(graph) == [['a', 'b', 'c']]
  assert cycles({'a': {'b'}, 'b': set()}) == []


def test_import_graph_sees_function_local_and_relative_imports(tmp_path):
  package = tmp_path / 'pkg'
  package.mkdir()
  (package / '__init__.py').write_text('')
  (package / 'a.py').write_text('def f():\n  from pkg import b\n')
  (package / 'b.py').write_text('from . import a\n')
  modules = {f'pkg.{n}': str(package / f'{n}.py') for n in ('a', 'b')}
  modules['pkg'] = str(package / '__init__.py')
  graph = import_graph(modules)
  assert graph['pkg.a'] == {'pkg.b'} and graph['pkg.b'] == {'pkg.a'}
  assert cycles(graph) == [['pkg.a', 'pkg.b']]


def test_gan_jax_has_no_import_cycle():
  modules = package_modules()
  assert len(modules) > 20
  assert cycles(import_graph(modules)) == []


def test_no_module_exceeds_400_lines():
  lengths = {}
  for module, path in package_modules().items():
    with open(path) as f:
      lengths[module] = sum(1 for _ in f)
  assert max(lengths.values()) > 100     # the count reads real files
  assert {m: n for m, n in lengths.items() if n > 400} == {}


class _FeatureDiscriminator(nn.Module):
  """An MLP discriminator that also returns its hidden features."""

  @nn.compact
  def __call__(self, x, labels=None, train=True):
    del labels, train
    features = nn.leaky_relu(nn.Dense(16)(x.reshape(len(x), -1)), 0.2)
    return nn.Dense(1)(features)[:, 0], features


class _FeatureMatchingGAN(standard.StandardGAN):
  """Feature matching (Salimans et al. 2016): G matches D's mean features."""

  def _d(self, d_params, d_state, x, labels, update=True):
    del update     # no spectral norm in this discriminator
    (logits, _), d_state = apply_train_mode(self.discriminator, d_params,
                                            d_state, x, labels)
    return logits, d_state

  def generator_loss(self, d_params, d_state, outputs, batch, key):
    del key
    def features(x):
      return apply_train_mode(self.discriminator, d_params, d_state, x,
                              None)[0][1]
    distance = jnp.sum(jnp.square(jnp.mean(features(batch['x']), 0)
                                  - jnp.mean(features(outputs['x']), 0)))
    return distance, {'feature_distance': distance}


def _build_feature_matching_pair(config, data_shape, num_classes=0):
  return (mlp.MLPGenerator(output_shape=data_shape, hidden_dims=(16,)),
          _FeatureDiscriminator())


def test_a_variant_registered_elsewhere_trains_end_to_end(tmp_path,
                                                          monkeypatch):
  """The README's walk-through: a model, a variant and a config, nothing else."""
  monkeypatch.setitem(model_registry.MODELS, 'fm_mlp', model_registry.Model(
      _build_feature_matching_pair, variant='feature_matching'))
  monkeypatch.setitem(variant_registry.VARIANTS, 'feature_matching',
                      _FeatureMatchingGAN)
  config = load_config('vanilla')
  config = apply_overrides(config, {
      'model.name': 'fm_mlp', 'num_train_steps': 4, 'log_every_steps': 2,
      'checkpoint_every_steps': 4, 'sample_every_steps': 4,
      'evals.mode_coverage': 4, 'eval.num_samples': 100})
  state = loop.train_and_evaluate(config, str(tmp_path))
  with open(tmp_path / 'final_metrics.json') as f:
    final = json.load(f)
  # The variant's own generator objective is what the step minimised.
  assert final['g_loss'] == final['feature_distance'] > 0
  assert 'eval/modes' in final and int(state.step) == 4
  assert os.listdir(tmp_path / 'checkpoints') == ['4']
