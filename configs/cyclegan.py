r"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

  python -m gan_jax.main --config=configs/cyclegan.py --workdir=/tmp/cyclegan
  python -m gan_jax.main --config=configs/cyclegan.py:dataset=tfds:cycle_gan/horse2zebra,res=256 ...
  python -m gan_jax.main --config=configs/cyclegan.py:dataset=folder:/data/horse2zebra,res=128 ...

The embedded default translates digits into inverted, transposed digits
(digits_unpaired), a task whose right answer is known, at 32 px with narrower
networks (features=32) so that it trains on a CPU. The paper's settings:
res=256 (9 residual blocks), features=64, batch size 1, 200 epochs with the
learning rate decayed linearly to zero over the second half.
"""

from gan_jax import config_lib


def get_config(arg=None):
  """CycleGAN config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, dataset='digits_unpaired', res=32,
                             features=32, channels=1)
  config = config_lib.default_config()
  config.batch_size = 8
  config.num_train_steps = 2000
  config.log_every_steps = 100
  config.num_samples = 8             # columns of a, G(a), F(G(a)), b, ...
  config.pool_size = 50              # image history per discriminator
  config.model.name = 'cyclegan'
  config.model.latent_dim = 1        # unused: CycleGAN maps images to images
  config.model.g_features = arg.features
  config.model.d_features = arg.features
  config.model.num_blocks = 0        # 0: 6 blocks up to 128 px, 9 at 256
  # auto: sub-pixel on CPU, transposed conv elsewhere (same math, same params)
  config.model.upsample = 'auto'
  config.loss.name = 'least_squares'
  config.loss.cycle_weight = 10.0    # lambda
  config.loss.identity_weight = 0.5  # times lambda
  for side in ('generator', 'discriminator'):
    # Adam 2e-4, beta1 0.5; constant, then linear decay to 0 over the 2nd half.
    config.optimizer[side].schedule = 'linear_decay'
    config.optimizer[side].decay_start_fraction = 0.5
  config.dataset.name = arg.dataset
  if arg.dataset == 'digits_unpaired':   # the known translation's error
    config.evals.translation_error = 500
  config.dataset.resolution = arg.res
  config.dataset.channels = arg.channels
  return config
