"""Benchmark of ``adaptlang baseline`` + ``adaptlang evaluate`` on UD treebanks, next to UDPipe 2.

Run by hand, one treebank per call (it trains a real model; on a shared CPU, serialise heavy jobs)::

    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_baseline.py UD_Wolof-WTB --max-minutes 12

It runs the two commands exactly as a user would (subprocesses), then records test UPOS / UAS / LAS (with bootstrap
95% CI), the training wall time, the peak resident memory of the training process, and the reference scores. One
JSON per run goes to ``benchmarks/results/baseline-<treebank>-<tag>.json``; a Markdown row is printed. Options
after ``--`` go to ``adaptlang baseline`` unchanged (e.g. ``-- --char-model cnn --hidden 200``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchdata import REPO, UD, split_file


def split(treebank: str, part: str) -> Path | None:
    return split_file(treebank, part, required=False)
# The console script of this interpreter's environment, or ``python -m adaptlang`` where it is not installed.
_SCRIPT = Path(sys.executable).parent / "adaptlang"
ADAPTLANG = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "adaptlang"]

# UDPipe 2 (UD 2.15 models, gold tokenisation; it uses mBERT-style contextual embeddings), UPOS / UAS / LAS.
UDPIPE2 = {
    "UD_Wolof-WTB": (95.08, 86.19, 80.86),
    "UD_Uyghur-UDT": (90.21, 77.35, 66.34),
    "UD_Maltese-MUDT": (95.75, 85.32, 80.19),
    "UD_Faroese-FarPaHC": (97.56, 87.32, 83.35),
    "UD_Naija-NSC": (98.15, 93.13, 90.58),
}


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("treebank", help="e.g. UD_Wolof-WTB")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--max-minutes", type=float, default=12.0, help="training budget (the LR decay is planned to fit)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="training and evaluation device")
    ap.add_argument("--tag", default="default")
    ap.add_argument("--workdir", default="/tmp/adaptlang-bench-baseline")
    args = ap.parse_args(argv)

    train, dev, test = (split(args.treebank, p) for p in ("train", "dev", "test"))
    if train is None or test is None:
        raise SystemExit(f"{args.treebank}: needs train and test files under {UD / args.treebank}")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    model = work / f"{args.treebank}-{args.tag}"
    cmd = [*ADAPTLANG, "baseline", "--train", str(train), "-o", str(model), "--epochs", str(args.epochs),
           "--max-minutes", str(args.max_minutes), "--seed", str(args.seed), "--threads", str(args.threads),
           "--device", args.device, "--force", "--json", str(work / f"{args.treebank}-{args.tag}.train.json"), *extra]
    if dev is not None:
        at = cmd.index("-o")
        cmd[at:at] = ["--dev", str(dev)]
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    wall = time.monotonic() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # the same thread count as training (several threads crawl on a busy machine)
    ecmd = [*ADAPTLANG, "evaluate", str(model), str(test), "--json", "-", "--device", args.device,
            "--threads", str(args.threads)]
    print("$", " ".join(ecmd), flush=True)
    scores = json.loads(subprocess.run(ecmd, check=True, capture_output=True, text=True).stdout)
    trained = json.loads((work / f"{args.treebank}-{args.tag}.train.json").read_text(encoding="utf-8"))
    ref = UDPIPE2.get(args.treebank)
    row = {
        "treebank": args.treebank, "tag": args.tag, "extra_options": extra,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, device {args.device}, torch threads {args.threads}",
        "command": " ".join(cmd), "upos": scores["upos"], "uas": scores["uas"], "las": scores["las"],
        "ci": scores["ci"], "n_test_words": scores["n_words"], "train_wall_s": round(wall, 1),
        "peak_memory_mb": round(peak_mb), "best_epoch": trained["best_epoch"], "epochs_run": trained["epochs_run"],
        "dev": trained["dev"], "n_parameters": trained["n_parameters"], "encoder": trained["encoder"],
        "udpipe2": dict(zip(("upos", "uas", "las"), ref)) if ref else None,
    }
    out = REPO / "benchmarks" / "results" / f"baseline-{args.treebank}-{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    gap = f"{scores['las'] - ref[2]:+.2f}" if ref else "-"
    ref_s = " / ".join(f"{x:.2f}" for x in ref) if ref else "-"
    print(f"| {args.treebank} | {scores['upos']:.2f} / {scores['uas']:.2f} / {scores['las']:.2f} | {ref_s} | {gap} | "
          f"{wall / 60:.1f} min ({trained['epochs_run']} ep, best {trained['best_epoch']}) | {peak_mb:.0f} MB |")


if __name__ == "__main__":
    main()
