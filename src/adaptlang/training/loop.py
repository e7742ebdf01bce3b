"""One generic training loop: AdamW with warmup + linear decay, separate learning rates, early stopping on a dev
metric, per-epoch metrics.json, resumable checkpoints. Tasks plug in with two small functions (a train step
returning the loss, and a dev evaluation returning metrics)."""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from adaptlang.fileio import write_json_atomic
from adaptlang.training.checkpoint import (load_checkpoint, load_tensors, load_trainable_state, save_checkpoint,
                                           save_tensors, trainable_state)


PLAN_AFTER_STEPS = 20  # with a time budget, first estimate the epoch duration after this many steps
DEV_ALLOWANCE = 0.15  # share of an epoch's training time added for the dev evaluation in that estimate


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 30
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.1  # fraction of all steps spent warming up linearly; then linear decay to 0
    weight_decay: float = 0.01
    adam_beta2: float = 0.999  # 0.9 is Dozat and Manning's value for BiLSTMs trained from scratch
    grad_clip: float = 5.0
    patience: int = 5  # stop after this many epochs without a better dev score (0 = never stop early)
    select_metric: str = "las"
    seed: int = 42
    device: str = "cpu"
    max_minutes: float | None = None  # plan the epochs (and LR decay) to fit this budget; stop once past it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    dev: dict[str, float]
    seconds: float
    train_sentences_per_s: float
    best: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FitResult:
    best_epoch: int
    best_dev: dict[str, float]
    epochs: tuple[EpochRecord, ...]
    stopped_early: bool
    train_seconds: float
    resumed_from_epoch: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["epochs"] = [e.to_dict() for e in self.epochs]
        return d


class FitCallbacks(Protocol):
    def on_start(self, n_epochs: int, steps_per_epoch: int, start_epoch: int) -> None: ...
    def on_step(self, epoch: int, step: int, loss: float) -> None: ...
    def on_epoch(self, record: EpochRecord) -> None: ...


