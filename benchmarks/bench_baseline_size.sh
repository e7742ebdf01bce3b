#!/usr/bin/env bash
# Is a smaller `adaptlang baseline` model as good at equal minutes? (issue 14: the word BiLSTM is at the core's
# arithmetic limit, so a 3x faster epoch needs fewer operations, i.e. a smaller model, kept only if its LAS at equal
# wall time is equal or better.)
#
#   benchmarks/bench_baseline_size.sh [TREEBANK] [MINUTES]      # defaults: UD_Wolof-WTB 12
#
# Runs bench_baseline.py (train with the dev set, evaluate on test) for the default model and each candidate, with
# the same budget, seed and one thread, each run under the shared heavy lock, candidates and default interleaved.
# The default gets --epochs 40 (as the reference runs); candidates --epochs 120 so that the budget decides how many
# epochs fit. SEEDS="42 7" repeats the whole set per seed. Records: benchmarks/results/baseline-<TB>-size-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
TB=${1:-UD_Wolof-WTB}
MIN=${2:-12}
SEEDS=${SEEDS:-42}
WORK=${WORKDIR:-/tmp/adaptlang-bench-baseline-size}
LOCK=${LOCK:-/tmp/adaptlang-heavy.lock}
CANDIDATES=("--hidden 128 --layers 2" "--hidden 192 --layers 2")
run() {  # tag epochs [baseline options...]
  local tag=$1 epochs=$2; shift 2
  echo "== $tag ($(date -u +%H:%M) UTC)"
  flock "$LOCK" .venv/bin/python benchmarks/bench_baseline.py "$TB" --max-minutes "$MIN" --epochs "$epochs" \
    --threads 1 --seed "$seed" --tag "$tag" --workdir "$WORK" -- "$@" 2>&1 | grep -v '━' | tail -3
}
for seed in $SEEDS; do
  run "size-default-${MIN}min-s$seed" 40
  for c in "${CANDIDATES[@]}"; do
    # shellcheck disable=SC2086
    run "size-$(echo $c | tr -d '-' | tr ' ' '_')-${MIN}min-s$seed" 120 $c
  done
done
