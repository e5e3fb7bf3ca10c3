r"""The original GAN (Goodfellow et al. 2014): MLP generator and discriminator.

  python -m gan_jax.main --config=configs/vanilla.py --workdir=/tmp/ring
  python -m gan_jax.main --config=configs/vanilla.py:dataset=gaussian_grid ...
  python -m gan_jax.main --config=configs/vanilla.py:pack=4 ...   # PacGAN4
  python -m gan_jax.main --config=configs/vanilla.py:dataset=digits,res=28 ...

By default it learns the 2-D ring of 8 Gaussians, the mode-collapse benchmark
of VEEGAN / PacGAN; their networks: G with 4 hidden ReLU layers of 400 units,
D with 3 hidden layers of 200 units.
"""

from gan_jax import config_lib


def get_config(arg=None):
  """Vanilla GAN config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, dataset='gaussian_ring', res=28,
                             loss='non_saturating', pack=1)
  config = config_lib.default_config()
  config.batch_size = 256
  config.num_train_steps = 5000
  config.log_every_steps = 250
  config.checkpoint_every_steps = 1000
  config.sample_every_steps = 1000

  config.model.name = 'mlp'
  config.model.latent_dim = 2 if arg.dataset.startswith('gaussian') else 64
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.d_hidden = (200, 200, 200)
  config.model.g_norm = 'none'         # 'batch': PacGAN's batch-normed G
  config.model.d_maxout_pieces = 0     # >= 2: maxout D (PacGAN: 5)
  config.model.init_std = 0.0          # > 0: N(0, std^2) weights (PacGAN: 0.02)
  config.model.pack = arg.pack     # PacGAN: D judges `pack` samples jointly

  config.loss.name = arg.loss
  # Two time-scale update rule (Heusel et al. 2017): D learns 4x faster than
  # G. Chosen after a few short exploratory runs on the 25-Gaussian grid
  # (not kept as a benchmark); its results are in docs/results.md.
  config.optimizer.generator.learning_rate = 1e-4
  config.optimizer.discriminator.learning_rate = 4e-4
  config.optimizer.generator.b1 = 0.5
  config.optimizer.discriminator.b1 = 0.5

  config.dataset.name = arg.dataset
  config.dataset.resolution = arg.res
  config.dataset.channels = 1
  # Point data is drawn as a scatter plot of this many generated samples.
  config.num_samples = 1000 if arg.dataset.startswith('gaussian') else 64
  if not arg.dataset.startswith('gaussian'):   # images: FID and friends
    for metric in ('fid', 'kid', 'precision_recall'):
      config.evals[metric] = 1000
    config.eval.num_samples = 2000
  if arg.dataset.startswith('gaussian'):
    config.num_train_steps = 8000
    config.checkpoint_every_steps = 4000
    # Mode coverage of 2,500 samples (the PacGAN protocol) every 1,000 steps.
    config.evals.mode_coverage = 1000
    config.eval.num_samples = 2500
  return config
