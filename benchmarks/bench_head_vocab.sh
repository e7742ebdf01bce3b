#!/usr/bin/env bash
# MLM adaptation speed with the softmax over the corpus's pieces (`adapt --head-vocab corpus`, the default) against
# the whole vocabulary (`--head-vocab full`), same steps, same thread count, one after the other.
#
#   benchmarks/bench_head_vocab.sh [STEPS]      (default 8 steps of 16 x 128 tokens)
#
# Environment: MODEL (default /work/models/e5-small: XLM-R's 250k-piece vocabulary), CORPUS (default the shared raw
# Wolof text), THREADS (1), OUT (/tmp/head-vocab). Prints tokens/s, the pieces scored and the held-out loss of each.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-8}
MODEL=${MODEL:-/work/models/e5-small}
CORPUS=${CORPUS:-../shared/data/raw/wol/wol.txt}
THREADS=${THREADS:-1}
OUT=${OUT:-/tmp/head-vocab}
mkdir -p "$OUT"
for hv in corpus full; do
  .venv/bin/adaptlang adapt "$CORPUS" -m "$MODEL" -o "$OUT/$hv" --steps "$STEPS" --pppl-tokens 0 --threads "$THREADS" \
      --head-vocab "$hv" --no-head-warmup --force -q --json "$OUT/$hv.json"
done
.venv/bin/python - "$OUT" <<'PY'
import json, sys
for hv in ("corpus", "full"):
    r = json.load(open(f"{sys.argv[1]}/{hv}.json"))
    h, d = r["heldout"], r["data"]
    print(f"{hv}: {r['steps']} steps in {r['train_seconds']} s, {r['tokens_per_second']} tokens/s, "
          f"{d['head_pieces']} of {d['vocabulary']} pieces scored, held-out loss {h['mlm_loss_before']} -> {h['mlm_loss_after']}")
PY
