#!/usr/bin/env bash
# Language adapters (MAD-X, issue 17 item 3) on one zero-shot pair: English-EWT -> German-PUD with e5-small.
# A parser trained over a frozen English LoRA language adapter is scored on German PUD with
#   (a) the English adapter kept, (b) the German adapter swapped in, (c) the mean of both (the ensemble);
# English PUD with the English adapter is the source reference. Tiny CPU budgets (state them with the figures):
#
#   flock /tmp/adaptlang-heavy.lock benchmarks/bench_adapter_ensemble.sh adapters   # two LoRA adapters, ~10 min
#   flock /tmp/adaptlang-heavy.lock benchmarks/bench_adapter_ensemble.sh parse      # train + 4 scorings, ~12 min
#
# Budgets (override by environment): adapters STEPS=300 (batch 16 x 128 pieces) or ADAPT_MINUTES=4 each, on
# the '# text' lines of EWT train (first 4000) and of German-GSD dev + test; parser TRAIN_SENTENCES=2000 of EWT,
# TRAIN_MINUTES=5, task LoRA rank 8, head LR 1e-3. One thread. JSON per scoring in $WORK/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
UD=${ADAPTLANG_UD:-../shared/data/ud}
MODEL=${MODEL:-/work/models/e5-small}
WORK=${WORK:-benchmarks/results/adapter-ensemble}
A=.venv/bin/adaptlang
mkdir -p "$WORK"
text() { grep -h '^# text = ' "$@" | sed 's/^# text = //'; }
case "${1:-}" in
  adapters)
    text "$UD/UD_English-EWT/en_ewt-ud-train.conllu" | sed -n 1,4000p > "$WORK/en.txt"  # head would end grep with SIGPIPE (pipefail)
    text "$UD/UD_German-GSD/de_gsd-ud-dev.conllu" "$UD/UD_German-GSD/de_gsd-ud-test.conllu" > "$WORK/de.txt"
    for lang in en de; do
      time $A adapt "$WORK/$lang.txt" --model "$MODEL" --method lora --steps "${STEPS:-300}" --batch-size 16 \
        --max-seq-len 128 --max-minutes "${ADAPT_MINUTES:-4}" --threads 1 --quiet --force \
        -o "$WORK/la-$lang" --json "$WORK/adapt-$lang.json"
    done ;;
  parse)
    .venv/bin/python - "$UD/UD_English-EWT/en_ewt-ud-train.conllu" "$WORK/train.conllu" "${TRAIN_SENTENCES:-2000}" <<'PY'
import sys
from adaptlang.data.conllu import read_conllu, write_conllu
write_conllu(sys.argv[2], read_conllu(sys.argv[1])[: int(sys.argv[3])])
PY
    time $A train --model "$MODEL" --language-adapter "$WORK/la-en" --train "$WORK/train.conllu" \
      --max-minutes "${TRAIN_MINUTES:-5}" --epochs 10 --threads 1 --device cpu --quiet --force -o "$WORK/parser" \
      --json "$WORK/train.json"
    ev() { local name=$1 test=$2; shift 2
           time $A evaluate "$WORK/parser" "$test" --threads 1 --device cpu --json "$WORK/$name.json" "$@"; }
    ev en-pud "$UD/UD_English-PUD/en_pud-ud-test.conllu"
    ev de-pud-en-adapter "$UD/UD_German-PUD/de_pud-ud-test.conllu"
    ev de-pud-de-adapter "$UD/UD_German-PUD/de_pud-ud-test.conllu" --language-adapter "$WORK/la-de"
    ev de-pud-ensemble "$UD/UD_German-PUD/de_pud-ud-test.conllu" --language-adapter "$WORK/la-en" \
      --language-adapter "$WORK/la-de" ;;
  *) echo "usage: $0 adapters|parse" >&2; exit 2 ;;
esac
