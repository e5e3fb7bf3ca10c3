"""Evaluation end to end: classifiers, Stacked MNIST, in-training and standalone."""

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import (PYTHON, REPO, apply_overrides, load_config,
                      subprocess_env, tiny_dcgan_config)
from gan_jax.eval import classifier as classifier_lib
from gan_jax import evaluate
from gan_jax.eval import evaluator as evaluator_lib
from gan_jax.eval import metrics as metrics_lib
from gan_jax.data import sources
from gan_jax.data.sources import idx
from gan_jax.training import experiment as experiment_lib
from gan_jax.training import loop
from gan_jax.core import state as state_lib
from gan_jax.errors import CheckpointError, ConfigError
from test_main import read_scalars

@pytest.fixture(scope='module')
def mnist_classifier(tmp_path_factory, mnist_dir):
  """A quickly trained MNIST classifier (about 90% on the test split)."""
  images, labels = classifier_lib.labelled_images(f'idx:{mnist_dir}', 'train',
                                                  28)
  model = classifier_lib.train_classifier(images, labels, 10, steps=100,
                                          batch_size=32)
  directory = str(tmp_path_factory.mktemp('classifier') / 'mnist')
  test_x, test_y = classifier_lib.labelled_images(f'idx:{mnist_dir}', 'test',
                                                  28)
  accuracy = float(np.mean(model.predict(test_x[:2000]) == test_y[:2000]))
  classifier_lib.save(model, directory, {'test_accuracy': accuracy})
  return directory, accuracy, mnist_dir


def test_classifier_round_trip_and_errors(mnist_classifier, tmp_path):
  directory, accuracy, mnist = mnist_classifier
  assert accuracy > 0.8       # far above chance after 100 steps
  loaded = classifier_lib.load(directory)
  images, labels = classifier_lib.labelled_images(f'idx:{mnist}', 'test', 28)
  assert np.mean(loaded.predict(images[:2000]) == labels[:2000]) == accuracy
  assert loaded.features(images[:3]).shape == (3, 256)
  with pytest.raises(CheckpointError, match='python -m gan_jax.classifier'):
    classifier_lib.load(str(tmp_path / 'missing'))
  corrupt = tmp_path / 'corrupt'
  corrupt.mkdir()
  for name in ('params.msgpack', 'classifier.json'):
    (corrupt / name).write_bytes(open(os.path.join(directory, name),
                                      'rb').read())
  (corrupt / 'params.msgpack').write_bytes(b'\x00garbage')
  with pytest.raises(CheckpointError, match='unreadable'):
    classifier_lib.load(str(corrupt))


def test_stacked_mnist_modes_of_real_stacked_test_digits(mnist_classifier):
  directory, accuracy, mnist = mnist_classifier
  config = load_config('dcgan', 'res=28,channels=3')
  config.dataset.name = f'stacked_mnist:{mnist}'
  config.dataset.split = 'test'
  config.dataset.num_examples = 1000
  dataset = sources.load_dataset(config.dataset)
  source = dataset.domains['x']
  images = dataset.examples(1000)
  assert images.shape == (1000, 28, 28, 3) and dataset.num_classes == 1000
  modes = np.array([source[i]['label'] for i in range(1000)])
  # Each channel is a real test digit; the label is its 3-digit mode.
  digits = idx.load_idx(
      apply_overrides(config.dataset.copy_and_resolve_references(),
                      {'channels': 1}), mnist).domains['x'].arrays
  first = source.triples[0]
  np.testing.assert_array_equal(source[0]['image'][..., 1],
                                digits['image'][first[1]][..., 0])
  assert modes[0] == 100 * digits['label'][first[0]] + 10 * digits['label'][
      first[1]] + digits['label'][first[2]]

  evaluator = evaluator_lib.Evaluator(
      apply_overrides(config, {'eval.classifier': directory}), dataset, None,
      '/tmp')
  judge = classifier_lib.load(directory)
  channel_labels = np.stack([judge.predict(images[..., c:c + 1])
                             for c in range(3)], -1)
  predicted = channel_labels @ np.array([100, 10, 1])
  # The mode is right when all three digits are: about accuracy^3.
  assert np.mean(predicted == modes) > accuracy ** 3 - 0.05
  coverage = evaluator.stacked_mnist_coverage(images)
  assert coverage['modes'] == len(set(predicted))
  assert coverage['modes'] > 550     # 1,000 draws cover ~63% of 1,000 modes


