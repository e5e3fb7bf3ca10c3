"""The PyTorch reference DCGAN for the side-by-side benchmark.

Written the way pytorch/examples' `dcgan/main.py` builds and trains it (NCHW,
ConvTranspose2d/Conv2d with 4x4 kernels, BatchNorm2d, one training iteration
of D on real then on `fake.detach()`, then G through D on the same `fake`),
generalised to gan_jax's resolutions s * 2**n (28 px: s = 7, n = 2; 64 px:
s = 4, n = 4), so that it is the *identical* network and objective as
gan_jax's `dcgan` model with the non-saturating loss:

  gan_jax                              here
  Dense(z -> s*s*C), no bias           ConvTranspose2d(nz, C, s, 1, 0) on 1x1
  Upsample2x (4x4, stride 2, pad 1)    ConvTranspose2d(C, C/2, 4, 2, 1)
  Conv 4x4 stride 2 pad 1              Conv2d(C, 2C, 4, 2, 1)
  Dense(flatten(s x s x C) -> 1)       Conv2d(C, 1, s, 1, 0)
  softplus losses on logits            BCEWithLogitsLoss (pytorch/examples
                                       puts a Sigmoid in D and uses BCELoss:
                                       the same function, less stable)

`load_jax_params` copies a gan_jax state's parameters into these modules so
that `experiments/performance_benchmark.py` can check that both sides compute
the same losses on the same inputs before it times anything.

PyTorch is an optional benchmark dependency: `pip install torch==2.13.0`.
"""

import numpy as np
import torch
from torch import nn

from gan_jax.models import dcgan as jax_dcgan  # pylint: disable=wrong-import-position


def _batch_norm(channels: int) -> nn.BatchNorm2d:
  return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


class Generator(nn.Module):
  """pytorch/examples' netG for an s * 2**n px image."""

  def __init__(self, nz: int, ngf: int, nc: int, resolution: int):
    super().__init__()
    size, doublings = jax_dcgan.upsample_factors(resolution)
    channels = ngf * 2 ** (doublings - 1)
    layers = [nn.ConvTranspose2d(nz, channels, size, 1, 0, bias=False),
              _batch_norm(channels), nn.ReLU(True)]
    for _ in range(doublings - 1):
      layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1,
                                    bias=False),
                 _batch_norm(channels // 2), nn.ReLU(True)]
      channels //= 2
    layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False),
               nn.Tanh()]
    self.main = nn.Sequential(*layers)

  def forward(self, z):
    return self.main(z)


class Discriminator(nn.Module):
  """pytorch/examples' netD (logits out) for an s * 2**n px image."""

  def __init__(self, ndf: int, nc: int, resolution: int):
    super().__init__()
    size, doublings = jax_dcgan.upsample_factors(resolution)
    layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
              nn.LeakyReLU(0.2, inplace=True)]
    channels = ndf
    for _ in range(doublings - 1):
      layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                 _batch_norm(channels * 2), nn.LeakyReLU(0.2, inplace=True)]
      channels *= 2
    layers += [nn.Conv2d(channels, 1, size, 1, 0, bias=False)]
    self.main = nn.Sequential(*layers)

  def forward(self, x):
    return self.main(x).view(-1)


def weights_init(module: nn.Module) -> None:
  """pytorch/examples' initialisation: N(0, 0.02); BN scale N(1, 0.02)."""
  name = type(module).__name__
  if 'Conv' in name:
    nn.init.normal_(module.weight, 0.0, 0.02)
  elif 'BatchNorm' in name:
    nn.init.normal_(module.weight, 1.0, 0.02)
    nn.init.zeros_(module.bias)


