r"""Is the loader or the train step the bottleneck? Both measured in one run.

  python experiments/input_benchmark.py [--batches=30] [--steps=5]

Loader alone (host batches, examples/s) for
  * MNIST-shaped data: `idx:` on ../shared/data/mnist (28 px, held in memory),
  * 64 px RGB from an image folder of 2,000 JPEGs of CelebA's size (178x218,
    written here with random content), decoded, centre-cropped and resized on
    every read: the expensive case,
against the examples/s the DCGAN train step consumes at the same shapes.
Writes experiments/results/input_<backend>.json with machine, date, command.

  python experiments/input_benchmark.py --gather_only

Sources held in memory (`source.take`) are batched with one gather per
batch; this compares that with reading the same batches example by example,
for MNIST (`idx:`, batch 128) and Stacked MNIST (its VEEGAN setup's 128,000
triples, batch 128: one member of the PacDCGAN2 row). Writes
experiments/results/input_<backend>_gather.json.

  python experiments/input_benchmark.py --order

What the training loop's host side delivers for a population of 5 Stacked
MNIST seeds (each member's batch, stacked over members and over 20 steps per
dispatch, as `gan_jax.training.loop` builds them), three ways in one run:
the order of examples from grain's shuffled index (`MapDataset.shuffle`,
computed per example) with images scaled on the host (batching before
2026-11-28); the epoch permutation batching now draws with numpy, images
scaled on the host (`batching.batches`' default); the same with images left
uint8 for the device to scale (`scale=False`, what the loop now does).
Cases: PacGAN's Table 3 D = 1/4 G PacDCGAN4 (1,280,000 triples, batch 512
per member) and Table 2 PacDCGAN2 (128,000, batch 128). Writes
experiments/results/input_<backend>_order.json.
"""

import itertools
import os
import statistics
import tempfile
import time

from absl import app
from absl import flags
import common  # experiments/common.py: puts the repo on sys.path
import jax
import grain
import numpy as np
from PIL import Image

from gan_jax.data import batching
from gan_jax.data import sources
from gan_jax.data.dataset import Dataset, OneByOne
from gan_jax.data.prepare import to_model_inputs
from gan_jax.training import experiment as experiment_lib
from gan_jax.core import train_step as train_step_lib



flags.DEFINE_integer('batches', 30, 'Batches read per loader measurement.')
flags.DEFINE_integer('steps', 5, 'Train steps per timing of the step.')
flags.DEFINE_bool('gather_only', False, 'Only compare batching in-memory '
                  'sources by one gather against example by example.')
flags.DEFINE_bool('order', False, 'Only compare the host batches of a '
                  'population with grain\'s per-example shuffled index and '
                  'with the epoch permutation.')
FLAGS = flags.FLAGS


def make_jpeg_folder(directory: str, count: int = 2000) -> None:
  rng = np.random.default_rng(0)
  base = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
  for i in range(count):
    # Shifted copies of one noise image: realistic JPEG sizes, cheap to make.
    Image.fromarray(np.roll(base, i, axis=1)).save(
        os.path.join(directory, f'{i:05d}.jpg'), quality=90)


def loader_rate(dataset, batch_size: int, num_workers: int = 0) -> float:
  """Median examples/s over 3 passes of FLAGS.batches host batches."""
  rates = []
  for attempt in range(3):
    it = batching.batches(dataset, batch_size, seed=attempt,
                          start=attempt * FLAGS.batches,
                                num_workers=num_workers)
    if num_workers:   # workers start lazily: exclude their start-up
      first = next(it)
      expected = next(batching.batches(
          dataset, batch_size, seed=attempt, start=attempt * FLAGS.batches))
      assert np.array_equal(first['x'], expected['x']), 'workers changed data'
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
      next(it)
    rates.append(FLAGS.batches * batch_size / (time.perf_counter() - start))
  return statistics.median(rates)


def gather_comparison() -> list[dict]:
  rows = []
  for label, name, channels in (
      ('MNIST, idx (in memory)', f'idx:{common.SHARED_MNIST}', 1),
      ('Stacked MNIST, 128,000 triples', f'stacked_mnist:{common.SHARED_MNIST}',
       3)):
    config = common.dcgan_config(28, 128, dataset=name, channels=channels)
    config.dataset.num_examples = 128_000
    source = sources.load_dataset(config.dataset).domains['x']
    rates = {mode: loader_rate(Dataset({'x': wrapped}), 128)
             for mode, wrapped in (('gather', source),
                                   ('example by example', OneByOne(source)))}
    rows.append(dict(case=label, batch_size=128,
                     gather_examples_per_sec=rates['gather'],
                     one_by_one_examples_per_sec=rates['example by example'],
                     speedup=rates['gather'] / rates['example by example']))
    print(f'{label}: one gather per batch {rates["gather"]:,.0f} ex/s | '
          f'example by example {rates["example by example"]:,.0f} ex/s | '
          f'{rows[-1]["speedup"]:.1f}x', flush=True)
  return rows


