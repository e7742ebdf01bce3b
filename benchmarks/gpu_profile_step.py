"""Where a training step's time goes: any `adaptlang` training command (train, baseline, adapt, ...) with one whole
optimizer step of the training core profiled (torch.profiler, CPU and CUDA activity), every step timed, and an A/B of
the deterministic-algorithms switch that `train` turns on.

On an H200 (benchmarks/RESULTS.md, "gpu_throughput.sh on one NVIDIA H200") a step of the mBERT-sized parser took
0.19-0.25 s whether it held 32 sentences or 2,500 words, about 3 ms of arithmetic, and adapt at 64 x 128 spent about
20 ms a step more than the plain MLM loop: costs per step. This shows which operators and CUDA API calls
(synchronisations, copies) take them. After `gpu_throughput.sh` (its model and Wolof data), on the GPU machine:

    python benchmarks/gpu_profile_step.py --out /tmp/gt/prof -- train --train /tmp/gt/data/train.conllu \
        --dev /tmp/gt/data/dev.conllu --model /tmp/gt/model --epochs 1 --batch-size 32 -o /tmp/gt/prof/parser --force -q
    python benchmarks/gpu_profile_step.py --out /tmp/gt/prof --no-deterministic -- train ...     # the A/B
    python benchmarks/gpu_profile_step.py --out /tmp/gt/prof --name adapt -- adapt /tmp/gt/data/corpus.txt \
        --model /tmp/gt/model -o /tmp/gt/prof/mlm --batch-size 64 --steps 40 --pppl-tokens 0 --force -q

Since f2d53c6 `train` sets CUBLAS_WORKSPACE_CONFIG=:4096:8 with the deterministic algorithms (without it torch warns
on every cuBLAS product, one suspect for the per-step cost); an empty value is kept, so prefixing the first command
with `CUBLAS_WORKSPACE_CONFIG=` measures the code before that change in the same session.

CPU check: the same with `SMALL=1 benchmarks/gpu_throughput.sh`'s /tmp/gt-small and `--device cpu --threads 1`.

Writes OUT/profile-NAME.txt (operator tables by CPU time, calls and GPU time) and OUT/profile-NAME.json (every step's
time, the mean after the profiled step); prints the summary and the table by CPU time. NAME: --name, else the
command, plus "-nondeterministic" with --no-deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None)
    ap.add_argument("--profile-step", type=int, default=10, help="the step profiled (earlier ones warm up)")
    ap.add_argument("--no-deterministic", action="store_true", help="leave torch's deterministic algorithms off")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the adaptlang command and its options")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the adaptlang command after --")

    import torch
    from torch.profiler import ProfilerActivity, profile

    from adaptlang.engine import loop

    setting = (args.name or command[0]) + ("-nondeterministic" if args.no_deterministic else "")
    if args.no_deterministic:
        torch.use_deterministic_algorithms = lambda *a, **k: None  # type: ignore[assignment]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    original = loop._Loop._step
    record: dict = {"setting": setting, "command": command, "step_seconds": []}
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
        record["units"] = dict(self.run_units)  # sentences / tokens trained so far in this run
        return loss

    loop._Loop._step = timed_step  # type: ignore[method-assign]
    from adaptlang.cli.main import main as cli

    sys.argv = ["adaptlang", *command]
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