class Trainer:
  """One training iteration exactly as pytorch/examples' dcgan/main.py."""

  def __init__(self, resolution: int, channels: int, nz: int = 100,
               ngf: int = 64, ndf: int = 64, lr: float = 2e-4,
               beta1: float = 0.5, compile_models: bool = False,
               device: str = 'cpu'):
    self.nz, self.device = nz, device
    self.net_g = Generator(nz, ngf, channels, resolution)
    self.net_d = Discriminator(ndf, channels, resolution)
    self.net_g.apply(weights_init)
    self.net_d.apply(weights_init)
    self.net_g.to(device)
    self.net_d.to(device)
    self.criterion = nn.BCEWithLogitsLoss()
    self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=lr,
                                  betas=(beta1, 0.999))
    self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=lr,
                                  betas=(beta1, 0.999))
    self.g, self.d = self.net_g, self.net_d
    if compile_models:
      self.g, self.d = torch.compile(self.net_g), torch.compile(self.net_d)

  def step(self, real: torch.Tensor, noise: torch.Tensor | None = None):
    """(errD, errG) of one iteration; `noise` (B, nz, 1, 1) or drawn here."""
    batch_size = real.shape[0]
    real_label = torch.ones(batch_size, device=self.device)
    fake_label = torch.zeros(batch_size, device=self.device)
    # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
    self.net_d.zero_grad()
    err_d_real = self.criterion(self.d(real), real_label)
    err_d_real.backward()
    if noise is None:
      noise = torch.randn(batch_size, self.nz, 1, 1, device=self.device)
    fake = self.g(noise)
    err_d_fake = self.criterion(self.d(fake.detach()), fake_label)
    err_d_fake.backward()
    self.opt_d.step()
    # (2) Update G: maximize log(D(G(z)))
    self.net_g.zero_grad()
    err_g = self.criterion(self.d(fake), real_label)
    err_g.backward()
    self.opt_g.step()
    return err_d_real + err_d_fake, err_g


def num_parameters(module: nn.Module) -> int:
  return sum(p.numel() for p in module.parameters())


def _set(parameter: torch.Tensor, value) -> None:
  value = torch.from_numpy(np.array(value, np.float32))  # a writable copy
  if parameter.shape != value.shape:
    raise ValueError(f'shape {tuple(value.shape)} does not fit '
                     f'{tuple(parameter.shape)}')
  with torch.no_grad():
    parameter.copy_(value)


def load_jax_params(trainer: Trainer, g_params, d_params) -> None:
  """Copies gan_jax DCGAN parameters (NHWC) into the PyTorch modules (NCHW).

  Dense(z) kernel (nz, s*s*C), reshaped row-major to (s, s, C)
      -> ConvTranspose2d weight (nz, C, s, s)
  Upsample2x kernel (4, 4, I, O) used by lax.conv_transpose, unflipped
      -> ConvTranspose2d weight (I, O, 4, 4), spatially flipped
  Conv kernel (4, 4, I, O) -> Conv2d weight (O, I, 4, 4)
  final Dense (s*s*C, 1) -> Conv2d weight (1, C, s, s)
  BatchNorm scale/bias -> weight/bias
  """
  def layers(module, kind):
    return [m for m in module.main if isinstance(m, kind)]

  g_convs = layers(trainer.net_g, nn.ConvTranspose2d)
  g_norms = layers(trainer.net_g, nn.BatchNorm2d)
  nz, size = g_convs[0].weight.shape[0], g_convs[0].weight.shape[2]
  kernel = np.asarray(g_params['Dense_0']['kernel'])
  _set(g_convs[0].weight,
       kernel.reshape(nz, size, size, -1).transpose(0, 3, 1, 2))
  for i, conv in enumerate(g_convs[1:]):
    kernel = np.asarray(g_params[f'up{i}']['kernel'])
    _set(conv.weight, kernel[::-1, ::-1].transpose(2, 3, 0, 1))
  for i, norm in enumerate(g_norms):
    _set(norm.weight, g_params[f'BatchNorm_{i}']['scale'])
    _set(norm.bias, g_params[f'BatchNorm_{i}']['bias'])

  d_convs = layers(trainer.net_d, nn.Conv2d)
  d_norms = layers(trainer.net_d, nn.BatchNorm2d)
  for i, conv in enumerate(d_convs[:-1]):
    _set(conv.weight,
         np.asarray(d_params[f'Conv_{i}']['kernel']).transpose(3, 2, 0, 1))
  final = d_convs[-1]
  channels, size = final.weight.shape[1], final.weight.shape[2]
  _set(final.weight, np.asarray(d_params['Dense_0']['kernel']).reshape(
      size, size, channels, 1).transpose(3, 2, 0, 1))
  for i, norm in enumerate(d_norms):
    _set(norm.weight, d_params[f'BatchNorm_{i}']['scale'])
    _set(norm.bias, d_params[f'BatchNorm_{i}']['bias'])
