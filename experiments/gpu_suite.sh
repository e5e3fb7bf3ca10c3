#!/usr/bin/env bash
# The GPU work of the accelerator issue in a few large steps, each well inside
# the 10 minutes a device command may run. Run on the lent machine from the
# repository root, with `.whl/` (wheels: experiments/fetch_gpu_wheels.sh) and
# `data/` (MNIST IDX files) carried along:
#
#   bash experiments/gpu_suite.sh install   # missing Python packages
#   bash experiments/gpu_suite.sh tests     # the whole suite on CUDA
#   bash experiments/gpu_suite.sh speed     # gan_jax vs PyTorch eager/compile
#   bash experiments/gpu_suite.sh population
#   bash experiments/gpu_suite.sh train     # one real run with evaluations
#
# Everything lands in ${OUT:-/tmp/gpu_out}/<step>/: logs, results json, PNGs.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}
step=${1:?install|tests|speed|population|train}
mkdir -p "$OUT/$step"
log="$OUT/$step/log.txt"
nvidia-smi > "$OUT/$step/nvidia-smi.txt" 2>&1 || true

case "$step" in
  install)
    python3 -m pip install --no-index --find-links .whl -e '.[test]' \
      pytorch-fid==0.3.0 > "$log" 2>&1
    python3 -c "import jax, torch; print(jax.__version__, jax.devices(), torch.__version__)" >> "$log" 2>&1
    ;;
  tests)
    # Float32 comparisons between two computations need full precision on
    # NVIDIA GPUs (TF32 otherwise), as GPU-NOTES.md found.
    JAX_PLATFORMS=cuda JAX_DEFAULT_MATMUL_PRECISION=highest \
    NVIDIA_TF32_OVERRIDE=0 GAN_JAX_MNIST="$PWD/data/mnist" \
      timeout 540 python3 -m pytest -q -n 8 -p no:cacheprovider \
      --durations=20 > "$log" 2>&1
    ;;
  speed)
    timeout 540 python3 experiments/performance_benchmark.py --repeats=5 \
      --steps=20 > "$log" 2>&1
    cp experiments/results/performance_*.json "$OUT/$step/" 2>/dev/null
    ;;
  population)
    timeout 540 python3 experiments/population_benchmark.py \
      --sizes=1,4,16,64 --steps=20 > "$log" 2>&1
    cp experiments/results/population_*.json "$OUT/$step/" 2>/dev/null
    ;;
  train)
    timeout 540 python3 -m gan_jax.main --config=configs/dcgan.py:res=28 \
      --config.dataset.name=idx:data/mnist --config.num_train_steps=5000 \
      --config.evals.fid=500 --workdir="$OUT/$step/run" > "$log" 2>&1
    ;;
esac
echo "exit $? ($step)" >> "$log"
tail -5 "$log"
