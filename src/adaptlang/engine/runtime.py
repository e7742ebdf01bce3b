"""Where and how a job runs: device choice, CPU threads, seeds, peak memory, CPU time. One implementation each,
used by every command that runs a model."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import resource
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaptlang.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """``--device``: auto (CUDA when available), cpu, cuda or cuda:N."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return dev


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``. A CPU tensor bound for CUDA goes through pinned memory without blocking: a copy from
    pageable memory waits until the GPU has finished all its queued work, so a batch's copies would leave it idle
    while the next step is launched."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def set_threads(threads: int | None) -> None:
    """``--threads``: torch's intra-op CPU threads (None: torch's default)."""
    if threads is not None:
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        torch.set_num_threads(threads)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def deterministic() -> None:
    """Deterministic kernels (warnings where torch has none), with cuBLAS's deterministic workspace on CUDA.

    Without ``CUBLAS_WORKSPACE_CONFIG`` cuBLAS may split its reductions differently from run to run, and torch warns
    on every such matrix product (hundreds per step). It is read when cuBLAS starts, so set it before the first CUDA
    product; a value the user set is kept."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def derived_seed(*parts: int) -> int:
    """A seed that is a pure function of ``parts`` (e.g. run seed, step, process): resuming at any step replays the
    same random numbers as an uninterrupted run, on any number of processes."""
    digest = hashlib.sha256(",".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63 - 1)


def reset_peak_memory() -> None:
    """Start measuring peak memory afresh, so that loading a model does not count as training memory: CUDA's
    allocator statistics, and Linux's resident-set high-water mark (``/proc/self/clear_refs``)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb(device: torch.device | None = None) -> float:
    """Peak memory since :func:`reset_peak_memory` (or process start): CUDA memory allocated on a GPU, else the
    resident-set high-water mark (Linux's VmHWM; elsewhere the whole process's maximum resident set)."""
    if device is not None and device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    try:
        status = Path("/proc/self/status").read_text()
        return round(int(status.split("VmHWM:", 1)[1].split()[0]) / 1024, 1)
    except (OSError, IndexError, ValueError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (wall time depends on other load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_lock(out: str | Path) -> "contextlib.AbstractContextManager[Any]":
    """The lock on a job's OUT (:func:`adaptlang.fileio.output_lock`), taken by the main process only: the other
    processes of an ``accelerate launch`` / ``torchrun`` job write nothing there."""
    import os

    from adaptlang.fileio import output_lock

    if os.environ.get("RANK", "0") != "0":
        return contextlib.nullcontext()
    return output_lock(out)