def grain_shuffled(source, batch_size: int, seed: int):
  """Batches in the order of grain's shuffled index (batching before)."""
  return (grain.MapDataset.range(len(source)).shuffle(seed=seed)
          .batch(batch_size, drop_remainder=True)
          .map(lambda indices: to_model_inputs(source.take(indices)))
          .repeat())


def uint8_batches(source, batch_size: int, seed: int):
  return batching.domain_batches(source, batch_size, seed, scale=False)


def population_steps_per_sec(streams, dispatches: int = 3,
                             length: int = 20) -> float:
  """Host steps/s of (length, K, batch, ...) dispatches, as the loop makes."""
  def members():
    for step in itertools.count():
      group = [stream[step] for stream in streams]
      yield jax.tree.map(lambda *leaves: np.stack(leaves), *group)
  it = batching.stack_batches(members(), itertools.repeat(length))
  next(it)
  start = time.perf_counter()
  for _ in range(dispatches):
    next(it)
  return dispatches * length / (time.perf_counter() - start)


def order_comparison() -> list[dict]:
  rows = []
  for label, triples, batch_size in (
      ('Table 3, D = 1/4 G, PacDCGAN4', 1_280_000, 512),
      ('Table 2, VEEGAN setup, PacDCGAN2', 128_000, 128)):
    config = common.dcgan_config(28, 128, channels=3,
                                 dataset=f'stacked_mnist:{common.SHARED_MNIST}')
    config.dataset.num_examples = triples
    source = sources.load_dataset(config.dataset).domains['x']
    ways = (('grain_index', grain_shuffled),
            ('epoch_permutation', batching.domain_batches),
            ('epoch_permutation_uint8', uint8_batches))
    rates = {}
    for _ in range(2):   # alternating, best of two
      for name, make in ways:
        rate = population_steps_per_sec(
            [make(source, batch_size, seed) for seed in range(5)])
        rates[name] = max(rates.get(name, 0.0), rate)
    rows.append(dict(case=label, triples=triples, members=5,
                     batch_size=batch_size, steps_per_dispatch=20,
                     **{f'{name}_steps_per_sec': rate
                        for name, rate in rates.items()}))
    print(f'{label}, 5 seeds x {batch_size}, host steps/s: ' + ' | '.join(
        f'{name} {rate:.1f}' for name, rate in rates.items()), flush=True)
  return rows


def step_rate(config) -> float:
  """Median examples/s of the jitted DCGAN train step (after compiling)."""
  exp = experiment_lib.setup(config)
  batch = jax.device_put(next(batching.batches(
      exp.dataset, exp.step_batch_size, config.seed)))
  step = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx),
                 donate_argnums=0)
  state, _ = step(exp.initial_state, batch)
  jax.block_until_ready(state)
  times = []
  for _ in range(3):
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
      state, metrics = step(state, batch)
    jax.block_until_ready((state, metrics))
    times.append((time.perf_counter() - start) / FLAGS.steps)
  return config.batch_size / statistics.median(times)


def main(argv):
  del argv
  if FLAGS.order:
    common.write_results('input', FLAGS, ('order',), order_comparison(),
                         suffix='order')
    return
  if FLAGS.gather_only:
    common.write_results('input', FLAGS, ('batches', 'gather_only'),
                         gather_comparison(), suffix='gather')
    return
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    make_jpeg_folder(folder)
    cases = [
        ('MNIST-shaped, idx (in memory)', common.dcgan_config(
             28, 128, dataset=f'idx:{common.SHARED_MNIST}')),
        ('64 px RGB, JPEG folder (decode+crop+resize per read)',
         common.dcgan_config(64, 64, dataset=f'folder:{folder}',
                            channels=3)),
    ]
    for label, config in cases:
      dataset = sources.load_dataset(config.dataset)
      # Loaders first: XLA's CPU threads stay busy for a while after steps.
      loaders = {w: loader_rate(dataset, config.batch_size, w) for w in (0, 2)}
      consumed = step_rate(config)
      for workers, loader in loaders.items():
        rows.append(dict(case=label, dataset=config.dataset.name.split(':')[0],
                         resolution=config.dataset.resolution,
                         batch_size=config.batch_size, num_workers=workers,
                         loader_examples_per_sec=loader,
                         train_step_examples_per_sec=consumed,
                         loader_headroom=loader / consumed))
        print(f'{label}, num_workers={workers}: loader {loader:,.0f} ex/s | '
              f'DCGAN step consumes {consumed:,.0f} ex/s | headroom '
              f'{loader / consumed:.1f}x', flush=True)

  common.write_results('input', FLAGS, ('batches', 'steps'), rows)


if __name__ == '__main__':
  app.run(main)
