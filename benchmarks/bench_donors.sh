#!/usr/bin/env bash
# Donor treebanks (issue 17): each target trained alone and with a related donor treebank at the same time budget
# (`adaptlang train --donor`, temperature-smoothed sampling, treebank embedding), scored on the target's test set.
#
#   benchmarks/bench_donors.sh [PAIR...]        pairs: ug-arab ug-latn pcm fo-oft fo-de (default: all)
#
# Environment: MODEL (default /work/models/e5-small), MINUTES per training run (default 20: a GPU budget; on the
# 2-core CPU use MINUTES=10 THREADS=1 under flock /tmp/adaptlang-heavy.lock, one pair at a time), DEVICE (auto),
# THREADS (torch threads, default: torch's), SEED (42), UD (../shared/data/ud), OUT (benchmarks/results/donors),
# PY (.venv/bin/adaptlang), EXTRA (more `train` options for every run, e.g. "--subword-dropout 0.1"),
# TARGET_SENTENCES (few-shot: both runs train on the first N target sentences; run names get -fewN),
# LOCK (a lock file: each train / evaluate command runs under `flock LOCK`, e.g. /tmp/adaptlang-heavy.lock),
# ENCODER=baseline (the from-scratch BiLSTM of `adaptlang baseline` instead of `train --model MODEL`; run names get
# -bilstm), ENCODER=features (that BiLSTM plus MODEL's frozen vectors, `baseline --embeddings MODEL`: what a CPU
# trains to convergence; run names get -feat), VARIANTS (default "alone donor"; VARIANTS=alone in one process and
# VARIANTS=donor in another run a pair on two cores at once; the table is complete after the later one).
#
# Pairs (UD file names as shared):
#   ug-arab  Uyghur-UDT (Arabic script) + Turkish-IMST transliterated to Arabic script (--donor-translit target)
#   ug-latn  Uyghur-UDT transliterated to Latin (table:ug-turkish, all its files) + Turkish-IMST as it is
#   pcm      Naija-NSC + English-EWT
#   fo-oft   Faroese-FarPaHC + Faroese-OFT (its only file, the test set, as the donor: another Faroese treebank)
#   fo-de    Faroese-FarPaHC + German-GSD (its dev set: the shared copy has no training file)
# Each run writes OUT/<pair>-<alone|donor>/ (the model) and OUT/<pair>-<alone|donor>.json (test scores); the table
# at the end is OUT/summary.tsv (LAS with its 95% bootstrap interval; the donor run's gain with its paired interval,
# from OUT/<pair>-paired.json: benchmarks/paired_diff.py, run once both sides of a pair are done).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-/work/models/e5-small}
MINUTES=${MINUTES:-20}
DEVICE=${DEVICE:-auto}
SEED=${SEED:-42}
UD=${UD:-../shared/data/ud}
OUT=${OUT:-benchmarks/results/donors}
PY=${PY:-.venv/bin/adaptlang}
EXTRA=${EXTRA:-}
THREADS_OPT=()
FEW_OPT=()
SUFFIX=""
if [ -n "${TARGET_SENTENCES:-}" ]; then FEW_OPT=(--target-sentences "$TARGET_SENTENCES"); SUFFIX="-few$TARGET_SENTENCES"; fi
TRAINER=(train --model "$MODEL")
if [ "${ENCODER:-}" = baseline ]; then TRAINER=(baseline); SUFFIX="$SUFFIX-bilstm"; fi
if [ "${ENCODER:-}" = features ]; then TRAINER=(baseline --embeddings "$MODEL"); SUFFIX="$SUFFIX-feat"; fi
adl() { if [ -n "${LOCK:-}" ]; then flock "$LOCK" "$PY" "$@"; else "$PY" "$@"; fi; }
[ -n "${THREADS:-}" ] && THREADS_OPT=(--threads "$THREADS")
mkdir -p "$OUT"

latin_uyghur() {  # the Uyghur files in Latin script, once
    for split in train dev test; do
        [ -s "$OUT/ug_latn-$split.conllu" ] || "$PY" transliterate "$UD/UD_Uyghur-UDT/ug_udt-ud-$split.conllu" \
            --scheme table:ug-turkish --format conllu -o "$OUT/ug_latn-$split.conllu" >/dev/null
    done
}

