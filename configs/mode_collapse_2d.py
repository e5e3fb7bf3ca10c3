r"""The 2-D mode-collapse benchmarks under PacGAN's published protocol.

  python -m gan_jax.main --config=configs/mode_collapse_2d.py:dataset=gaussian_grid,pack=4 \
      --workdir=/tmp/pacgan4_grid
  python -m gan_jax.main --config=configs/mode_collapse_2d.py:pack=2 ...   # the ring

Lin et al. 2018 (PacGAN), read from the authors' code
(synthetic_data_experiments/2D{Grid,Ring}_GAN&PacGAN/{config,pacgan_task}.py
in fjxmlzn/PacGAN):
  data     grid: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05; ring: 8 on the
           unit circle, std 0.01; 100,000 training points
  G        z in R^2 ~ N(0, I); 4 hidden layers of 400, batch norm + ReLU, a
           linear output; weights N(0, 0.02), zero biases
  D        3 maxout layers of 200 units with 5 pieces, a linear logit;
           weights N(0, 0.02)
  packing  D reads m samples concatenated (2m inputs) and scores 100 real and
           100 generated packs per step: batch_size = 100 m samples
  training the non-saturating GAN loss; Adam lr 1e-4, beta1 0.8 on both
           sides; 400 epochs of 1,000 steps = 400,000 steps
  metric   2,500 samples; high quality within 3 std of the nearest mode;
           `eval/modes_pacgan`: modes with at least one high-quality sample
           (the authors' rule), `eval/modes`: with at least 20 (gan_jax's);
           `eval/reverse_kl_pacgan`: KL of the high-quality samples' mode
           histogram to uniform

Three pieces of the authors' run that gan_jax's other configs do
differently are options; their defaults follow the authors' code, the
other values reproduce the rows docs/results.md measured before they were
the defaults (those rows' commands name them):
  order    simultaneous (default): D and G updated from the same forward
           pass (ALI's `ali_algorithm`, which PacGAN's code runs;
           `config.update_order`); alternating: G's loss through the
           updated D, gan_jax's usual step.
  bn       per_call (default): the authors' G draws a pack's m samples in m
           calls of 100, each batch-normalised on its own
           (`config.model.g_norm_groups = m`); whole: the 100 m samples
           normalised together.
  real     packs (default): the authors draw 100,000 real packs once
           (100,000 m points) and reshuffle them as packs every epoch
           (`config.dataset.fixed_packs`); points: 100,000 points re-paired
           every epoch. Ten seeds of PacGAN2 on the grid showed no
           difference between the two to 50,000 steps (docs/results.md,
           "gan_jax on the authors' fixed packs").
With pack=1 only `order` changes anything.
A PyTorch replica of the protocol (experiments/torch_pacgan_2d.py) trains
three of the combinations (both, neither, the batch norm alone); the
results of each are in docs/results.md ("Is the late start ours?").
Arguments: dataset (gaussian_ring | gaussian_grid), pack (1 = the GAN row),
steps (400,000), eval_every (10,000), order (simultaneous | alternating),
bn (per_call | whole), real (packs | points).
"""

from gan_jax import config_lib
from gan_jax.errors import ConfigError

BATCH_NORMS = ('whole', 'per_call')
REAL_DATA = ('points', 'packs')


def get_config(arg=None):
  """PacGAN's 2-D protocol; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, dataset='gaussian_ring', pack=1,
                             steps=400_000, eval_every=10_000,
                             order='simultaneous', bn='per_call',
                             real='packs')
  for name, valid in (('bn', BATCH_NORMS), ('real', REAL_DATA)):
    if arg[name] not in valid:
      raise ConfigError(f'configs/mode_collapse_2d.py: {name}={arg[name]!r} '
                        f'is invalid: expected one of {list(valid)}')
  config = config_lib.default_config()
  config.batch_size = 100 * arg.pack
  config.num_train_steps = arg.steps
  config.log_every_steps = min(1000, arg.steps)
  config.checkpoint_every_steps = min(20_000, arg.steps)
  config.sample_every_steps = min(20_000, arg.steps)
  config.num_samples = 2500

  config.model.name = 'mlp'
  config.model.latent_dim = 2
  config.model.pack = arg.pack
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.d_hidden = (200, 200, 200)
  config.model.g_norm = 'batch'
  config.model.g_norm_groups = arg.pack if arg.bn == 'per_call' else 1
  config.model.d_maxout_pieces = 5
  config.model.init_std = 0.02

  config.loss.name = 'non_saturating'
  config.update_order = arg.order
  for side in ('generator', 'discriminator'):
    config.optimizer[side].learning_rate = 1e-4
    config.optimizer[side].b1 = 0.8
    config.optimizer[side].b2 = 0.999

  config.dataset.name = arg.dataset
  # 100,000 real packs (the authors') or 100,000 points re-paired.
  config.dataset.fixed_packs = arg.real == 'packs'
  config.dataset.num_examples = 100_000 * (
      arg.pack if config.dataset.fixed_packs else 1)
  config.evals.mode_coverage = min(arg.eval_every, arg.steps)
  config.eval.num_samples = 2500
  return config