def test_in_training_eval_equals_standalone_evaluate(tmp_path):
  config = load_config('vanilla')
  config = apply_overrides(config, {
      'num_train_steps': 40, 'log_every_steps': 20,
      'checkpoint_every_steps': 40, 'sample_every_steps': 40,
      'evals.mode_coverage': 20, 'evals.fid': 40, 'evals.precision_recall': 40,
      'eval.num_samples': 1000, 'eval.batch_size': 250,
      'batch_size': 64, 'dataset.num_examples': 2000})
  workdir = str(tmp_path / 'ring')
  loop.train_and_evaluate(config, workdir)
  final = json.load(open(os.path.join(workdir, 'final_metrics.json')))
  for name in ('modes', 'high_quality', 'reverse_kl', 'fid', 'precision',
               'recall'):
    assert f'eval/{name}' in final
  assert 0 <= final['eval/high_quality'] <= 1 and final['eval/fid'] > 0
  # Each metric at its own period in TensorBoard: mode coverage every 20.
  scalars = read_scalars(workdir)
  assert sorted(scalars['eval/modes']) == [20, 40]
  assert sorted(scalars['eval/fid']) == [40]
  # The real-feature cache was written once, in the workdir.
  assert len(os.listdir(os.path.join(workdir, 'eval'))) == 1

  result = subprocess.run(
      [PYTHON, '-m', 'gan_jax.evaluate', f'--workdir={workdir}'], cwd=REPO,
      env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert 'at step 40' in result.stdout
  saved = json.load(open(os.path.join(workdir, 'eval', 'step_000040.json')))
  # Same checkpoint, same fixed sample key: the same numbers.
  for name, value in saved['results'].items():
    assert value == pytest.approx(final[f'eval/{name}'], rel=1e-5), name


def test_evaluate_errors_are_clear(tmp_path, mnist_classifier):
  result = subprocess.run(
      [PYTHON, '-m', 'gan_jax.evaluate', f'--workdir={tmp_path}'], cwd=REPO,
      env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert result.returncode != 0
  assert 'config.json' in result.stderr and 'Traceback' not in result.stderr
  config = tiny_dcgan_config(**{'evals.fid': 3, 'eval.classifier': '',
                                'eval.features': 'classifier'})
  with pytest.raises(ConfigError, match='needs a classifier'):
    loop.train_and_evaluate(config, str(tmp_path / 'no_classifier'))
  assert not os.path.exists(tmp_path / 'no_classifier')   # nothing written
  config = tiny_dcgan_config(**{'evals.mode_coverage': 3})
  with pytest.raises(ConfigError, match='2-D mixtures'):
    loop.train_and_evaluate(config, str(tmp_path / 'wrong'))
  # A classifier at another resolution is named, not silently used.
  config = tiny_dcgan_config(**{'evals.fid': 3,
                                'eval.classifier': mnist_classifier[0]})
  with pytest.raises(CheckpointError, match=r'trained on \(28, 28, 1\)'):
    loop.train_and_evaluate(config, str(tmp_path / 'other_res'))


def test_domain_fid_and_conditional_accuracy(tmp_path, mnist_classifier):
  directory, _, mnist = mnist_classifier
  config = load_config('cgan')
  config = apply_overrides(config, {
      'dataset.name': f'idx:{mnist}', 'dataset.resolution': 28,
      'batch_size': 20, 'num_train_steps': 2, 'model.g_features': 8,
      'model.d_features': 8, 'eval.classifier': directory,
      'eval.num_samples': 200, 'eval.batch_size': 100})
  experiment = experiment_lib.setup(config)
  evaluator = evaluator_lib.Evaluator(config, experiment.dataset, experiment.gan,
                                      str(tmp_path))
  state = experiment.initial_state
  params = state_lib.sample_params(state)
  results = evaluator.evaluate(params, state.generator.model_state,
                               ['fid', 'kid', 'conditional_accuracy'])
  samples = evaluator.generate(params, state.generator.model_state)
  assert np.bincount(samples['label']).tolist() == [20] * 10   # balanced
  expected = np.mean(classifier_lib.load(directory).predict(samples['x'])
                     == samples['label'])
  assert results['conditional_accuracy'] == pytest.approx(expected)
  # Real MNIST against an untrained generator: far apart.
  real = evaluator.features.real()
  assert results['fid'] > 10 * metrics_lib.frechet_distance_of(
      real[:100], real[100:200])
  assert results['kid'] > 0


def test_load_run_config_keeps_new_defaults(tmp_path):
  config = tiny_dcgan_config()
  recorded = json.loads(config.to_json_best_effort())
  del recorded['evals']                      # written before evals existed
  (tmp_path / 'config.json').write_text(json.dumps(recorded))
  loaded = evaluate.load_run_config(str(tmp_path))
  assert loaded.evals.fid == 0 and loaded.model.g_features == 8
