"""What the benchmark scripts share: the DCGAN config and the results file."""

import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from gan_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

# Real MNIST in IDX format beside the repository (see ../shared/data/README.md).
SHARED_MNIST = os.path.join(os.path.dirname(REPO), 'shared', 'data', 'mnist')


def time_compiled(compiled, state, batch, steps: int, repeats: int) -> float:
  """Median seconds per call of a compiled train step over `repeats` timed
  runs of `steps` calls each, after one warm-up call (state is donated)."""
  state, _ = compiled(state, batch)
  jax.block_until_ready(state)
  seconds = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      state, metrics = compiled(state, batch)
    jax.block_until_ready((state, metrics))
    seconds.append((time.perf_counter() - start) / steps)
  return statistics.median(seconds)


def dcgan_config(resolution: int, batch_size: int, upsample: str = 'auto',
                 dataset: str = 'digits', channels: int = 1):
  """pytorch/examples-sized DCGAN (ngf = ndf = 64) for a benchmark."""
  config = config_lib.default_config()
  config.batch_size = batch_size
  config.model.name = 'dcgan'
  config.model.g_features = 64
  config.model.d_features = 64
  config.model.d_norm = 'batch'
  config.model.upsample = upsample
  config.dataset.name = dataset
  config.dataset.resolution = resolution
  config.dataset.channels = channels
  return config


