r"""DCGAN (Radford et al. 2015) on the embedded digits by default.

  python -m gan_jax.main --config=configs/dcgan.py --workdir=/tmp/dcgan
  python -m gan_jax.main --config=configs/dcgan.py:res=64,channels=3 ...

Arguments (after the colon): res (resolution: 28, 32, 64, ...), channels
(1 or 3), dataset (a dataset name, see gan_jax.data.sources), loss.
"""

from gan_jax import config_lib


def get_config(arg=None):
  """DCGAN config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, res=32, channels=1, dataset='digits',
                             loss='non_saturating')
  # The defaults are DCGAN's: batch 64, Adam 2e-4 with beta1 0.5 on both
  # sides, 1,500 steps (recognisable digits on the embedded data).
  config = config_lib.default_config()
  config.model.name = 'dcgan'
  config.model.latent_dim = 100
  config.model.g_features = 64     # ngf: channels before G's output layer
  config.model.d_features = 64     # ndf: channels of D's first layer
  config.model.d_norm = 'batch'    # batch | layer | none (layer for WGAN-GP)
  # auto: sub-pixel on CPU, transposed conv elsewhere (same math, same params)
  config.model.upsample = 'auto'

  config.loss.name = arg.loss
  # A quality metric in every run, with no download: FID, KID and
  # precision/recall of 2,000 samples on the features of a classifier of the
  # data (built from its labels the first time and cached), every 250 steps.
  for metric in ('fid', 'kid', 'precision_recall'):
    config.evals[metric] = 250
  config.eval.num_samples = 2000
  config.dataset.name = arg.dataset
  config.dataset.resolution = arg.res
  config.dataset.channels = arg.channels
  return config
