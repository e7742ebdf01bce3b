#!/usr/bin/env bash
# Throughput of adapt / train / baseline / predict on one device, one job at a time, and a plain PyTorch MLM loop as
# the ceiling; prints one table (tokens/s, sentences/s, peak memory, MFU for the MLM jobs on a known GPU).
#
# Self-contained: an mBERT-sized BertForMaskedLM (12 layers, 768 wide, 12 heads, 3072 FF; 178M parameters) with random
# weights built from a BertConfig and the embedded mBERT vocabulary, the shared UD text as corpus, the Wolof treebank
# for train / baseline / predict. Nothing is downloaded. Throughput does not depend on the weights.
#
#   benchmarks/gpu_throughput.sh                       # on the GPU machine (planned under 6 minutes on an H200)
#   SMALL=1 flock /tmp/adaptlang-heavy.lock benchmarks/gpu_throughput.sh    # tiny config, CPU check (1-2 minutes)
#
# Planned work (GPU; every compared pair has the same model, data, batch and steps):
#   build (~20 s) | adapt and plain: 64 x 128, 150 steps (~15 s each + start-up) | adapt-large and plain-large:
#   256 x 128, 60 steps (~25 s each) | adapt-default: no --batch-size, 60 steps | adapt-lora: --method lora,
#   256 x 128, 60 steps | train: Wolof, batch 32, 2 epochs (~20 s + dev) | train-tokens and train-tokens-large: the
#   same data and epochs in batches by a word budget (--max-tokens 2500 and 10000, no sentence cap) | baseline:
#   Wolof, 2 epochs (~15 s) | predict: Wolof test with the trained parser (~15 s). 320-420 s in all on an H200.
#   Each job is stopped after JOB_TIMEOUT seconds (default 100) and reported as such; the table is printed anyway.
# Settings (environment): SMALL=1, WORKDIR (default /tmp/adaptlang-gpu-throughput), DATA (the shared data folder:
# default ../shared/data, else shared/data), DEVICE (auto), JOB_TIMEOUT, PEAK_TFLOPS (the device's bf16 peak when
# its name is not known to the script), PYTHON (default .venv/bin/python when there is one). adapt has no --device:
# it takes the GPU when there is one.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"  # adaptlang from this tree, installed or not
ADAPTLANG=("$PYTHON" -m adaptlang)
HELPER=("$PYTHON" benchmarks/gpu_throughput.py)
WORKDIR="${WORKDIR:-/tmp/adaptlang-gpu-throughput}"
DEVICE="${DEVICE:-auto}"
JOB_TIMEOUT="${JOB_TIMEOUT:-100}"
SMALL="${SMALL:-0}"
if [ -z "${DATA:-}" ]; then
  for d in "$REPO/../shared/data" "$REPO/shared/data"; do
    if [ -d "$d/ud/UD_Wolof-WTB" ]; then DATA="$d"; break; fi
  done
fi
if [ -z "${DATA:-}" ] || [ ! -d "$DATA/ud/UD_Wolof-WTB" ]; then
  echo "gpu_throughput.sh: no shared data (ud/UD_Wolof-WTB) under ../shared/data or shared/data; set DATA=" >&2
  exit 2
fi

if [ "$SMALL" = 1 ]; then
  SMALL_FLAG=(--small); THREADS=(--threads 1); MAX_SENT=120
  BATCH=8; SEQ=64; STEPS=6; BIG_BATCH=16; BIG_STEPS=4; EPOCHS=1; TRAIN_BATCH=16; MAX_TOKENS=300; BIG_TOKENS=1000
else
  SMALL_FLAG=(); THREADS=(); MAX_SENT=0
  BATCH=64; SEQ=128; STEPS=150; BIG_BATCH=256; BIG_STEPS=60; EPOCHS=2; TRAIN_BATCH=32; MAX_TOKENS=2500; BIG_TOKENS=10000
fi

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR/logs" "$WORKDIR/results"
TABLE="$WORKDIR/table.jsonl"
: > "$TABLE"
MODEL="$WORKDIR/model"
D="$WORKDIR/data"
echo "workdir: $WORKDIR (one log per job in logs/); data: $DATA; device: $DEVICE; small: $SMALL"

# run JOB WHAT SEQ_LEN -- COMMAND...: the command's output goes to logs/JOB.log; its row joins the table whatever
# happens (ok, failed with its exit status, or timeout).
run() {
  local job="$1" what="$2" seq="$3"
  shift 4
  local start end status=ok rc=0
  start=$(date +%s.%N)
  timeout --signal=INT --kill-after=15 "$JOB_TIMEOUT" "$@" > "$WORKDIR/logs/$job.log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout; elif [ "$rc" != 0 ]; then status="failed ($rc)"; fi
  [ "$status" = ok ] || { echo "  $job: $status; last lines of logs/$job.log:" >&2; tail -3 "$WORKDIR/logs/$job.log" >&2; }
  "${HELPER[@]}" row --job "$job" --what "$what" --json "$WORKDIR/results/$job.json" --table "$TABLE" \
    --status "$status" --wall "$(awk "BEGIN {print $end - $start}")" --seq-len "$seq" "${SMALL_FLAG[@]}"
  echo "  $job: $status ($(awk "BEGIN {printf \"%.1f\", $end - $start}") s)"
}

