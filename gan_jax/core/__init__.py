"""The GAN game itself: losses, optimizers, the state pytree, the train step.

Nothing here knows a dataset, a network or a file: `train_step` is written
against the variant contract (`gan_jax.variants.base`).
"""
