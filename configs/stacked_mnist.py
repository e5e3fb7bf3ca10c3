r"""DCGAN on Stacked MNIST: 1,000 modes (three digits as R, G, B channels).

  python -m gan_jax.main --config=configs/stacked_mnist.py --workdir=/tmp/sm
  python -m gan_jax.main --config=configs/stacked_mnist.py:pack=2 ...  # PacDCGAN2

The mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018): at the end of training, 26,000 samples are labelled
channel by channel by the MNIST classifier, and the number of the 1,000
modes hit and the KL divergence of the mode histogram to uniform are logged
(`eval/stacked_modes`, `eval/stacked_kl`).

Arguments: pack (PacGAN packing degree), features (DCGAN widths), mnist
(the MNIST IDX directory), classifier (its directory, or 'auto': built
from the MNIST digits the first time and cached).
"""

from gan_jax import config_lib


def get_config(arg=None):
  """Stacked MNIST config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, pack=1, features=32,
                             mnist='../shared/data/mnist',
                             classifier='auto')
  config = config_lib.default_config()
  config.num_train_steps = 4000
  config.checkpoint_every_steps = 2000
  config.sample_every_steps = 1000
  config.model.name = 'dcgan'
  config.model.g_features = arg.features
  config.model.d_features = arg.features
  config.model.d_norm = 'batch'
  config.model.upsample = 'auto'
  config.model.pack = arg.pack
  config.dataset.name = f'stacked_mnist:{arg.mnist}'
  config.dataset.resolution = 28
  config.dataset.channels = 3
  config.dataset.num_examples = 100_000    # random digit triples
  config.eval.classifier = arg.classifier
  config.eval.num_samples = 26_000         # as in PacGAN
  config.evals.stacked_mnist = config.num_train_steps
  return config
