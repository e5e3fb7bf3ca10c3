r"""DCGAN on Stacked MNIST: 1,000 modes (three digits as R, G, B channels).

  python -m gan_jax.main --config=configs/stacked_mnist.py --workdir=/tmp/sm
  python -m gan_jax.main --config=configs/stacked_mnist.py:pack=2 ...  # PacDCGAN2
  # PacGAN's Table 2 setup (VEEGAN's: DCGAN-tensorflow, 2 G updates per D):
  python -m gan_jax.main --config=configs/stacked_mnist.py:setup=veegan,pack=2 ...
  # PacGAN's Table 3 setups (Unrolled GAN's networks, D = 1/4 or 1/2 of G):
  python -m gan_jax.main \
      --config=configs/stacked_mnist.py:setup=unrolled_quarter,pack=4 ...
  python -m gan_jax.main \
      --config=configs/stacked_mnist.py:setup=unrolled_half,pack=3 ...

The mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018): at the end of training, samples are labelled channel by
channel by the MNIST classifier, and the number of the 1,000 modes hit and
the KL divergence of the mode histogram to uniform are logged
(`eval/stacked_modes`, `eval/stacked_kl`).

Setups (`setup=`):
  dcgan             gan_jax's DCGAN at width `features` (32), 4,000 steps,
                    26,000 evaluation samples: a quick look, no paper's
                    protocol.
  veegan            PacGAN's Table 2, VEEGAN's setup (read from the authors'
                    code, fjxmlzn/PacGAN stacked_MNIST_experiments/
                    VEEGAN_experiment/{config,model,pacgan_task}.py): the
                    `tf_dcgan` networks (DCGAN-tensorflow: 5 x 5 kernels,
                    G 512-256-128-64, D 64-128-256-512); z in R^100 ~
                    U(-1, 1); 64 packs per side per step (batch 64 m); the
                    non-saturating loss; Adam 2e-4, beta (0.5, 0.999) on both
                    sides; two G updates per D update on the same latents
                    (`g_steps_per_d_step`); 128,000 digit triples, 50 epochs
                    = 100,000 steps; 26,000 evaluation samples. Published
                    (10 runs): DCGAN 99 modes, KL 3.40; PacDCGAN2 1,000
                    modes, KL 0.06.
  unrolled_quarter  PacGAN's Table 3, "D = 1/4 G" (read from the authors'
  unrolled_half     code, fjxmlzn/PacGAN stacked_MNIST_experiments/
                    unrolled_GAN_experiment/D=0.25G|D=0.5G/{config,model}.py):
                    the `unrolled_dcgan` networks (G 64-32-16-8 channels, D
                    2-4-8 or 4-8-16); z in R^256 ~ N(0, I); 128 packs per
                    side per step (batch 128 m); the non-saturating loss;
                    Adam beta (0.5, 0.99), D at 2e-4 and G at 1e-4;
                    500,000 steps; 25,600 evaluation samples. Published
                    (mean over runs): D = 1/4 G: DCGAN 78.5 modes, KL 5.21;
                    PacDCGAN4 667.4, 1.81. D = 1/2 G: DCGAN 487.7, 2.24;
                    PacDCGAN3 866.6, 0.90.
Differences from the originals. Unrolled setups: they draw fresh digit
triples for every batch from MNIST's 60,000 training digits; here
`num_examples` (1,280,000) random triples of the digits in `mnist` are drawn
once and reshuffled every epoch (the 10,000-digit training subset of
../shared/data/mnist still allows 10^12 triples); their sampler keeps G's
batch norm in training mode at evaluation, gan_jax samples with the running
statistics; their G draws a pack's m samples in m calls of 128, each
batch-normalised on its own (`bn=per_call`; default here: one call of
128 m). VEEGAN setup: it draws its 128,000 triples once from all 70,000
MNIST digits, packs them once into fixed packs and visits them in the same
order every epoch, here the triples come from the digits in `mnist` and the
batches are reshuffled every epoch (`real=packs`, this setup's default,
keeps fixed packs too: 128,000 m triples, m consecutive ones a pack,
reshuffled as packs; the authors' 128,000 packs reuse their 128,000
triples; `real=points` re-pairs 128,000 triples every epoch, as Table 2's
rows in docs/results.md were measured); it feeds D real
images scaled to [0, 1] against a tanh G in [-1, 1], gan_jax feeds both in
[-1, 1]; its G runs each pack slot's latents through batch norm in a
separate call, gan_jax in one call of 64 m (`bn=per_call`: per slot).

Arguments: setup (above), pack (PacGAN packing degree), bn (whole, the
default: G's batch norm over the whole batch of 64 m / 128 m, as every row in
docs/results.md was measured; per_call, veegan and unrolled setups: over each
pack slot's 64 / 128 samples on their own, `model.g_norm_groups = pack`, as
the originals' m generator calls; not yet measured at length), real (packs: fixed
real packs, setup=veegan only and its default; points: triples re-paired
into packs every epoch, the other setups' default), features (DCGAN
widths, setup=dcgan), steps (default by setup), eval_every (steps between
the mode evaluations; 0, the default: only at the end), mnist (the MNIST IDX
directory), classifier (its directory, or 'auto': built from the MNIST
digits the first time and cached).
"""

