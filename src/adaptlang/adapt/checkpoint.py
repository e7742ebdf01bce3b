"""Training checkpoints: safetensors + JSON, written atomically, newest one found through ``latest.json``.

Layout under ``OUT/checkpoints/``: ``step-000120/`` (``params.safetensors``: trainable parameters,
``optimizer.safetensors``: AdamW moments, ``state.json``: step, figures so far, optimiser hyper-parameters),
``tokenizer/`` (the tokenizer the run trains with, written once) and ``latest.json`` (``{"step": 120}``), replaced
with one ``os.replace`` only after the step directory is complete, so a crash or a full disk while saving leaves the
previous checkpoint in force.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from adaptlang.errors import AdaptlangError
from adaptlang.fileio import atomic_path, write_json_atomic

CHECKPOINTS = "checkpoints"


class CheckpointError(AdaptlangError):
    """Saving or loading a checkpoint failed (the previous one, if any, is intact)."""


def checkpoint_root(out: Path) -> Path:
    return out / CHECKPOINTS


def latest_step(out: Path) -> int | None:
    latest = checkpoint_root(out) / "latest.json"
    if not latest.is_file():
        return None
    try:
        step = int(json.loads(latest.read_text(encoding="utf-8"))["step"])
    except (ValueError, KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{latest}: unreadable; delete {checkpoint_root(out)} and start over with --force")
    if not (checkpoint_root(out) / step_dir_name(step) / "state.json").is_file():
        raise CheckpointError(f"{latest}: names step {step}, whose checkpoint is missing; start over with --force")
    return step


def step_dir_name(step: int) -> str:
    return f"step-{step:07d}"


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path))


def save_checkpoint(
    out: Path,
    step: int,
    params: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    """Write checkpoint ``step`` atomically; on success make it the latest and delete older ones."""
    root = checkpoint_root(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    previous = latest_step(out)
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_meta: dict[str, Any] = {}
    for idx, pstate in optimizer_state["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                opt_tensors[f"{idx}.{key}"] = value
            else:
                opt_meta[f"{idx}.{key}"] = value
    try:
        with atomic_path(final) as tmp:
            tmp.mkdir()
            _save_tensors(params, tmp / "params.safetensors")
            _save_tensors(opt_tensors, tmp / "optimizer.safetensors")
            full_state = dict(state, step=step, optimizer_param_groups=optimizer_state["param_groups"],
                              optimizer_meta=opt_meta)
            (tmp / "state.json").write_text(json.dumps(full_state, indent=2, ensure_ascii=False), encoding="utf-8")
            _fsync_dir(tmp)
        write_json_atomic(root / "latest.json", {"step": step})
    except OSError as e:
        kept = f"the previous checkpoint (step {previous}) is intact" if previous is not None else "no checkpoint kept"
        what = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise CheckpointError(
            f"{root}: {what} while saving the checkpoint of step {step}; {kept}; free space and rerun with --resume"
        ) from None
    for old in root.glob("step-*"):
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """Return (trainable parameters, optimizer state dict, run state) of checkpoint ``step``."""
    d = checkpoint_root(out) / step_dir_name(step)
    try:
        params = load_file(str(d / "params.safetensors"))
        opt_tensors = load_file(str(d / "optimizer.safetensors"))
        state = json.loads((d / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{d}: cannot read the checkpoint ({e}); start over with --force") from None
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in opt_tensors.items():
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    for key, value in state.pop("optimizer_meta", {}).items():
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    optimizer_state = {"state": per_param, "param_groups": state.pop("optimizer_param_groups")}
    return params, optimizer_state, state


def _fsync_dir(d: Path) -> None:
    for f in d.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
