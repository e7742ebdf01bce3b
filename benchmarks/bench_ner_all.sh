#!/bin/bash
# The NER figures of benchmarks/RESULTS.md ("Named-entity recognition"), one heavy job at a time on a shared CPU:
#   1. the BiLSTM-CRF baseline on MasakhaNER 2.0 Wolof, Naija and Bambara (benchmarks/bench_ner.py, MINUTES of
#      training each; Naija's training file needs --lenient for its one I-DATE after B-LOC, line 120015);
#   2. a small `categorize --task ner` on Wolof with e5-small (the budget options below), in chunks of at most
#      CHUNK seconds: an interrupted categorize resumes where it stopped, so each chunk is one short lock hold.
# Each job takes /tmp/adaptlang-heavy.lock alone. Run from the repository root:
#   benchmarks/bench_ner_all.sh                 # everything
#   STEPS=categorize benchmarks/bench_ner_all.sh
# Outputs: $OUT/<lang>-bilstm.json (one JSON line each) and $OUT/cat-wol-ner/ (report.md, results.json).
set -u
OUT=${OUT:-/tmp/ner-bench}
MINUTES=${MINUTES:-11}
CHUNK=${CHUNK:-830}
STEPS=${STEPS:-"wol pcm bam categorize"}
LOCK=/tmp/adaptlang-heavy.lock
NER=../shared/data/ner
mkdir -p "$OUT"

for step in $STEPS; do
  if [ "$step" != categorize ]; then
    lenient=$([ "$step" = pcm ] && echo --lenient)
    flock "$LOCK" .venv/bin/python benchmarks/bench_ner.py --lang "$step" --encoder baseline $lenient \
      --max-minutes "$MINUTES" --threads 1 --out "$OUT/$step-bilstm" > "$OUT/$step-bilstm.log" 2>&1
    tail -1 "$OUT/$step-bilstm.log"
    continue
  fi
  for chunk in 1 2 3 4; do
    flock "$LOCK" timeout -s INT "$CHUNK" .venv/bin/adaptlang categorize --task ner \
      --corpus ../shared/data/raw/wol/wol.txt --ner-train $NER/wol/train.txt --ner-test $NER/wol/test.txt \
      --model /work/models/e5-small --lang wol --seeds 1 --translit none --max-train-sentences 200 --epochs 2 \
      --baseline-epochs 10 --adapt-steps 30 --max-minutes 3 --no-baseline-corpus --threads 1 --device cpu \
      -o "$OUT/cat-wol-ner" --json "$OUT/cat-wol-ner.json" >> "$OUT/cat-wol-ner.log" 2>&1 && break
  done
done
