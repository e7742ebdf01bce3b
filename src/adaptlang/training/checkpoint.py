"""Checkpoints as data: tensors in safetensors, everything else in JSON (never pickles).

A resumable checkpoint holds the *trainable* parameters only (frozen ones are rebuilt identically from the run's
config), the optimizer's per-parameter tensors, the scheduler position, the torch RNG state and the loop's
bookkeeping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from adaptlang.errors import ModelError
from adaptlang.fileio import atomic_path


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise ModelError(f"checkpoint does not match the model (missing {missing[:3]}, unexpected {unknown[:3]})")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t.to(params[n].device, params[n].dtype))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ModelError(f"{path}: cannot read tensors: {e}") from None


def save_checkpoint(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, loop_state: dict[str, Any]) -> None:
    """Write a resumable checkpoint into ``directory`` atomically (replacing the previous one)."""
    with atomic_path(directory) as tmp:
        tmp.mkdir()
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        opt = optimizer.state_dict()
        tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
        scalars: dict[str, dict[str, Any]] = {}
        for pid, st in opt["state"].items():
            for key, value in st.items():
                if torch.is_tensor(value):
                    tensors[f"opt.{pid}.{key}"] = value.detach().cpu().contiguous().reshape(value.shape)
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        meta = {
            "param_groups": opt["param_groups"],
            "scalars": scalars,
            "scheduler": scheduler.state_dict(),
            "loop": loop_state,
        }
        (tmp / "state.json").write_text(json.dumps(meta, indent=1, default=_plain), encoding="utf-8")


def load_checkpoint(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns the loop's bookkeeping."""
    try:
        meta = json.loads((directory / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{directory}: unreadable checkpoint ({e}); rerun without --resume") from None
    load_trainable_state(model, load_tensors(directory / "trainable.safetensors"))
    tensors = load_tensors(directory / "optimizer.safetensors")
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, extra in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(extra)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    return meta["loop"]


def _plain(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