echo "build: model and data"
"${HELPER[@]}" build --out "$MODEL" "${SMALL_FLAG[@]}" > "$WORKDIR/logs/build.log" 2>&1
"${HELPER[@]}" data --ud "$DATA/ud" --out "$D" --max-sentences "$MAX_SENT" >> "$WORKDIR/logs/build.log" 2>&1
cat "$WORKDIR/logs/build.log"

ADAPT_COMMON=(adapt "$D/corpus.txt" --model "$MODEL" --max-seq-len "$SEQ" --pppl-tokens 0
  --save-every 1000000 --seed 0 --force --quiet "${THREADS[@]}")
run adapt "adaptlang adapt, ${BATCH} x ${SEQ}, ${STEPS} steps" "$SEQ" -- \
  "${ADAPTLANG[@]}" "${ADAPT_COMMON[@]}" -o "$WORKDIR/adapted" --batch-size "$BATCH" --steps "$STEPS" \
  --json "$WORKDIR/results/adapt.json"
run plain "plain MLM loop, ${BATCH} x ${SEQ}, ${STEPS} steps" "$SEQ" -- \
  "${HELPER[@]}" plain --model "$MODEL" --corpus "$D/corpus.txt" --batch-size "$BATCH" --seq-len "$SEQ" \
  --steps "$STEPS" --warmup 0 --device "$DEVICE" --json "$WORKDIR/results/plain.json"
run adapt-large "adaptlang adapt, ${BIG_BATCH} x ${SEQ}, ${BIG_STEPS} steps" "$SEQ" -- \
  "${ADAPTLANG[@]}" "${ADAPT_COMMON[@]}" -o "$WORKDIR/adapted-large" --batch-size "$BIG_BATCH" --steps "$BIG_STEPS" \
  --json "$WORKDIR/results/adapt-large.json"
run plain-large "plain MLM loop, ${BIG_BATCH} x ${SEQ}, ${BIG_STEPS} steps" "$SEQ" -- \
  "${HELPER[@]}" plain --model "$MODEL" --corpus "$D/corpus.txt" --batch-size "$BIG_BATCH" --seq-len "$SEQ" \
  --steps "$BIG_STEPS" --warmup 0 --device "$DEVICE" --json "$WORKDIR/results/plain-large.json"

run adapt-default "adaptlang adapt, its default batch, ${SEQ} long, ${BIG_STEPS} steps" "$SEQ" -- \
  "${ADAPTLANG[@]}" "${ADAPT_COMMON[@]}" -o "$WORKDIR/adapted-default" --steps "$BIG_STEPS" \
  --json "$WORKDIR/results/adapt-default.json"
run adapt-lora "adaptlang adapt --method lora, ${BIG_BATCH} x ${SEQ}, ${BIG_STEPS} steps" "$SEQ" -- \
  "${ADAPTLANG[@]}" "${ADAPT_COMMON[@]}" -o "$WORKDIR/adapted-lora" --method lora --batch-size "$BIG_BATCH" \
  --steps "$BIG_STEPS" --json "$WORKDIR/results/adapt-lora.json"

TRAIN_COMMON=(train --train "$D/train.conllu" --dev "$D/dev.conllu" --model "$MODEL" --epochs "$EPOCHS"
  --device "$DEVICE" --seed 1 --force --quiet "${THREADS[@]}")
run train "adaptlang train, Wolof, batch ${TRAIN_BATCH}, ${EPOCHS} epochs" 0 -- \
  "${ADAPTLANG[@]}" "${TRAIN_COMMON[@]}" -o "$WORKDIR/parser" --batch-size "$TRAIN_BATCH" \
  --json "$WORKDIR/results/train.json"
run train-tokens "adaptlang train, Wolof, batches of ${MAX_TOKENS} words, ${EPOCHS} epochs" 0 -- \
  "${ADAPTLANG[@]}" "${TRAIN_COMMON[@]}" -o "$WORKDIR/parser-tokens" --batch-size 100000 --max-tokens "$MAX_TOKENS" \
  --json "$WORKDIR/results/train-tokens.json"
run train-tokens-large "adaptlang train, Wolof, batches of ${BIG_TOKENS} words, ${EPOCHS} epochs" 0 -- \
  "${ADAPTLANG[@]}" "${TRAIN_COMMON[@]}" -o "$WORKDIR/parser-tokens-large" --batch-size 100000 \
  --max-tokens "$BIG_TOKENS" --json "$WORKDIR/results/train-tokens-large.json"
run baseline "adaptlang baseline (BiLSTM), Wolof, ${EPOCHS} epochs" 0 -- \
  "${ADAPTLANG[@]}" baseline --train "$D/train.conllu" --dev "$D/dev.conllu" -o "$WORKDIR/baseline" \
  --epochs "$EPOCHS" --device "$DEVICE" --seed 1 --force --quiet "${THREADS[@]}" --json "$WORKDIR/results/baseline.json"
if [ -f "$WORKDIR/parser/config.json" ]; then
  run predict "adaptlang predict, Wolof test, with start-up" 0 -- \
    "${ADAPTLANG[@]}" predict "$WORKDIR/parser" "$D/test.conllu" -o "$WORKDIR/pred.conllu" --device "$DEVICE" \
    --force "${THREADS[@]}" --json "$WORKDIR/results/predict.json"
fi

"${HELPER[@]}" table --table "$TABLE" | tee "$WORKDIR/table.md"
