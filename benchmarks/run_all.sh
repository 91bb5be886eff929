#!/usr/bin/env bash
# Run every benchmark and print its markdown tables (also saved under $BENCH_OUT, default /tmp/ragviz-bench).
#   bash benchmarks/run_all.sh                 # CPU: training, scale, app latency
#   bash benchmarks/run_all.sh --device cuda   # CUDA machine: training and scale on CUDA and on the CPU, side by side
#   QUICK=1 bash benchmarks/run_all.sh         # fewer repeats and sizes, a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#*=}"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-python}"
mkdir -p "${BENCH_OUT:=/tmp/ragviz-bench}"
OUT="${BENCH_OUT}/${DEVICE}-$(date +%Y%m%d-%H%M%S).md"
if [ -n "${QUICK:-}" ]; then
  TRAIN_ARGS=(--steps 200 --repeats 1); SCALE_ARGS=(--sizes 100 1000 10000 --steps 2); APP_ARGS=(--repeats 3)
else
  TRAIN_ARGS=(); SCALE_ARGS=(); APP_ARGS=()
fi
{
  echo "# ragviz benchmarks, device ${DEVICE}, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  if [ "$DEVICE" = "cuda" ]; then
    for d in cuda cpu; do
      "$PY" benchmarks/bench_training.py --device "$d" "${TRAIN_ARGS[@]}"; echo
      "$PY" benchmarks/bench_scale.py --device "$d" "${SCALE_ARGS[@]}"; echo
    done
  else
    "$PY" benchmarks/bench_training.py "${TRAIN_ARGS[@]}"; echo
    "$PY" benchmarks/bench_scale.py "${SCALE_ARGS[@]}"; echo
    "$PY" benchmarks/bench_app.py "${APP_ARGS[@]}"; echo
  fi
} | tee "$OUT"
echo "saved: $OUT" >&2
