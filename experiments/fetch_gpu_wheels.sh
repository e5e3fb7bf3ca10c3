#!/usr/bin/env bash
# Wheels the lent GPU machine lacks (GPU-NOTES.md: it has jax+CUDA, flax,
# optax, orbax, numpy, scikit-learn, pillow, torch, torchvision, pytest), for
# its CPython 3.12 on x86-64, into .whl/ (ignored by git; carried by the
# device command). Run here, where the package registry is reachable.
set -euo pipefail
mkdir -p .whl
python3 -m pip download --dest .whl --only-binary=:all: --python-version 3.12 \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  ml-collections grain array-record portpicker tensorboardX \
  tensorflow-datasets matplotlib pytorch-fid==0.3.0 pytest-xdist execnet \
  --no-deps
du -sh .whl   # a device command carries at most 64 MiB
