#!/usr/bin/env bash
# analyze transfer: zero-shot from English (EWT, capped) to the shared PUD languages, per-layer RBF CKA on the
# parallel PUD sentences, and the Spearman correlation between CKA and the cross-lingual gap (issue 17, item 5).
#
#   flock /tmp/adaptlang-heavy.lock benchmarks/bench_transfer.sh            # CPU budget (below): ~12 min, 1 thread
#   FULL=1 benchmarks/bench_transfer.sh                                     # GPU: all of EWT, 30 epochs
#
# CPU: dev = the last 10% of the capped training sentences. The source's own test set is English PUD (the same 1000 sentences as the targets, so the gap compares
# translations of one text). Outputs: $OUT/transfer.json, transfer.tsv, transfer.png (stages are reused on a rerun).
set -euo pipefail
cd "$(dirname "$0")/.."
UD=${ADAPTLANG_UD:-../shared/data/ud}
MODEL=${MODEL:-/work/models/e5-small}
OUT=${OUT:-benchmarks/results/transfer-en-pud}
if [[ -n "${FULL:-}" ]]; then
  BUDGET=(--epochs 30 --device auto --source-dev "$UD/UD_English-EWT/en_ewt-ud-dev.conllu")
else
  BUDGET=(--max-train-sentences "${MAX_TRAIN:-2000}" --max-minutes "${MAX_MINUTES:-5}" --epochs 10 --threads 1
          --device cpu)
fi
targets=()
for tb in German-PUD Turkish-PUD Russian-PUD Arabic-PUD; do
  targets+=(--target "$(ls "$UD/UD_$tb"/*-ud-test.conllu)")
done
time .venv/bin/adaptlang analyze transfer --model "$MODEL" \
  --source-train "$UD/UD_English-EWT/en_ewt-ud-train.conllu" \
  --source-test "$UD/UD_English-PUD/en_pud-ud-test.conllu" "${targets[@]}" \
  --kernel rbf "${BUDGET[@]}" -o "$OUT" --json "$OUT.json"
