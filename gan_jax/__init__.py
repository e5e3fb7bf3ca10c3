"""gan_jax: generative adversarial networks in JAX/Flax.

Subpackages in the order data flows through them:

  data/      dataset name -> sources -> resumable batches on the device
  models/    Flax generator/discriminator pairs by config.model.name
  variants/  what a GAN supplies to the shared step (standard, cyclegan)
  core/      losses, optimizers, the GANState pytree, the one train step
  training/  the loop and its hooks: logging, checkpoints, samples, evals
  eval/      samples -> features -> metrics

config_lib composes each component's config section; errors holds what the
commands print instead of a traceback. Commands: main, evaluate, sweep,
classifier (`python -m gan_jax.<command>`).
"""

__version__ = '0.1.0'
