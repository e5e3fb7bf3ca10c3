r"""Conditional GAN (Mirza & Osindero 2014): G and D both see the class label.

  python -m gan_jax.main --config=configs/cgan.py --workdir=/tmp/cgan
  python -m gan_jax.main --config=configs/cgan.py:arch=mlp ...   # the paper's MLPs
  python -m gan_jax.main --config=configs/cgan.py \
      --config.dataset.name=idx:../shared/data/mnist --workdir=/tmp/cgan_mnist

Arguments: arch (dcgan: DCGAN body with a label embedding in G and a projection
discriminator, Miyato & Koyama 2018; mlp: one-hot labels concatenated to z and
x), res, dataset. Sample grids have one row per class, one fixed z per column.
"""

from gan_jax import config_lib


def get_config(arg=None):
  """Conditional GAN config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, arch='dcgan', res=28, dataset='digits')
  config = config_lib.default_config()
  config.model.conditional = True
  config.model.name = arg.arch
  if arg.arch == 'mlp':
    # Mirza & Osindero used 200/1000 ReLU units in G and maxout in D.
    config.model.g_hidden = (256, 512, 1024)
    config.model.d_hidden = (512, 256)
  else:
    config.model.g_features = 64
    config.model.d_features = 64
    config.model.d_norm = 'batch'
    config.model.upsample = 'auto'
  config.num_train_steps = 3000
  config.num_samples = 80          # 10 classes x 8 columns
  # FID on the data's classifier features, and how often a sample is of the
  # class it was asked for, every 500 steps (2,000 samples).
  for metric in ('fid', 'kid', 'conditional_accuracy'):
    config.evals[metric] = 500
  config.eval.num_samples = 2000
  config.dataset.name = arg.dataset
  config.dataset.resolution = arg.res
  return config
