"""Configs: compact arguments, overrides, and one clear error per bad value."""

import os
import sys

from absl import flags
from ml_collections import config_flags
import pytest

from conftest import CONFIGS, load_config, tiny_dcgan_config
from gan_jax import config_lib
from gan_jax.training import experiment as experiment_lib


def test_compact_argument_sets_typed_fields():
  config = load_config('dcgan', 'res=64,channels=3,loss=hinge')
  assert config.dataset.resolution == 64 and config.dataset.channels == 3
  assert config.loss.name == 'hinge'
  assert config.optimizer.generator.learning_rate == 2e-4
  assert config.optimizer.discriminator.b1 == 0.5


def test_vanilla_config_defaults_to_the_ring():
  config = load_config('vanilla')
  assert config.model.name == 'mlp'
  assert config.dataset.name == 'gaussian_ring'
  config_lib.validate(config)


@pytest.mark.parametrize('arg,message', [
    ('resolution=64', "'resolution=64'"),
    ('res=big', 'res=.big. is not a valid int'),
    ('res', "'res' is not one of key=value"),
])
def test_bad_compact_arguments(arg, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    load_config('dcgan', arg)


def test_load_gives_what_the_command_line_gives(monkeypatch):
  path = os.path.join(CONFIGS, 'dcgan.py')
  argv = ['main', f'--config={path}:res=16,loss=hinge',
          '--config.batch_size=7', '--config.model.g_features=16']
  monkeypatch.setattr(sys, 'argv', argv)   # config_flags reads the overrides
  flag_values = flags.FlagValues()         # from sys.argv when defined
  config_flags.DEFINE_config_file('config', None, flag_values=flag_values)
  flag_values(argv)
  loaded = config_lib.load(f'{path}:res=16,loss=hinge', batch_size=7,
                           **{'model.g_features': 16})
  assert loaded.to_dict() == flag_values.config.to_dict()
  assert (loaded.dataset.resolution, loaded.loss.name, loaded.batch_size,
          loaded.model.g_features) == (16, 'hinge', 7, 16)
  # The argument may also be given on its own; no argument: get_config().
  assert config_lib.load(path, 'res=16,loss=hinge', batch_size=7, **{
      'model.g_features': 16}).to_dict() == loaded.to_dict()
  assert config_lib.load(path).dataset.resolution == 32


@pytest.mark.parametrize('where,overrides,message', [
    ('ghost.py', {}, r'config file .*ghost.py does not exist'),
    ('dcgan.py', {'model.g_featurez': 8},
     r'unknown config field config.model.g_featurez: config.model has'),
    ('dcgan.py', {'batch_size': 'many'}, r"config.batch_size='many'"),
])
def test_load_names_what_is_wrong(where, overrides, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    config_lib.load(os.path.join(CONFIGS, where), **overrides)


def test_parse_arg_bool():
  assert config_lib.parse_arg('flag=true', flag=False).flag is True
  assert config_lib.parse_arg('flag=0', flag=True).flag is False
  with pytest.raises(config_lib.ConfigError):
    config_lib.parse_arg('flag=maybe', flag=False)


@pytest.mark.parametrize('field,value,message', [
    ('batch_size', 0, r'config.batch_size=0 is invalid: expected an integer > 0'),
    ('num_train_steps', -1, 'config.num_train_steps'),
    ('d_steps_per_g_step', 0, 'config.d_steps_per_g_step'),
    ('g_steps_per_d_step', 0, 'config.g_steps_per_d_step'),
    ('model.latent_distribution', 'gaussian',
     r"model.latent_distribution='gaussian' is invalid: expected one of "
     r"\['normal', 'uniform'\]"),
    ('ema_decay', 1.0, r'config.ema_decay=1.0 is invalid'),
    ('seed', -1, r'config.seed=-1 is invalid: expected an integer in '
                 r'\[0, 2\*\*31\)'),
    ('update_order', 'simultanous',
     r"config.update_order='simultanous' is invalid: expected one of "
     r"\['alternating', 'simultaneous'\]"),
    ('loss.name', 'wgan', r"loss.name='wgan' is invalid: expected one of .*"
                          "'hinge'"),
    ('model.name', 'biggan', r"model.name='biggan' .*'dcgan'"),
    ('optimizer.generator.learning_rate', 0.0,
     'optimizer.generator.learning_rate'),
    ('optimizer.discriminator.name', 'lbfgs', 'optimizer.discriminator.name'),
    ('optimizer.generator.schedule', 'step', 'optimizer.generator.schedule'),
    ('dataset.channels', 2, 'dataset.channels=2 is invalid: expected 1 or 3'),
])
def test_validate_names_the_field_and_what_is_valid(field, value, message):
  config = tiny_dcgan_config(**{field: value})
  with pytest.raises(config_lib.ConfigError, match=message):
    config_lib.validate(config)


@pytest.mark.parametrize('overrides,message', [
    ({'dataset.resolution': 30}, 'dataset.resolution=30 cannot be produced'),
    ({'model.d_norm': 'group'}, 'model.d_norm'),
    ({'model.upsample': 'nearest'}, 'model.upsample'),
    ({'loss.name': 'hinge', 'loss.label_smoothing': 0.1},
     'label_smoothing=0.1 only applies'),
    ({'batch_size': 2000}, 'batch_size'),
])
def test_setup_rejects_what_the_pieces_cannot_do(overrides, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    experiment_lib.setup(tiny_dcgan_config(**overrides))


@pytest.mark.parametrize('setup,d_features', [('unrolled_quarter', 2),
                                              ('unrolled_half', 4)])
def test_stacked_mnist_unrolled_setups_follow_pacgan_table3(setup, d_features):
  """The authors' unrolled_GAN_experiment/D=0.25G|D=0.5G config.py."""
  config = load_config('stacked_mnist', f'setup={setup},pack=3')
  config_lib.validate(config)
  assert config.model.name == 'unrolled_dcgan'
  assert (config.model.g_features, config.model.d_features) == (8, d_features)
  assert config.model.latent_dim == 256 and config.model.pack == 3
  assert config.batch_size == 128 * 3          # 128 packs per side
  assert config.optimizer.discriminator.learning_rate == 2e-4
  assert config.optimizer.generator.learning_rate == 1e-4
  for side in ('generator', 'discriminator'):
    assert (config.optimizer[side].b1, config.optimizer[side].b2) == (0.5, 0.99)
  assert config.num_train_steps == 500_000
  assert config.eval.num_samples == 25_600
  assert config.evals.stacked_mnist == 500_000
  assert load_config('stacked_mnist', f'setup={setup},steps=10'
                     ).evals.stacked_mnist == 10


def test_stacked_mnist_veegan_setup_follows_pacgan_table2():
  """The authors' VEEGAN_experiment/{config,model}.py."""
  config = load_config('stacked_mnist', 'setup=veegan,pack=2')
  config_lib.validate(config)
  assert config.model.name == 'tf_dcgan'
  assert (config.model.g_features, config.model.d_features) == (64, 64)
  assert config.model.latent_dim == 100
  assert config.model.latent_distribution == 'uniform'
  assert config.batch_size == 64 * 2            # 64 packs per side
  assert config.g_steps_per_d_step == 2 and config.d_steps_per_g_step == 1
  for side in ('generator', 'discriminator'):
    optimizer = config.optimizer[side]
    assert (optimizer.learning_rate, optimizer.b1, optimizer.b2) == (
        2e-4, 0.5, 0.999)
  assert config.num_train_steps == 100_000       # 50 epochs of 2,000 batches
  # 128,000 fixed packs of 2 by default (the authors' data path), or
  # 128,000 triples re-paired every epoch.
  assert config.dataset.fixed_packs
  assert config.dataset.num_examples == 2 * 128_000
  assert config.eval.num_samples == 26_000
  assert config.evals.stacked_mnist == 100_000
  assert load_config('stacked_mnist', 'setup=veegan,eval_every=2000'
                     ).evals.stacked_mnist == 2000
  points = load_config('stacked_mnist', 'setup=veegan,pack=2,real=points')
  assert not points.dataset.fixed_packs
  assert points.dataset.num_examples == 128_000
  # The other setups re-pair their triples by default.
  assert not load_config('stacked_mnist', 'setup=unrolled_quarter,pack=2'
                         ).dataset.fixed_packs


@pytest.mark.parametrize('setup', ['veegan', 'unrolled_quarter', 'unrolled_half'])
def test_stacked_mnist_bn_per_call_normalises_each_pack_slot(setup):
  """bn=per_call: the originals' m generator calls per pack of m, as
  batch-norm groups; the default normalises the whole batch."""
  per_call = load_config('stacked_mnist', f'setup={setup},pack=3,bn=per_call')
  config_lib.validate(per_call)
  assert per_call.model.g_norm_groups == 3
  assert load_config('stacked_mnist', f'setup={setup},pack=3'
                     ).model.g_norm_groups == 1
  for bad in (f'setup={setup},bn=slots', 'setup=dcgan,bn=per_call'):
    with pytest.raises(config_lib.ConfigError, match='bn='):
      load_config('stacked_mnist', bad)


@pytest.mark.parametrize('order,bn,real', [
    ('alternating', 'whole', 'points'), ('simultaneous', 'per_call', 'packs')])
def test_2d_protocol_config_follows_pacgan_table1(order, bn, real):
  """The authors' synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py and
  pacgan_task.py; `order=simultaneous` is their ali_algorithm's update,
  `bn=per_call` their m generator calls of 100 per pack of m, `real=packs`
  their 100,000 real packs drawn once."""
  config = load_config('mode_collapse_2d', f'dataset=gaussian_grid,pack=3,'
                       f'order={order},bn={bn},real={real}')
  config_lib.validate(config)
  assert config.update_order == order
  assert config.model.g_norm_groups == (3 if bn == 'per_call' else 1)
  assert config.dataset.name == 'gaussian_grid'
  assert config.dataset.fixed_packs == (real == 'packs')
  assert config.dataset.num_examples == (
      300_000 if real == 'packs' else 100_000)
  assert config.batch_size == 100 * 3            # 100 packs per side
  assert config.model.pack == 3 and config.model.latent_dim == 2
  assert tuple(config.model.g_hidden) == (400,) * 4
  assert config.model.g_norm == 'batch'
  assert tuple(config.model.d_hidden) == (200,) * 3
  assert config.model.d_maxout_pieces == 5 and config.model.init_std == 0.02
  for side in ('generator', 'discriminator'):
    optimizer = config.optimizer[side]
    assert (optimizer.learning_rate, optimizer.b1) == (1e-4, 0.8)
  assert config.num_train_steps == 400_000       # 400 epochs of 1,000 steps
  assert config.eval.num_samples == 2500
  # The protocol's three pieces are the defaults.
  default = load_config('mode_collapse_2d', 'pack=3')
  assert (default.update_order, default.model.g_norm_groups,
          default.dataset.fixed_packs) == ('simultaneous', 3, True)


@pytest.mark.parametrize('arg', ['bn', 'real'])
def test_2d_protocol_unknown_option_is_one_clear_error(arg):
  with pytest.raises(config_lib.ConfigError,
                     match=f"{arg}='ghost' is invalid: expected one of"):
    load_config('mode_collapse_2d', f'{arg}=ghost')


def test_stacked_mnist_unknown_setup_is_one_clear_error():
  with pytest.raises(config_lib.ConfigError,
                     match="setup='veegan2' is invalid: expected one of"):
    load_config('stacked_mnist', 'setup=veegan2')
  with pytest.raises(config_lib.ConfigError,
                     match='eval_every=-1 is invalid: expected steps'):
    load_config('stacked_mnist', 'eval_every=-1')
  with pytest.raises(config_lib.ConfigError,
                     match='real=.packs. is invalid with setup=unrolled_half'):
    load_config('stacked_mnist', 'setup=unrolled_half,real=packs')
