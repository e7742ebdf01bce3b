"""Seconds per epoch of ``adaptlang baseline``, the code before the speed work against the current code, in one run.

Run by hand (it trains two models for a few epochs; on a shared CPU, serialise heavy jobs)::

    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_baseline_speed.py

The earlier code is checked out into a temporary ``git worktree`` (``--before``, by default the commit before the
speed work) and run with ``PYTHONPATH=<worktree>/src``; the current code with ``PYTHONPATH=<repo>/src``. Both run
the same command on the same data (Wolof-WTB train and dev by default), the same seed and settings, one torch
thread, the same number of epochs, one after the other (``--rounds`` alternates them more times). An epoch's
seconds are the training core's (training plus the dev evaluation, wall time); CPU seconds are the whole process's.
Prints a Markdown table and the ratio; writes ``benchmarks/results/baseline-speed-<treebank>.json``.

``--after-options`` / ``--before-options`` add ``adaptlang baseline`` options to one side (a smaller model against
the default, e.g. ``--after-options="--hidden 128 --layers 2"``); ``--tag`` names the JSON. Such a pair compares
seconds per epoch only: whether the smaller model is as good at equal minutes is for ``bench_baseline.py`` at a
fixed ``--max-minutes`` (``benchmarks/bench_baseline_size.sh`` runs those pairs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from benchdata import REPO, split_file

BEFORE = "4b86d3c"  # the last commit before the baseline speed work (the next one, ad29936, is its first)


def run_version(src: Path, train: Path, dev: Path, out: Path, args: argparse.Namespace, options: str = "") -> dict:
    """One ``adaptlang baseline`` run with the package imported from ``src``; its per-epoch figures."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", "import adaptlang; print(adaptlang.__file__)"], env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"PYTHONPATH={src} imports adaptlang from {where}; run from an environment without it")
    result = out.with_suffix(".json")
    cmd = [sys.executable, "-m", "adaptlang", "baseline", "--train", str(train), "--dev", str(dev), "-o", str(out),
           "--epochs", str(args.epochs), "--seed", str(args.seed), "--threads", "1", "--device", "cpu", "--force",
           "--json", str(result), *shlex.split(options)]
    print("$ PYTHONPATH=" + str(src), " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    r = json.loads(result.read_text(encoding="utf-8"))
    epochs = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs"]  # the core's epoch records
    seconds = [e["seconds"] for e in epochs]
    return {"src": str(src), "options": options, "epoch_seconds": seconds, "median_epoch_s": statistics.median(seconds),
            "cpu_seconds": r["cpu_seconds"], "train_seconds": r["train_seconds"],
            "dev_las_per_epoch": [e["dev"].get("las") for e in epochs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--treebank", default="UD_Wolof-WTB")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--before", default=BEFORE, help="git revision of the earlier code")
    ap.add_argument("--rounds", type=int, default=1, help="before/after pairs, alternated")
    ap.add_argument("--before-options", default="", help="adaptlang baseline options of the earlier code's runs")
    ap.add_argument("--after-options", default="", help="adaptlang baseline options of the current code's runs")
    ap.add_argument("--tag", default="", help="suffix of the JSON record's name")
    args = ap.parse_args()
    train, dev = split_file(args.treebank, "train"), split_file(args.treebank, "dev")
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-baseline-speed-") as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), args.before],
                       check=True)
        try:
            for i in range(args.rounds):
                for name, src, opts in (("before", tree / "src", args.before_options),
                                        ("after", REPO / "src", args.after_options)):
                    runs[name].append(run_version(src, train, dev, Path(tmp) / f"{name}-{i}", args, opts))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    before = statistics.median(s for r in runs["before"] for s in r["epoch_seconds"])
    after = statistics.median(s for r in runs["after"] for s in r["epoch_seconds"])
    cpu_before = statistics.median(r["cpu_seconds"] for r in runs["before"])
    cpu_after = statistics.median(r["cpu_seconds"] for r in runs["after"])
    row = {"treebank": args.treebank, "epochs": args.epochs, "rounds": args.rounds, "seed": args.seed,
           "before_revision": args.before, "before_options": args.before_options,
           "after_options": args.after_options,
           "after_revision": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip(),
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads 1",
           "median_epoch_s": {"before": before, "after": after}, "speedup_per_epoch": round(before / after, 2),
           "process_cpu_s": {"before": cpu_before, "after": cpu_after},
           "speedup_cpu": round(cpu_before / cpu_after, 2), "runs": runs}
    out = REPO / "benchmarks" / "results" / f"baseline-speed-{args.treebank}{'-' + args.tag if args.tag else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    print("| code | seconds per epoch (median, training + dev evaluation) | process CPU seconds "
          f"({args.epochs} epochs, with start-up) |\n| --- | ---: | ---: |")
    print(f"| before ({args.before} {args.before_options}) | {before:.2f} | {cpu_before:.1f} |")
    print(f"| after ({row['after_revision']} {args.after_options}) | {after:.2f} | {cpu_after:.1f} |")
    print(f"speed-up per epoch: {before / after:.2f}x (process CPU time: {cpu_before / cpu_after:.2f}x)")


if __name__ == "__main__":
    main()