from gan_jax import config_lib
from gan_jax.errors import ConfigError

_UNROLLED_D_FEATURES = {'unrolled_quarter': 2, 'unrolled_half': 4}
_SETUPS = ('dcgan', 'veegan', *_UNROLLED_D_FEATURES)


def get_config(arg=None):
  """Stacked MNIST config; `arg` is 'key=value,...' with the keys below."""
  arg = config_lib.parse_arg(arg, setup='dcgan', pack=1, features=32, steps=0,
                             eval_every=0, mnist='../shared/data/mnist',
                             classifier='auto', real='', bn='whole')
  if arg.setup not in _SETUPS:
    raise ConfigError(
        f'configs/stacked_mnist.py: setup={arg.setup!r} is invalid: expected '
        f'one of {list(_SETUPS)}')
  # The setup's protocol: the authors' fixed packs for VEEGAN's setup.
  arg.real = arg.real or ('packs' if arg.setup == 'veegan' else 'points')
  if arg.real not in ('points', 'packs') or (
      arg.real == 'packs' and arg.setup != 'veegan'):
    raise ConfigError(
        f'configs/stacked_mnist.py: real={arg.real!r} is invalid with '
        f'setup={arg.setup}: expected points, or packs with setup=veegan '
        '(the protocol that fixes its real packs; the unrolled setups draw '
        'fresh triples every batch)')
  if arg.bn not in ('whole', 'per_call') or (
      arg.bn == 'per_call' and arg.setup == 'dcgan'):
    raise ConfigError(
        f'configs/stacked_mnist.py: bn={arg.bn!r} is invalid with '
        f'setup={arg.setup}: expected whole, or per_call with the veegan and '
        'unrolled setups (their generators batch-normalise per group)')
  config = config_lib.default_config()
  config.model.pack = arg.pack
  config.dataset.name = f'stacked_mnist:{arg.mnist}'
  config.dataset.resolution = 28
  config.dataset.channels = 3
  config.eval.classifier = arg.classifier
  if arg.setup == 'dcgan':
    config.num_train_steps = arg.steps or 4000
    config.checkpoint_every_steps = min(2000, config.num_train_steps)
    config.sample_every_steps = min(1000, config.num_train_steps)
    config.model.name = 'dcgan'
    config.model.g_features = arg.features
    config.model.d_features = arg.features
    config.model.d_norm = 'batch'
    config.model.upsample = 'auto'
    config.dataset.num_examples = 100_000    # random digit triples
    config.eval.num_samples = 26_000         # as in PacGAN
  elif arg.setup == 'veegan':
    config.num_train_steps = arg.steps or 100_000   # 50 epochs of 2,000
    config.batch_size = 64 * arg.pack        # 64 packs of `pack` samples
    config.g_steps_per_d_step = 2
    config.log_every_steps = min(500, config.num_train_steps)
    config.checkpoint_every_steps = min(10_000, config.num_train_steps)
    config.sample_every_steps = min(10_000, config.num_train_steps)
    config.model.name = 'tf_dcgan'
    config.model.latent_dim = 100
    config.model.latent_distribution = 'uniform'
    config.model.g_features = 64
    config.model.d_features = 64
    config.loss.name = 'non_saturating'
    for side in ('generator', 'discriminator'):
      config.optimizer[side].learning_rate = 2e-4
      config.optimizer[side].b1 = 0.5
      config.optimizer[side].b2 = 0.999
    # Random digit triples: 128,000 as theirs, or 128,000 fixed packs.
    config.dataset.fixed_packs = arg.real == 'packs'
    config.dataset.num_examples = 128_000 * (
        arg.pack if config.dataset.fixed_packs else 1)
    config.eval.num_samples = 26_000
  else:
    config.num_train_steps = arg.steps or 500_000
    config.batch_size = 128 * arg.pack       # 128 packs of `pack` samples
    config.log_every_steps = min(1000, config.num_train_steps)
    config.checkpoint_every_steps = min(20_000, config.num_train_steps)
    config.sample_every_steps = min(20_000, config.num_train_steps)
    config.model.name = 'unrolled_dcgan'
    config.model.latent_dim = 256
    config.model.g_features = 8
    config.model.d_features = _UNROLLED_D_FEATURES[arg.setup]
    config.loss.name = 'non_saturating'
    for side, rate in (('generator', 1e-4), ('discriminator', 2e-4)):
      config.optimizer[side].learning_rate = rate
      config.optimizer[side].b1 = 0.5
      config.optimizer[side].b2 = 0.99
    config.dataset.num_examples = 1_280_000
    config.eval.num_samples = 25_600         # as in the authors' code
  if arg.setup != 'dcgan':
    # per_call: each pack slot's samples normalised on their own, as the
    # originals' k generator calls of 64 / 128 latents.
    config.model.g_norm_groups = arg.pack if arg.bn == 'per_call' else 1
  if arg.eval_every < 0:
    raise ConfigError(f'configs/stacked_mnist.py: eval_every={arg.eval_every} '
                      'is invalid: expected steps between evaluations, or 0 '
                      'for one at the end')
  config.evals.stacked_mnist = min(arg.eval_every or config.num_train_steps,
                                   config.num_train_steps)
  return config
