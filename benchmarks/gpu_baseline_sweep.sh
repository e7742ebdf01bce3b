#!/usr/bin/env bash
# A short sweep of `adaptlang baseline` settings on a lent GPU machine (results in RESULTS.md, "baseline sweep"):
# six settings x Maltese-MUDT and Faroese-FarPaHC, all twelve at once, each with the same --max-minutes budget.
#
#   BUDGET=2.8 benchmarks/gpu_baseline_sweep.sh     (inputs as for gpu_session.sh: .dev2/ud.tar.xz, .dev2/whl)
set -u
BUDGET=${BUDGET:-2.8}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
out=${OUT:-/tmp/gpu-out}
work=/tmp/sweep
mkdir -p "$out" "$work/logs"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
pack() { tar -czf "$out/sweep-results.tgz" -C / tmp/sweep/logs "${PWD#/}/benchmarks/results" 2>/dev/null; }
trap pack EXIT
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .dev2/whl/*.whl
export PYTHONPATH=$PWD/src:/tmp/site ADAPTLANG_UD=/tmp/ud
$PY -c "import tarfile; tarfile.open('.dev2/ud.tar.xz').extractall('/tmp/ud', filter='data')"
declare -A settings=(
    [default]=""
    [b2]="--beta2 0.9"
    [b2-lr3]="--beta2 0.9 --lr 3e-3"
    [b2-cnn]="--beta2 0.9 --char-model cnn"
    [b2-h400]="--beta2 0.9 --hidden 400"
    [b2-drop25]="--beta2 0.9 --dropout 0.25"
)
for tb in UD_Maltese-MUDT UD_Faroese-FarPaHC; do
    for name in "${!settings[@]}"; do
        # shellcheck disable=SC2086
        $PY benchmarks/bench_baseline.py $tb --max-minutes "$BUDGET" --epochs 200 --threads 1 --device "$DEVICE" \
            --tag "sweep-$name" --workdir $work/models -- ${settings[$name]} > "$work/logs/$tb-$name.log" 2>&1 &
    done
done
wait
grep -h "^| UD_" $work/logs/*.log | sort
