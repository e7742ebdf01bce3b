#!/usr/bin/env bash
# The probe table (layers 0-12) of e5-small on Wolof-WTB before and after a short MLM adaptation on the shared raw
# Wolof text (issue 13, item 5). One thread; run through the shared lock:
#   flock /tmp/adaptlang-heavy.lock benchmarks/probe_wolof.sh [WORKDIR]
# Step 1 (the base model) takes about 4 minutes on this 2-core CPU, step 2 (adapt) ADAPT_MINUTES, step 3 (the
# adapted model) about 4 minutes. Set STEPS=0 to probe the base model only.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/probe-wolof}
MODEL=${MODEL:-/work/models/e5-small}
UD=${UD:-../shared/data/ud/UD_Wolof-WTB}
RAW=${RAW:-../shared/data/raw/wol/wol.txt}
STEPS=${STEPS:-300}
ADAPT_MINUTES=${ADAPT_MINUTES:-7}
mkdir -p "$WORK"
probe() {  # probe OUT MODEL...
  local out=$1; shift
  local args=()
  for m in "$@"; do args+=(--model "$m"); done
  /usr/bin/time -f "%e s wall" .venv/bin/adaptlang analyze probe "${args[@]}" --train "$UD/wo_wtb-ud-train.conllu" \
    --dev "$UD/wo_wtb-ud-dev.conllu" --max-train-sentences 400 --threads 1 -o "$out" --force --json "$out.json"
}
probe "$WORK/base" "$MODEL"
if [ "$STEPS" -gt 0 ]; then
  /usr/bin/time -f "%e s wall" .venv/bin/adaptlang adapt "$RAW" -m "$MODEL" -o "$WORK/e5-wol-adapted" \
    --steps "$STEPS" --max-minutes "$ADAPT_MINUTES" --pppl-tokens 0 --threads 1 --force
  probe "$WORK/adapted" "$WORK/e5-wol-adapted"
fi
