#!/usr/bin/env bash
# The `scratch` system on this CPU (issue 13, item 4): a 4 x 256 BERT with its own WordPiece vocabulary trained from
# scratch on the shared raw Wolof text, to convergence under a time budget. Run it under the heavy lock.
# Usage: benchmarks/scratch_wolof.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-12}
CORPUS=${CORPUS:-../shared/data/raw/wol/wol.txt}
OUT=${OUTDIR:-/tmp/scratch-wol}/model
mkdir -p "$(dirname "$OUT")"
OMP_NUM_THREADS=1 /usr/bin/time -v .venv/bin/adaptlang pretrain "$CORPUS" -o "$OUT" --max-minutes "$MIN" \
    --threads 1 --force -q --json "$OUT.json" > "$OUT.log" 2>&1
.venv/bin/python - "$OUT.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h, d = r["heldout"], r["data"]
print(f"steps {r['steps']} stop {d['stop_reason']} passes {d['epochs']} train_s {r['train_seconds']} params {r['total_parameters']}")
print(f"held-out MLM loss {h['mlm_loss_before']} -> {h['mlm_loss_after']}; pppl {h['pseudo_perplexity_before']} -> {h['pseudo_perplexity_after']}")
print(f"train tokens/pass {d['train_tokens']} sequences {d['train_sequences']}")
print("curve", [(p["step"], p["minutes"], p["mlm_loss"]) for p in r["heldout_curve"]])
PY
