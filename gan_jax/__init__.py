"""gan_jax: generative adversarial networks in JAX/Flax.

Modules in the order data flows through them:
  input_pipeline -> models -> losses -> variants -> train_step -> train
  (checkpoint, summary: what training writes; config_lib: what it reads)
"""

__version__ = '0.1.0'