def cpu_model() -> str:
  """The CPU's model name (from /proc/cpuinfo where there is one)."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def read_json(path: str) -> dict:
  with open(path) as f:
    return json.load(f)


def update_doc_section(doc: str, section: str, text: str) -> str:
  """Replaces docs/<doc>'s text between the markers of `section`.

  The markers are `<!-- <section>:begin -->` and `<!-- <section>:end -->`;
  they are appended to the file when it does not have them yet.
  """
  path = os.path.join(REPO, 'docs', doc)
  begin, end = f'<!-- {section}:begin -->', f'<!-- {section}:end -->'
  content = ''
  if os.path.exists(path):
    with open(path) as f:
      content = f.read()
  block = f'{begin}\n{text}\n{end}'
  if begin in content and end in content:
    head, rest = content.split(begin, 1)
    content = head + block + rest.split(end, 1)[1]
  else:
    content = content.rstrip('\n') + '\n\n' + block + '\n'
  with open(path, 'w') as f:
    f.write(content)
  print('updated', path, 'section', section)
  return path


def load_config(name: str, arg: str | None = None, **overrides):
  """configs/<name>.py as `--config=configs/<name>.py:arg` gives it, with
  dotted overrides as `--config.<field>=<value>` (config_lib.load)."""
  return config_lib.load(os.path.join(REPO, 'configs', f'{name}.py'), arg,
                         **overrides)


def _flag_text(value) -> str:
  return ','.join(map(str, value)) if isinstance(value, list) else str(value)


def write_results(name: str, flag_values, flag_names, results,
                  suffix: str = '') -> str:
  """Writes experiments/results/<name>_<backend>[_suffix].json, provenance too."""
  record = dict(
      date=datetime.date.today().isoformat(),
      command=f'python experiments/{name}_benchmark.py ' + ' '.join(
          f'--{k}={_flag_text(getattr(flag_values, k))}' for k in flag_names),
      backend=jax.default_backend(),
      devices=[str(d) for d in jax.devices()],
      machine=f'{cpu_model()}, {os.cpu_count()} cores',
      jax=jax.__version__, results=results)
  directory = os.path.join(REPO, 'experiments', 'results')
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, f'{name}_{jax.default_backend()}'
                      f'{"_" + suffix if suffix else ""}.json')
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)
  print('wrote', path)
  return path


def check_against_pytorch(config, torch_dcgan, torch, steps: int = 3,
                          seed: int = 0) -> dict:
  """Runs gan_jax's and the PyTorch reference's DCGAN step on equal inputs.

  Both start from the same parameters (gan_jax's initialisation copied into
  PyTorch), see the same real batch and the same latent noise, and take
  `steps` training steps. Returns the parameter counts of both and each
  step's (jax, torch) d_loss and g_loss: the step-0 losses test the
  networks and objectives, the later ones the optimizer updates too.
  """
  # pylint: disable=g-import-not-at-top
  import numpy as np
  from gan_jax.core import train_step as train_step_lib
  from gan_jax.data import batching
  from gan_jax.training import experiment as experiment_lib
  # pylint: enable=g-import-not-at-top
  exp = experiment_lib.setup(config)
  batch = next(batching.batches(exp.dataset, config.batch_size, seed))
  z = np.random.RandomState(seed).randn(
      config.batch_size, config.model.latent_dim).astype(np.float32)
  # The variant's one source of latent noise, fixed to `z` for this check.
  exp.gan._latents = lambda key, num: jax.numpy.asarray(z)  # pylint: disable=protected-access
  step = jax.jit(train_step_lib.make_train_step(exp.gan, exp.g_tx, exp.d_tx))
  trainer = torch_dcgan.Trainer(config.dataset.resolution,
                                config.dataset.channels,
                                nz=config.model.latent_dim,
                                ngf=config.model.g_features,
                                ndf=config.model.d_features)
  state = exp.initial_state
  torch_dcgan.load_jax_params(trainer, state.generator.params,
                              state.discriminator.params)
  real = torch.from_numpy(np.ascontiguousarray(
      np.asarray(batch['x']).transpose(0, 3, 1, 2)))
  noise = torch.from_numpy(z)[:, :, None, None]

  def count(tree):
    return int(sum(np.size(x) for x in jax.tree.leaves(tree)))

  result = dict(
      parameters_jax=count(state.generator.params)
      + count(state.discriminator.params),
      parameters_torch=torch_dcgan.num_parameters(trainer.net_g)
      + torch_dcgan.num_parameters(trainer.net_d),
      losses=[])
  for _ in range(steps):
    state, metrics = step(state, batch)
    err_d, err_g = trainer.step(real, noise)
    result['losses'].append(dict(
        d_loss=(float(metrics["d_loss"]), err_d.item()),
        g_loss=(float(metrics["g_loss"]), err_g.item())))
  return result


def provenance() -> dict:
  """Where and how a result was made: machine, versions, date, command."""
  backend = jax.default_backend()
  if backend != 'cpu':                   # name the accelerator, not 'gpu'
    backend = jax.devices()[0].device_kind
  return dict(machine=f'{cpu_model()}, {os.cpu_count()} cores, {backend}',
              jax=jax.__version__, date=datetime.date.today().isoformat(),
              command=' '.join(['python'] + sys.argv))


# Issue 14's targets for the 2-D mixtures (PacGAN's metric): at least these
# modes and high-quality fraction, at most this reverse KL.
RING_TARGET = {'modes_pacgan': 8, 'high_quality': 0.98,
               'reverse_kl_pacgan': 0.02}
GRID_TARGET = {'modes_pacgan': 25, 'high_quality': 0.95,
               'reverse_kl_pacgan': 0.02}
TARGETS = {'gaussian_ring': RING_TARGET, 'gaussian_grid': GRID_TARGET}
# ...and for Stacked MNIST in VEEGAN's setup (PacGAN's Table 2): every mode,
# KL at most 0.05 (real digit triples score 0.026: stacked_floor.py).
STACKED_VEEGAN_TARGET = {'stacked_modes': 1000, 'stacked_kl': 0.05}
# ...and with D = 1/4 G (Table 3): above PacDCGAN4's published row (50 runs,
# mean).
STACKED_QUARTER_TARGET = {'stacked_modes': 667.4, 'stacked_kl': 1.81}


def meets_target(target: dict, finals: list[dict]) -> tuple[dict, bool]:
  """The seeds' mean of each metric in `target` (`finals`: one metrics dict
  per seed), and whether every mean meets it (a KL at most its target, the
  rest at least)."""
  mean = {key: float(np.mean([f[key] for f in finals])) for key in target}
  met = all(mean[key] <= value if key.endswith('kl') or '_kl_' in key
            else mean[key] >= value for key, value in target.items())
  return mean, met


def population_evals(configs, names, workdir: str = '') -> list[dict]:
  """Trains `configs` as one population (members `names`) and returns each
  member's final `eval/*` metrics, prefix dropped. `workdir` keeps the runs;
  '' trains in a temporary directory, removed afterwards."""
  from gan_jax.training import loop  # pylint: disable=g-import-not-at-top
  with contextlib.ExitStack() as stack:
    workdir = workdir or stack.enter_context(tempfile.TemporaryDirectory())
    loop.train_population(configs, names, workdir)
    return [final_evals(os.path.join(workdir, 'members', name))
            for name in names]


# D's mean outputs on real and generated data over the last logged interval:
# kept with the evaluations to tell whether D has separated them at all.
D_OUTPUTS = ('d_real', 'd_fake')
# D has "started" when D(x) - D(G(z)) is at least this (PacGAN's 2-D
# protocol: a packed D sits within 0.01 of 0.5 on both until it starts).
STARTED_GAP = 0.02


def final_evals(directory: str) -> dict:
  """A finished run's (or member's) final `eval/*` metrics, prefix dropped,
  and D's last logged mean outputs (D_OUTPUTS), from its final_metrics.json."""
  with open(os.path.join(directory, 'final_metrics.json')) as f:
    final = json.load(f)
  evals = {k[len('eval/'):]: v for k, v in final.items()
           if k.startswith('eval/')}
  return {**evals, **{k: final[k] for k in D_OUTPUTS if k in final}}


def d_started(finals: list[dict]) -> int | None:
  """How many runs have D started (STARTED_GAP); None when a run has no
  record of D's outputs (rows written before they were kept)."""
  if not all(all(k in f for k in D_OUTPUTS) for f in finals):
    return None
  return sum(f['d_real'] - f['d_fake'] >= STARTED_GAP for f in finals)


def mean_and_error(values) -> tuple[float, float]:
  """Mean and standard error (0 for a single value), as the papers report."""
  values = np.asarray(values, float)
  error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0
  return float(values.mean()), float(error)


def write_json(path: str, record: dict) -> None:
  with open(path, 'w') as f:
    json.dump(record, f, indent=2, default=float)