run() {  # run PAIR VARIANT TRAIN DEV TEST [train options...]
    local pair=$1 variant=$2 train=$3 dev=$4 test=$5
    shift 5
    local model="$OUT/$pair$SUFFIX-$variant"
    case " ${VARIANTS:-alone donor} " in *" $variant "*) ;; *) return 0 ;; esac
    if [ ! -s "$model.json" ]; then
        echo "== $pair $variant: $(date -u +%FT%TZ)" >&2
        adl "${TRAINER[@]}" --train "$train" --dev "$dev" -o "$model" --max-minutes "$MINUTES" \
            --epochs 100 --seed "$SEED" --device "$DEVICE" "${THREADS_OPT[@]}" --force -q \
            --json "$model.train.json" "${FEW_OPT[@]}" $EXTRA "$@"
        adl evaluate "$model" "$test" --device "$DEVICE" "${THREADS_OPT[@]}" --json "$model.json"
    fi
    local base="$OUT/$pair$SUFFIX"  # both sides done: the paired bootstrap of donor - alone on the test sentences
    if [ -s "$base-alone.json" ] && [ -s "$base-donor.json" ] && [ ! -s "$base-paired.json" ]; then
        ${LOCK:+flock "$LOCK"} .venv/bin/python benchmarks/paired_diff.py "$test" "$base-alone" "$base-donor" \
            --device "$DEVICE" --json "$base-paired.json" >/dev/null
    fi
}

pair() {
    local name=$1
    case $name in
        ug-arab)
            local t="$UD/UD_Uyghur-UDT/ug_udt-ud"
            run "$name" alone "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu"
            run "$name" donor "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu" \
                --donor "$UD/UD_Turkish-IMST/tr_imst-ud-train.conllu" --donor-translit target ;;
        ug-latn)
            latin_uyghur
            local t="$OUT/ug_latn"
            run "$name" alone "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu"
            run "$name" donor "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu" \
                --donor "$UD/UD_Turkish-IMST/tr_imst-ud-train.conllu" ;;
        pcm)
            local t="$UD/UD_Naija-NSC/pcm_nsc-ud"
            run "$name" alone "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu"
            run "$name" donor "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu" \
                --donor "$UD/UD_English-EWT/en_ewt-ud-train.conllu" ;;
        fo-oft|fo-de)
            local t="$UD/UD_Faroese-FarPaHC/fo_farpahc-ud" donor="$UD/UD_Faroese-OFT/fo_oft-ud-test.conllu"
            [ "$name" = fo-de ] && donor="$UD/UD_German-GSD/de_gsd-ud-dev.conllu"
            run "$name" alone "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu"
            run "$name" donor "$t-train.conllu" "$t-dev.conllu" "$t-test.conllu" --donor "$donor" ;;
        *) echo "unknown pair $name (ug-arab ug-latn pcm fo-oft fo-de)" >&2; exit 2 ;;
    esac
}

pairs=("$@")
[ ${#pairs[@]} -eq 0 ] && pairs=(ug-arab ug-latn pcm fo-oft fo-de)
for p in "${pairs[@]}"; do pair "$p"; done

.venv/bin/python - "$OUT" "$SUFFIX" "${pairs[@]}" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = ["pair\talone LAS [95% CI]\tdonor LAS [95% CI]\tdonor - alone [paired 95% CI]\tepochs alone / donor"]
for pair in (p + sys.argv[2] for p in sys.argv[3:]):
    got = {}
    for v in ("alone", "donor"):
        f, t = out / f"{pair}-{v}.json", out / f"{pair}-{v}.train.json"
        if f.is_file():
            s, tr = json.loads(f.read_text()), json.loads(t.read_text()) if t.is_file() else {}
            lo, hi = s.get("ci", {}).get("las", [float("nan")] * 2)
            got[v] = (s["las"], f"{s['las']:.2f} [{lo:.2f}-{hi:.2f}]", tr.get("epochs_run", "?"))
    paired = out / f"{pair}-paired.json"
    ci = ""
    if paired.is_file():
        lo, hi = json.loads(paired.read_text())["diff_b_minus_a"]["las"]["ci"]
        ci = f" [{lo:+.2f}, {hi:+.2f}]"
    if len(got) == 2:
        rows.append(f"{pair}\t{got['alone'][1]}\t{got['donor'][1]}\t{got['donor'][0] - got['alone'][0]:+.2f}{ci}\t"
                    f"{got['alone'][2]} / {got['donor'][2]}")
(out / f"summary{sys.argv[2]}.tsv").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
EOF
