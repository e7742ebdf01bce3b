#!/usr/bin/env bash
# MLM adaptation to convergence on this CPU (issue 13, item 3): e5-small (no MLM head shipped) on the shared raw
# Wolof text, with and without the head warm-up, at equal minutes; held-out MLM loss every EVAL steps.
# Usage: benchmarks/adapt_convergence.sh plain|warmup [MINUTES] [EVAL]   (one job; run it under the heavy lock)
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH=${1:?plain or warmup}; MIN=${2:-9}; EVAL=${3:-15}
CORPUS=${CORPUS:-../shared/data/raw/wol/wol.txt}
OUT=${OUTDIR:-/tmp/adapt-conv}/$WHICH
EXTRA=(); [ "$WHICH" = warmup ] && EXTRA=(--head-warmup)
mkdir -p "$(dirname "$OUT")"
OMP_NUM_THREADS=1 /usr/bin/time -v .venv/bin/adaptlang adapt "$CORPUS" --model /work/models/e5-small -o "$OUT" \
    --epochs 40 --max-minutes "$MIN" --eval-every "$EVAL" --patience 3 --pppl-tokens 64 --threads 1 --force -q \
    "${EXTRA[@]}" --json "$OUT.json" > "$OUT.log" 2>&1
.venv/bin/python - "$OUT.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h, d = r["heldout"], r["data"]
print(f"steps {r['steps']} stop {d['stop_reason']} passes {d['epochs']} train_s {r['train_seconds']}")
print(f"held-out MLM loss {h['mlm_loss_before']} -> {h['mlm_loss_after']}; pppl {h['pseudo_perplexity_before']} -> {h['pseudo_perplexity_after']}")
print("curve", [(p["step"], p["minutes"], p["mlm_loss"]) for p in r["heldout_curve"]])
if r.get("head_warmup"):
    w = r["head_warmup"]
    print("warm-up", w["steps"], w["minutes"], w["stop_reason"], [(p["step"], p["mlm_loss"]) for p in w["heldout_curve"]])
PY
