"""Checkpoints as data: safetensors for tensors, JSON for everything else (never pickles), in one format for
every task of the training core.

Layout under a checkpoint root (``OUT/checkpoints`` for ``adapt``, ``.OUT.partial/checkpoints`` for ``train`` and
``baseline``): ``step-0000120/`` (``params.safetensors``: trainable parameters, ``optimizer.safetensors``: AdamW's
tensors, ``state.json``: the loop's bookkeeping, the optimiser's other values and the caller's metadata) and
``latest.json`` (``{"step": 120}``). ``latest.json`` is replaced with one ``os.replace`` only after the step
directory is complete, so a crash, a signal or a full disk while saving leaves the previous checkpoint in force.
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
from torch import nn

from adaptlang.errors import AdaptlangError, ModelError
from adaptlang.fileio import atomic_path, write_json_atomic

CHECKPOINTS = "checkpoints"
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class CheckpointError(AdaptlangError):
    """Saving or loading a checkpoint failed (the previous one, if any, is intact)."""


def step_dir_name(step: int) -> str:
    return f"step-{step:07d}"


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise ModelError(f"checkpoint does not match the model (missing {missing[:3]}, unexpected {unknown[:3]}); "
                         "start over with --force")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t.to(params[n].device, params[n].dtype))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        _save_tensors(tensors, tmp)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ModelError(f"{path}: cannot read tensors: {e}") from None


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path))


def is_disk_error(e: BaseException) -> bool:
    """A full, read-only or over-quota file system (as an OSError, or safetensors' own error type)."""
    if isinstance(e, OSError):
        return e.errno in DISK_ERRNOS
    text = str(e).lower()
    return type(e).__name__ == "SafetensorError" and ("no space" in text or "quota" in text or "read-only" in text)


class CheckpointStore:
    """The checkpoints of one run under ``root`` (see the module docstring)."""

    def __init__(self, root: Path, output: Path | None = None):
        self.root = Path(root)
        self.output = Path(output) if output is not None else self.root  # named in error messages

    def latest_step(self) -> int | None:
        latest = self.root / "latest.json"
        if not latest.is_file():
            return None
        try:
            step = int(json.loads(latest.read_text(encoding="utf-8"))["step"])
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{latest}: unreadable; start over with --force") from None
        if not (self.root / step_dir_name(step) / "state.json").is_file():
            raise CheckpointError(f"{latest}: names step {step}, whose checkpoint is missing; start over with --force")
        return step

    def save(self, step: int, params: dict[str, torch.Tensor], optimizer_state: dict[str, Any],
             state: dict[str, Any]) -> Path:
        """Write checkpoint ``step`` atomically; on success make it the latest and delete older ones."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / step_dir_name(step)
        previous = self.latest_step()
        opt_tensors, opt_meta = _split_optimizer_state(optimizer_state)
        try:
            with atomic_path(final) as tmp:
                tmp.mkdir()
                _save_tensors(params, tmp / "params.safetensors")
                _save_tensors(opt_tensors, tmp / "optimizer.safetensors")
                full = dict(state, step=step, optimizer_param_groups=optimizer_state["param_groups"],
                            optimizer_meta=opt_meta)
                (tmp / "state.json").write_text(json.dumps(full, indent=1, ensure_ascii=False, default=_plain),
                                                encoding="utf-8")
                _fsync_files(tmp)
            write_json_atomic(self.root / "latest.json", {"step": step})
        except Exception as e:
            if not is_disk_error(e):
                raise
            kept = (f"the previous checkpoint (step {previous}) is intact" if previous is not None
                    else "no checkpoint was kept")
            what = "disk full" if "space" in str(e).lower() or getattr(e, "errno", None) == errno.ENOSPC \
                else (getattr(e, "strerror", None) or str(e))
            raise CheckpointError(f"{self.output}: {what} while saving the checkpoint of step {step}; {kept}; "
                                  f"free space and rerun with --resume (partial files: {self.root})") from None
        for old in self.root.glob("step-*"):
            if old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def load(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
        """(trainable parameters, optimizer state dict, saved state) of checkpoint ``step``."""
        d = self.root / step_dir_name(step)
        try:
            params = load_file(str(d / "params.safetensors"))
            opt_tensors = load_file(str(d / "optimizer.safetensors"))
            state = json.loads((d / "state.json").read_text(encoding="utf-8"))
        except Exception as e:  # OSError, JSON errors, safetensors' own errors
            raise CheckpointError(f"{d}: cannot read the checkpoint ({e}); start over with --force") from None
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in opt_tensors.items():
            idx, name = key.split(".", 1)
            per_param.setdefault(int(idx), {})[name] = value
        for key, value in state.pop("optimizer_meta", {}).items():
            idx, name = key.split(".", 1)
            per_param.setdefault(int(idx), {})[name] = value
        return params, {"state": per_param, "param_groups": state.pop("optimizer_param_groups")}, state

    def latest_state(self) -> dict[str, Any] | None:
        """The saved state (loop bookkeeping and metadata) of the latest checkpoint, without its tensors."""
        step = self.latest_step()
        if step is None:
            return None
        try:
            return json.loads((self.root / step_dir_name(step) / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{self.root}: cannot read the checkpoint ({e}); start over with --force") from None


def _split_optimizer_state(optimizer_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for idx, pstate in optimizer_state["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value
            else:
                meta[f"{idx}.{key}"] = value
    return tensors, meta


def _fsync_files(d: Path) -> None:
    for f in d.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def _plain(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
