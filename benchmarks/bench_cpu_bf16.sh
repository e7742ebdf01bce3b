#!/usr/bin/env bash
# bf16 autocast on the CPU (`--cpu-bf16`) against float32, same data, same steps, one thread, alternated:
#   baseline  the BiLSTM on Wolof-WTB, 2 epochs (train + dev evaluation)
#   train     e5-small fine-tuned on the first 200 Wolof training sentences, 1 epoch (dev: the next 100)
#   adapt     MLM adaptation of e5-small on the shared raw Wolof text, 8 steps of 16 x 128 tokens
#
#   benchmarks/bench_cpu_bf16.sh            (about 6 minutes on an idle core; needs /work/models/e5-small or MODEL)
# Environment: MODEL, UD (../shared/data/ud), RAW (../shared/data/raw/wol/wol.txt), OUT (/tmp/cpu-bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-/work/models/e5-small}
UD=${UD:-../shared/data/ud}/UD_Wolof-WTB
RAW=${RAW:-../shared/data/raw/wol/wol.txt}
OUT=${OUT:-/tmp/cpu-bf16}
A=.venv/bin/adaptlang
mkdir -p "$OUT"
.venv/bin/python - "$UD/wo_wtb-ud-train.conllu" "$OUT" <<'PY'
import sys
s = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
open(f"{sys.argv[2]}/train200.conllu", "w", encoding="utf-8").write("\n\n".join(s[:200]) + "\n\n")
open(f"{sys.argv[2]}/dev100.conllu", "w", encoding="utf-8").write("\n\n".join(s[200:300]) + "\n\n")
PY
for m in bf16 fp32; do
  opt=(); [ $m = bf16 ] && opt=(--cpu-bf16)
  $A baseline --train "$UD/wo_wtb-ud-train.conllu" --dev "$UD/wo_wtb-ud-dev.conllu" --epochs 2 --threads 1 \
      --device cpu "${opt[@]}" -o "$OUT/baseline-$m" --force -q --json "$OUT/baseline-$m.json" >/dev/null
  $A train --train "$OUT/train200.conllu" --dev "$OUT/dev100.conllu" --model "$MODEL" --epochs 1 --threads 1 \
      --device cpu "${opt[@]}" -o "$OUT/train-$m" --force -q --json "$OUT/train-$m.json" >/dev/null
  $A adapt "$RAW" -m "$MODEL" -o "$OUT/adapt-$m" --steps 8 --pppl-tokens 0 --threads 1 --no-head-warmup \
      "${opt[@]}" --force -q --json "$OUT/adapt-$m.json" >/dev/null
done
.venv/bin/python - "$OUT" <<'PY'
import json, sys
o = sys.argv[1]
for job in ("baseline", "train"):
    r = {m: json.load(open(f"{o}/{job}-{m}.json")) for m in ("fp32", "bf16")}
    print(f"{job}: train s fp32 {r['fp32']['train_seconds']} bf16 {r['bf16']['train_seconds']} "
          f"({r['fp32']['train_seconds'] / r['bf16']['train_seconds']:.2f}x); dev LAS {r['fp32']['dev']['las']:.2f} / "
          f"{r['bf16']['dev']['las']:.2f}")
r = {m: json.load(open(f"{o}/adapt-{m}.json")) for m in ("fp32", "bf16")}
print(f"adapt: tokens/s fp32 {r['fp32']['tokens_per_second']} bf16 {r['bf16']['tokens_per_second']} "
      f"({r['bf16']['tokens_per_second'] / r['fp32']['tokens_per_second']:.2f}x); held-out loss after "
      f"{r['fp32']['heldout']['mlm_loss_after']} / {r['bf16']['heldout']['mlm_loss_after']}")
PY