class _Silent:
    def on_start(self, n_epochs: int, steps_per_epoch: int, start_epoch: int) -> None: ...
    def on_step(self, epoch: int, step: int, loss: float) -> None: ...
    def on_epoch(self, record: EpochRecord) -> None: ...


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; full precision elsewhere (CPU runs stay deterministic)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fit(
    model: nn.Module,
    param_groups: list[dict[str, Any]],
    make_batches: Callable[[int], Sequence[Any]],
    train_step: Callable[[nn.Module, Any], torch.Tensor],
    evaluate: Callable[[nn.Module], dict[str, float]],
    cfg: FitConfig,
    workdir: Path,
    callbacks: FitCallbacks | None = None,
    resume: bool = False,
    batch_size_of: Callable[[Any], int] = len,
) -> FitResult:
    """Train ``model`` and leave the best epoch's weights in it.

    ``param_groups``: AdamW groups (``{"params": [...], "lr": ...}``), frozen parameters already excluded.
    ``make_batches(epoch)``: that epoch's batches (deterministic per epoch). ``train_step(model, batch)``: the loss.
    ``evaluate(model)``: dev metrics including ``cfg.select_metric`` (higher is better).
    ``workdir`` receives ``metrics.json`` (after every epoch), ``checkpoint/`` (resumable state) and
    ``best.safetensors`` (trainable weights of the best epoch).
    """
    cb = callbacks or _Silent()
    device = torch.device(cfg.device)
    workdir.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = max(1, len(make_batches(0)))
    # The schedule decays to zero at the end of the *planned* epochs: cfg.epochs, or, with a time budget, as many
    # epochs as fit (estimated after PLAN_AFTER_STEPS steps, then again from the whole first epoch).
    plan = {"epochs": cfg.epochs}

    def schedule(step: int) -> float:
        total_steps = steps_per_epoch * plan["epochs"]
        warmup_steps = int(cfg.warmup * total_steps)
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    optimizer = torch.optim.AdamW(param_groups, weight_decay=cfg.weight_decay, betas=(0.9, cfg.adam_beta2))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    records: list[EpochRecord] = []
    best_score, best_epoch, bad_epochs, start_epoch, elapsed_before = -math.inf, 0, 0, 1, 0.0
    ckpt = workdir / "checkpoint"
    if resume and (ckpt / "state.json").exists():
        loop = load_checkpoint(ckpt, model, optimizer, scheduler)
        records = [EpochRecord(**r) for r in loop["records"]]
        best_score, best_epoch, bad_epochs = loop["best_score"], loop["best_epoch"], loop["bad_epochs"]
        start_epoch, elapsed_before = loop["epoch"] + 1, loop["elapsed"]
        plan["epochs"] = loop["planned_epochs"]
    resumed_from = start_epoch - 1
    cb.on_start(plan["epochs"], steps_per_epoch, start_epoch)
    started = time.monotonic() - elapsed_before
    stopped_early = False
    epoch = start_epoch
    while epoch <= plan["epochs"]:
        t0 = time.monotonic()
        model.train()
        total_loss, n_sents = 0.0, 0
        batches = make_batches(epoch)
        for step, batch in enumerate(batches):
            with autocast(device):
                loss = train_step(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_([p for g in param_groups for p in g["params"]], cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            loss_value = loss.detach().item()
            total_loss += loss_value
            n_sents += batch_size_of(batch)
            cb.on_step(epoch, step + 1, loss_value)
            if epoch == 1 and step + 1 == PLAN_AFTER_STEPS and cfg.max_minutes is not None and resumed_from == 0:
                # early estimate, so that warmup and decay already follow the budget in the first epoch
                per_epoch = (time.monotonic() - t0) / (step + 1) * len(batches) * (1 + DEV_ALLOWANCE)
                plan["epochs"] = _epochs_that_fit(cfg, per_epoch)
        train_seconds = time.monotonic() - t0
        model.eval()
        with torch.no_grad(), autocast(device):
            dev = {k: float(v) for k, v in evaluate(model).items()}
        score = dev[cfg.select_metric]
        improved = score > best_score
        if improved:
            best_score, best_epoch, bad_epochs = score, epoch, 0
            save_tensors(workdir / "best.safetensors", trainable_state(model))
        else:
            bad_epochs += 1
        record = EpochRecord(epoch, total_loss / max(1, len(batches)), dev, round(time.monotonic() - t0, 2),
                             round(n_sents / max(train_seconds, 1e-9), 2), improved)
        records.append(record)
        if epoch == 1 and cfg.max_minutes is not None:
            plan["epochs"] = _epochs_that_fit(cfg, record.seconds)
        write_json_atomic(workdir / "metrics.json", {"epochs": [r.to_dict() for r in records],
                                                     "best_epoch": best_epoch, "select_metric": cfg.select_metric,
                                                     "planned_epochs": plan["epochs"]})
        loop_state = {"epoch": epoch, "records": [r.to_dict() for r in records], "best_score": best_score,
                      "best_epoch": best_epoch, "bad_epochs": bad_epochs, "planned_epochs": plan["epochs"],
                      "elapsed": time.monotonic() - started}
        save_checkpoint(ckpt, model, optimizer, scheduler, loop_state)
        cb.on_epoch(record)
        if epoch < plan["epochs"] and loop_done(records, cfg, bad_epochs, started):
            stopped_early = True
            break
        epoch += 1
    if best_epoch:
        load_trainable_state(model, load_tensors(workdir / "best.safetensors"))
    best_dev = next((r.dev for r in records if r.epoch == best_epoch), {})
    return FitResult(best_epoch, best_dev, tuple(records), stopped_early,
                     round(time.monotonic() - started, 2), resumed_from)


def _epochs_that_fit(cfg: FitConfig, seconds_per_epoch: float) -> int:
    assert cfg.max_minutes is not None
    return max(1, min(cfg.epochs, int(cfg.max_minutes * 60 / max(seconds_per_epoch, 1e-9))))


def loop_done(records: Iterable[EpochRecord], cfg: FitConfig, bad_epochs: int, started: float) -> bool:
    """Early stopping (patience) or time budget reached."""
    if cfg.patience and bad_epochs >= cfg.patience:
        return True
    if cfg.max_minutes is not None and time.monotonic() - started >= cfg.max_minutes * 60:
        return True
    return False
