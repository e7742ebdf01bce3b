#!/usr/bin/env bash
# Full UD annotation (issue 18): train, evaluate (every CoNLL 2018 metric with 95% CIs), predict the test set, score
# the prediction with the official evaluator (udeval) and validate it (udvalidate --level 2), per treebank.
#
#   benchmarks/bench_ud_full.sh [TREEBANK ...]        (default: the five below)
#   ENCODERS="baseline e5"  MINUTES=12  THREADS=1  OUT=/tmp/ud-full  UD=../shared/data/ud
#
# baseline: `adaptlang baseline` (the BiLSTM, its defaults); e5: `adaptlang train --model $E5` (e5-small fine-tuned);
# e5f: `adaptlang baseline --embeddings $E5` (the BiLSTM plus e5-small's frozen vectors: what converges on a CPU).
# On the shared 2-core machine run it through the heavy lock, one treebank at a time, e.g.
#   flock /tmp/adaptlang-heavy.lock benchmarks/bench_ud_full.sh UD_Wolof-WTB
# Faroese-OFT has a test file only: its row trains on Faroese-FarPaHC and also scores OFT's test (transfer).
set -euo pipefail
cd "$(dirname "$0")/.."
UD=${UD:-../shared/data/ud}
OUT=${OUT:-/tmp/ud-full}
MINUTES=${MINUTES:-12}
THREADS=${THREADS:-1}
ENCODERS=${ENCODERS:-baseline}
E5=${E5:-/work/models/e5-small}
BIN=.venv/bin
TREEBANKS=("$@")
[ ${#TREEBANKS[@]} -gt 0 ] || TREEBANKS=(UD_Wolof-WTB UD_Uyghur-UDT UD_Naija-NSC UD_Faroese-FarPaHC UD_Turkish-IMST)
declare -A LANG=([UD_Wolof-WTB]=wo [UD_Uyghur-UDT]=ug [UD_Naija-NSC]=pcm [UD_Faroese-FarPaHC]=fo
                 [UD_Faroese-OFT]=fo [UD_Turkish-IMST]=tr)
mkdir -p "$OUT"

score() {  # MODEL GOLD TAG LANG: evaluate, predict, udeval, udvalidate
    local model=$1 gold=$2 tag=$3 lang=$4
    $BIN/adaptlang evaluate "$model" "$gold" --threads "$THREADS" --json "$OUT/$tag.eval.json" --force \
        --save-predictions "$OUT/$tag.eval-pred.conllu"
    $BIN/adaptlang predict "$model" "$gold" -o "$OUT/$tag.pred.conllu" --threads "$THREADS" --force
    $BIN/udeval -v "$gold" "$OUT/$tag.pred.conllu" | tee "$OUT/$tag.udeval.txt"
    $BIN/udvalidate --level 2 --lang "$lang" "$OUT/$tag.pred.conllu" 2>&1 | tail -1 | tee "$OUT/$tag.validate.txt"
}

for tb in "${TREEBANKS[@]}"; do
    dir=$UD/$tb
    train=$(ls "$dir"/*-ud-train.conllu) dev=$(ls "$dir"/*-ud-dev.conllu) test=$(ls "$dir"/*-ud-test.conllu)
    for enc in $ENCODERS; do
        model=$OUT/$tb-$enc
        start=$(date +%s)
        if [ "$enc" = baseline ] || [ "$enc" = e5f ]; then
            features=()
            [ "$enc" = e5f ] && features=(--embeddings "$E5")
            $BIN/adaptlang baseline --train "$train" --dev "$dev" -o "$model" --epochs 40 --max-minutes "$MINUTES" \
                --seed 42 --threads "$THREADS" --force --json "$model.train.json" --quiet "${features[@]}"
        else
            $BIN/adaptlang train --model "$E5" --train "$train" --dev "$dev" -o "$model" --epochs 30 \
                --max-minutes "$MINUTES" --seed 42 --threads "$THREADS" --force --json "$model.train.json" --quiet
        fi
        echo "$tb $enc: trained in $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
        score "$model" "$test" "$tb-$enc" "${LANG[$tb]}"
        if [ "$tb" = UD_Faroese-FarPaHC ] && [ -f "$UD/UD_Faroese-OFT/fo_oft-ud-test.conllu" ]; then
            score "$model" "$UD/UD_Faroese-OFT/fo_oft-ud-test.conllu" "UD_Faroese-OFT-from-FarPaHC-$enc" fo
        fi
    done
done
