r"""SNGAN (Miyato et al. 2018): ResNet G and D, spectral norm in D, hinge loss.

  python -m gan_jax.main --config=configs/sngan.py --workdir=/tmp/sngan
  python -m gan_jax.main --config=configs/sngan.py:conditional=1 ...  # + projection D
  python -m gan_jax.main --config=configs/sngan.py:dataset=tfds:cifar10,channels=3,steps=50000 ...

The CIFAR-10 setting of the paper and of the authors' sngan_projection code
(configs/sn_cifar10_*.yml): G of 256 channels (g_features 64 x 4), D of 128
(d_features 64 x 2), z in R^128, batch 64, hinge loss, Adam 2e-4 with beta1 0
and beta2 0.9, n_dis = 5 D updates per G update, the learning rate decayed
linearly to 0 over the 50,000 G updates. The conditional form uses
categorical conditional batch norm in G and a projection discriminator
(Miyato & Koyama 2018). The embedded default trains on the digits at 32 px
for `steps` G updates (1,000); the paper's length is steps=50000.

Arguments: dataset, res (32, 64, 128), channels, conditional, steps,
attention (SAGAN self-attention at that feature-map side; 0 = none).
"""

from gan_jax import config_lib


def get_config(arg=None):
  """SNGAN config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, dataset='digits', res=32, channels=1,
                             conditional=False, steps=1000, attention=0)
  config = config_lib.default_config()
  config.batch_size = 64
  config.num_train_steps = arg.steps
  config.d_steps_per_g_step = 5            # n_dis
  config.log_every_steps = 50
  config.checkpoint_every_steps = max(arg.steps // 4, 1)
  config.sample_every_steps = max(arg.steps // 4, 1)

  config.model.name = 'resnet'
  config.model.latent_dim = 128
  config.model.g_features = 64             # 32 px: 4 x 64 = 256 channels
  config.model.d_features = 64             # 32 px: 2 x 64 = 128 channels
  config.model.conditional = arg.conditional
  config.model.d_spectral_norm = True
  config.model.g_spectral_norm = False
  config.model.attention_resolution = arg.attention

  config.loss.name = 'hinge'
  for side in ('generator', 'discriminator'):
    config.optimizer[side].learning_rate = 2e-4
    config.optimizer[side].b1 = 0.0
    config.optimizer[side].b2 = 0.9
    config.optimizer[side].schedule = 'linear_decay'
    config.optimizer[side].decay_start_fraction = 0.0
  if arg.conditional:
    config.num_samples = 80                # 10 classes x 8 columns
    config.evals.conditional_accuracy = max(arg.steps // 4, 1)
  for metric in ('fid', 'kid', 'precision_recall'):
    config.evals[metric] = max(arg.steps // 4, 1)
  config.eval.num_samples = 2000

  config.dataset.name = arg.dataset
  config.dataset.resolution = arg.res
  config.dataset.channels = arg.channels
  return config
