#!/usr/bin/env bash
# The categorize and analysis experiments of benchmarks/RESULTS.md, with the CPU budgets used there.
#
#   flock /tmp/adaptlang-heavy.lock benchmarks/categorize_experiments.sh wolof|naija|uyghur|random-init|cka [ROOT]
#
# Each experiment writes ROOT/<name> (default ROOT=/tmp). Every command is resumable: run the same line again after
# an interruption and finished stages are reused. The MLM corpus of each language is the `# text` lines of its
# training treebank (not its test set).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: $0 wolof|naija|uyghur|random-init|cka [ROOT]}
root=${2:-/tmp}
UD=../shared/data/ud
AL=.venv/bin/adaptlang
E5=/work/models/e5-small
mkdir -p "$root/catdata"

categorize() {  # name treebank prefix lang [extra options]
    local name=$1 tb=$2 prefix=$3 lang=$4
    shift 4
    local corpus="$root/catdata/$tb.train-text.txt"
    grep '^# text = ' "$UD/$tb/$prefix-ud-train.conllu" | sed 's/^# text = //' > "$corpus"
    /usr/bin/time -v $AL categorize --corpus "$corpus" \
        --train "$UD/$tb/$prefix-ud-train.conllu" --test "$UD/$tb/$prefix-ud-test.conllu" \
        --model $E5 --lang "$lang" -o "$root/cat-$name" \
        --seeds 3 --max-train-sentences 500 --epochs 8 --baseline-epochs 30 --adapt-steps 100 "$@"
}

case $what in
    wolof) categorize wolof UD_Wolof-WTB wo_wtb wo ;;
    naija) categorize naija UD_Naija-NSC pcm_nsc pcm ;;
    uyghur) categorize uyghur UD_Uyghur-UDT ug_udt ug --translit table:ug-turkish ;;
    random-init)
        /usr/bin/time -v $AL analyze random-init --train $UD/UD_English-EWT/en_ewt-ud-train.conllu \
            --test $UD/UD_English-PUD/en_pud-ud-test.conllu --test-cross $UD/UD_German-PUD/de_pud-ud-test.conllu \
            --model $E5 --pairs 1-2,5-6,11-12 --max-train-sentences 800 --epochs 2 -o "$root/ri-e5" ;;
    cka)  # before / after fine-tuning on English (the REF model of the random-init experiment)
        ref=$(ls -d "$root"/ri-e5/stages/REF-*/model)
        /usr/bin/time -v $AL analyze cka --model $E5 --model-after "$ref" \
            --source $UD/UD_English-PUD/en_pud-ud-test.conllu --target $UD/UD_German-PUD/de_pud-ud-test.conllu \
            --target $UD/UD_Arabic-PUD/ar_pud-ud-test.conllu -o "$root/cka-pud-after" --force ;;
    *) echo "unknown experiment: $what" >&2; exit 2 ;;
esac
