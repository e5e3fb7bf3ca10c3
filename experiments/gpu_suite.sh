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
#   bash experiments/gpu_suite.sh stacked SECONDS [SETUP] [PACK_A] [PACK_B]
#   bash experiments/gpu_suite.sh stacked_speed  # its step: K and precision
#
# `stacked` runs two Stacked MNIST rows of PacGAN's Tables 2/3, sized to fit:
# SETUP veegan (default), unrolled_quarter or unrolled_half, packs PACK_A
# and PACK_B (default 1 and 2), seeds 0-4 as one population per row. It
# needs only a few wheels (ml-collections, grain, array-record, portpicker,
# tensorboardX, importlib_resources: installed with --target, the image's
# own packages untouched). It times the setup's step for a 5-seed population
# at both packs (experiments/stacked_speed_benchmark.py), then runs the
# longest length (whole thousands of steps, at most the protocol's) that
# lets both rows finish inside SECONDS from the script's start, e.g.
#   bash experiments/gpu_suite.sh stacked 530 unrolled_quarter 1 4
# PACK_B 0 probes one pack; ROWS names the rows to run instead (their packs
# being the probed ones), e.g. the Table 2 best-config candidate:
#   bash experiments/gpu_suite.sh stacked 250 veegan 2 0 stacked_veegan_best
# BN=per_call runs the protocol rows with the authors' generator batch norm
# per call (mode_collapse_benchmark.py --bn; default whole, gan_jax's), e.g.
#   BN=per_call bash experiments/gpu_suite.sh stacked 470 unrolled_quarter 4 0
#
# Everything lands in ${OUT:-/tmp/gpu_out}/<step>/: logs, results json, PNGs.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}
step=${1:?install|tests|speed|population|train|stacked|stacked_speed}
mkdir -p "$OUT/$step"
log="$OUT/$step/log.txt"
nvidia-smi > "$OUT/$step/nvidia-smi.txt" 2>&1 || true

few_wheels() {   # the packages the image lacks, beside its own
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl > "$log" 2>&1
  export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
}

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
  stacked)
    budget=${2:?stacked SECONDS [SETUP] [PACK_A] [PACK_B] [ROWS]}
    setup=${3:-veegan}; pack_a=${4:-1}; pack_b=${5:-2}; rows=${6:-}
    packs=$pack_a; [ "$pack_b" != 0 ] && packs="$pack_a,$pack_b"
    start=$(date +%s)
    few_wheels
    probe=experiments/results/stacked_speed_gpu_$setup.json
    python3 experiments/stacked_speed_benchmark.py --setups="$setup" \
      --packs="$packs" --sizes=5 --steps=20 --repeats=2 \
      --mnist=data/mnist >> "$log" 2>&1
    cp "$probe" "$OUT/$step/"
    # The longest run (whole thousands of steps, at most the protocol's)
    # that fits the rows (one per probed pack): their population steps at
    # the probed rates, plus about 90 s each for data, compiling, the
    # classifier and evaluations (5 seeds: about 4 s per evaluation step on
    # the H200), with 30% to spare. On 2026-11-28 the loop ran at a third
    # of the probed rate (host-side batching, since fixed but not yet timed
    # on the GPU) and the second row ran past the device's limit.
    steps=$(python3 - "$budget" "$start" "$probe" <<'PY'
import json, sys, time
budget, start, probe = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
results = json.load(open(probe))['results']
seconds = sum(r['members'] / r['member_steps_per_sec'] for r in results)
left = 0.7 * (budget - (time.time() - start) - len(results) * 90)
print(max(1000, min(results[0]['protocol_steps'],
                    int(left / seconds / 1000) * 1000)))
PY
)
    short=${setup#unrolled_}
    if [ -z "$rows" ]; then
      for pack in ${packs//,/ }; do
        variant=$([ "$pack" = 1 ] && echo gan || echo "pacgan$pack")
        rows="$rows${rows:+,}stacked_${short}_$variant"
      done
    fi
    echo "rows $rows, steps per row: $steps" | tee -a "$log"
    # Stopped at the budget if the rows run slower than sized, so that the
    # evaluations logged so far still come back as trajectories below.
    left=$((start + budget - $(date +%s)))   # timeout 0 would not stop it
    timeout $((left > 1 ? left : 1)) \
      python3 experiments/mode_collapse_benchmark.py --rows="$rows" \
      --seeds=0,1,2,3,4 --steps="$steps" --steps_per_dispatch=100 \
      --bn="${BN:-whole}" \
      --eval_every=2000 --mnist=data/mnist \
      --out="$OUT/$step/mode_collapse_rows.json" --workdir=/tmp/stacked \
      >> "$log" 2>&1
    runs=()   # the evaluations every 2,000 steps of every seed
    for row in ${rows//,/ }; do
      # <row>, or <row>-fixed_packs (-bn_per_call) for the authors' options:
      # each run directory is labelled by its own name, and its last
      # samples of seed 0 come back beside the trajectories.
      for dir in /tmp/stacked/"$row" /tmp/stacked/"$row"-*; do
        [ -d "$dir" ] || continue
        name=$(basename "$dir")
        for seed in 0 1 2 3 4; do
          runs+=(--runs="${name}_seed$seed=$dir/members/seed=$seed")
        done
        png=$(ls "$dir"/members/seed=0/samples/*.png 2>/dev/null \
              | sort | tail -1)
        [ -n "$png" ] && cp "$png" "$OUT/$step/${name}_seed0.png"
      done
    done
    python3 experiments/trajectory_table.py "${runs[@]}" \
      --metrics=eval/stacked_modes,eval/stacked_kl \
      --out="$OUT/$step/trajectories.json" >> "$log" 2>&1
    ;;
  stacked_speed)
    # Why the VEEGAN step runs at ~25 TFLOP/s: population size and
    # precision, side by side (about 3 minutes).
    few_wheels
    for dtype in float32 bfloat16; do
      timeout 250 python3 experiments/stacked_speed_benchmark.py \
        --setups=veegan --packs=1,2 --sizes=1,5,10 --steps=20 --repeats=2 \
        --dtype=$dtype --mnist=data/mnist >> "$log" 2>&1
    done
    cp experiments/results/stacked_speed_gpu_veegan*.json "$OUT/$step/"
    ;;
esac
echo "exit $? ($step)" >> "$log"
tail -5 "$log"
