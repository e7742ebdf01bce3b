"""Where a `train` step's time goes: `adaptlang train` with one training step profiled (torch.profiler, CPU and CUDA
activity), and an A/B of the deterministic-algorithms switch that `train` turns on.

On an H200 (benchmarks/RESULTS.md, "gpu_throughput.sh on one NVIDIA H200") a step of the mBERT-sized parser took
0.19-0.25 s whether it held 32 sentences or 2,500 words, about 3 ms of arithmetic: the cost is per step. This script
shows which operators and CUDA API calls (synchronisations, copies) take it. Run it after `gpu_throughput.sh` (it reads
that script's model and Wolof data), one process per setting:

    python benchmarks/gpu_profile_train.py --model /tmp/gt/model --data /tmp/gt/data --out /tmp/gt/profile
    python benchmarks/gpu_profile_train.py ... --no-deterministic      # the A/B: the switch left off

CPU check (tiny model of `SMALL=1 benchmarks/gpu_throughput.sh`):

    python benchmarks/gpu_profile_train.py --model /tmp/gt-small/model --data /tmp/gt-small/data --out /tmp/prof \
        --device cpu --threads 1

Writes OUT/profile-<setting>.txt (operator tables) and OUT/profile-<setting>.json (every step's time, the steady
mean after the profiled step); prints the summary and the table by CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with train.conllu and dev.conllu")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--profile-step", type=int, default=10, help="the step profiled (earlier ones warm up)")
    ap.add_argument("--no-deterministic", action="store_true", help="leave torch's deterministic algorithms off")
    args = ap.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from adaptlang.engine import loop

    setting = "nondeterministic" if args.no_deterministic else "deterministic"
    if args.no_deterministic:
        torch.use_deterministic_algorithms = lambda *a, **k: None  # type: ignore[assignment]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    original = loop._Loop._step
    record: dict = {"setting": setting, "step_seconds": [], "sentences": 0}
    tables: list[str] = []

    def timed_step(self, micro_batches):  # type: ignore[no-untyped-def]
        """One whole optimizer step of the training core: forward, backward, update."""
        cuda = self.acc.device.type == "cuda"
        n = len(record["step_seconds"]) + 1
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        if n != args.profile_step:
            loss = original(self, micro_batches)
        else:
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
            with profile(activities=activities) as prof:
                loss = original(self, micro_batches)
                if cuda:
                    torch.cuda.synchronize()
            events = prof.key_averages()
            record["profiled_ops"] = sum(e.count for e in events)
            for key in ("self_cpu_time_total", "count") + (("self_device_time_total",) if cuda else ()):
                tables.append(f"## sorted by {key}\n" + events.table(sort_by=key, row_limit=30))
        if cuda:
            torch.cuda.synchronize()
        record["step_seconds"].append(round(time.perf_counter() - start, 4))
        record["sentences"] += sum(len(b) for b in micro_batches)
        return loss

    loop._Loop._step = timed_step  # type: ignore[method-assign]
    from adaptlang.cli.main import main as cli

    argv = ["adaptlang", "train", "--train", f"{args.data}/train.conllu", "--dev", f"{args.data}/dev.conllu",
            "--model", args.model, "--epochs", "1", "--device", args.device, "--seed", "1", "--force", "--quiet",
            "--batch-size", str(args.batch_size), "-o", str(out / f"parser-{setting}")]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    sys.argv = argv
    try:
        cli()
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    steady = record["step_seconds"][args.profile_step:] or record["step_seconds"]
    record["steady_step_seconds"] = round(sum(steady) / max(1, len(steady)), 4)
    record["steps"] = len(record["step_seconds"])
    (out / f"profile-{setting}.txt").write_text("\n\n".join(tables), encoding="utf-8")
    (out / f"profile-{setting}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(f"{setting}: {record['steps']} steps, steady {record['steady_step_seconds'] * 1000:.1f} ms a step "
          f"(forward, backward, update), {record.get('profiled_ops', 0)} operators in the profiled step; tables in "
          f"{out}/profile-{setting}.txt")
    print(tables[0] if tables else "(no step profiled)")


if __name__ == "__main__":
    main()
