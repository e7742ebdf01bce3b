"""The training core: one step-based loop for every task (MLM adaptation, the tagger-parser on a pretrained encoder,
the BiLSTM baseline, and the tasks to come).

A task plugs in with a few hooks (:class:`Task`): its trainable module, its AdamW parameter groups, one epoch's
micro-batches, a training step that returns the loss, and an optional dev evaluation. The loop owns everything
else, once: the LR schedule (linear warmup, linear decay to zero at the planned end), gradient accumulation, the
time budget (epochs planned to fit ``max_minutes``), early stopping on the dev metric with best-weight selection,
bf16 autocast on CUDA, several processes through ``accelerate``, checkpoints (safetensors + JSON, atomic; at the first
evaluation, then every ``checkpoint_minutes``, on SIGINT/SIGTERM and at the end) with bit-exact resume, peak memory,
progress events and optional TensorBoard scalars.

Randomness is a pure function of (seed, step, process): the torch generator is reseeded before every optimizer
step, and a task's batches are a pure function of the epoch, so a run resumed from any checkpoint replays the
uninterrupted run exactly (on the CPU).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import torch
from torch import nn

from adaptlang.engine.checkpoint import CheckpointStore, load_tensors, load_trainable_state, save_tensors, \
    step_dir_name, trainable_state
from adaptlang.engine.runtime import derived_seed, peak_memory_mb, reset_peak_memory, resolve_device
from adaptlang.errors import AdaptlangError, ResumeMismatch, TrainingInterrupted, UsageError
from adaptlang.events import Event, Progress, silent
from adaptlang.fileio import write_json_atomic

PLAN_AFTER_STEPS = 20  # with a time budget, first estimate the epoch duration after this many steps
DEV_ALLOWANCE = 0.15  # share of an epoch's training time added for the dev evaluation in that estimate
STOP_REASONS = ("completed", "patience", "time budget")
CHECKPOINT_MINUTES = 10.0  # FitConfig.checkpoint_minutes's default


class Interrupted(TrainingInterrupted):
    """SIGINT/SIGTERM during training: a checkpoint was saved; the same command with --resume continues."""


class TrainingDiverged(AdaptlangError):
    """The loss became NaN or infinite: nothing more is learned; lower the learning rate."""


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 30  # planned passes over the task's batches
    max_steps: int | None = None  # optimizer steps; when given, training ends there (the schedule too)
    grad_accum: int = 1  # micro-batches per optimizer step
    warmup: float = 0.1  # fraction of the planned steps spent warming up linearly; then linear decay to 0
    weight_decay: float = 0.01  # for parameter groups that do not set their own
    adam_beta2: float = 0.999  # 0.9 is Dozat and Manning's value for BiLSTMs trained from scratch
    grad_clip: float = 5.0  # max gradient norm (0: no clipping)
    patience: int = 5  # stop after this many evaluations without a better dev score (0: never stop early)
    select_metric: str | None = "las"  # dev metric that picks the best epoch; None: keep the last weights
    select_mode: str = "max"  # "max" or "min" (a loss)
    seed: int = 42
    device: str = "cpu"
    bf16: bool = True  # bf16 autocast on CUDA
    cpu_bf16: bool = False  # bf16 autocast on the CPU too (cores with AVX-512 BF16 or AMX; default: float32)
    max_minutes: float | None = None  # plan the epochs (and the LR decay) to fit; stop once past it
    save_every: int | None = None  # optimizer steps between checkpoints (besides evaluations, signals, the end)
    # an evaluation saves a checkpoint when none was saved in this run yet or the last one is this old: on a GPU an
    # evaluation period can take seconds and a checkpoint of a 178M-parameter model with its AdamW state (2 GB)
    # longer than that; a crash loses at most this much work (signals and the end always save). None: the
    # environment's ADAPTLANG_CHECKPOINT_MINUTES, else CHECKPOINT_MINUTES (0: at every evaluation)
    checkpoint_minutes: float | None = None
    progress_every: int = 1  # optimizer steps between 'step' events
    log_dir: str | None = None  # TensorBoard scalars (train loss, LR, dev metrics) when given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Task(Protocol):
    """The hooks of one task. ``model`` holds every trainable parameter (frozen ones have requires_grad False)."""

    model: nn.Module

    def param_groups(self) -> list[dict[str, Any]]:
        """AdamW groups ``{"params": [...], "lr": peak LR, "weight_decay": optional}``, frozen parameters left out."""

    def batches(self, epoch: int) -> Sequence[Any]:
        """Epoch ``epoch``'s micro-batches (epochs count from 1); a pure function of the epoch."""

    def train_step(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, int]]:
        """The mean loss of one micro-batch, and what it held (e.g. ``{"sentences": 32, "tokens": 700}``).
        ``model`` is the module to call forward on (wrapped for several processes)."""

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float] | None:
        """Dev metrics (with the config's ``select_metric``), or None when the task has no dev evaluation."""


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    dev: dict[str, float]
    seconds: float
    train_sentences_per_s: float
    best: bool
    steps: int = 0  # optimizer steps done at the end of this epoch
    train_tokens_per_s: float = 0.0
    step_seconds: float = 0.0  # of ``seconds``, the time in training steps (no evaluation, no checkpoint)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FitResult:
    best_epoch: int
    best_dev: dict[str, float]
    epochs: tuple[EpochRecord, ...]
    stopped_early: bool  # by patience (not by the time budget or the planned end)
    train_seconds: float
    resumed_from_epoch: int = 0
    stop_reason: str = "completed"
    steps: int = 0
    planned_epochs: int = 0
    resumed_from_step: int | None = None
    losses: tuple[float, ...] = ()  # train loss of every optimizer step
    units: dict[str, int] = field(default_factory=dict)  # sentences / tokens trained on, over the whole run
    units_per_second: dict[str, float] = field(default_factory=dict)  # in this process's run (not before resume)
    peak_memory_mb: float = 0.0
    device: str = "cpu"
    n_processes: int = 1
    meta: dict[str, Any] = field(default_factory=dict)  # the caller's metadata, as saved (or as restored)
    selected: bool = True  # the kept weights were selected on dev (False: the last epoch's, by design)
    step_seconds: float = 0.0  # this process's time in training steps (evaluations and checkpoints left out)
    units_per_step_second: dict[str, float] = field(default_factory=dict)  # units over step_seconds

    @property
    def best_is_last(self) -> bool:
        """The best dev score came at the last evaluation: the run was probably still improving."""
        return bool(self.epochs) and self.best_epoch == self.epochs[-1].epoch

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["epochs"] = [e.to_dict() for e in self.epochs]
        d.pop("losses")
        return d


@dataclass
class _State:
    """The loop's bookkeeping, saved in every checkpoint."""

    step: int = 0
    epoch: int = 1
    step_in_epoch: int = 0
    epoch_loss: float = 0.0
    planned_epochs: int = 1
    planned_steps: int | None = None  # a time budget's cap on the steps (the last epoch may be cut); None: epochs
    records: list[dict[str, Any]] = field(default_factory=list)
    best_score: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    elapsed: float = 0.0
    losses: list[float] = field(default_factory=list)
    units: dict[str, int] = field(default_factory=dict)
    epoch_units: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    epoch_step_seconds: float = 0.0


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak LR for optimizer step ``step`` (0-based): linear warmup over ``warmup_steps``, then
    linear decay that reaches zero just after the last step."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def fit(task: Task, cfg: FitConfig, checkpoints: Path, *, progress: Progress | None = None, resume: bool = False,
        meta: dict[str, Any] | None = None, metrics_file: Path | None = None,
        output: Path | None = None) -> FitResult:
    """Train ``task.model`` and leave the selected weights in it (the best evaluation's, or the last ones).

    ``checkpoints``: the run's checkpoint root (see :mod:`adaptlang.engine.checkpoint`); with ``resume`` the latest
    checkpoint there is restored first. ``meta``: the caller's JSON-able metadata, saved in every checkpoint (on
    resume the saved one is returned in ``FitResult.meta``; compare it with :func:`check_resumable` before calling).
    ``metrics_file``: rewritten after every evaluation. ``output``: the path named in error messages.
    """
    _check(cfg)
    loop = _Loop(task, cfg, CheckpointStore(checkpoints, output), progress or silent, meta or {}, metrics_file)
    if resume:
        loop.restore()
    return loop.run()


def _check(cfg: FitConfig) -> None:
    if cfg.epochs < 1 or (cfg.max_steps is not None and cfg.max_steps < 1) or cfg.grad_accum < 1:
        raise UsageError("epochs, steps and gradient accumulation must be at least 1")
    if cfg.select_mode not in ("max", "min"):
        raise UsageError(f"select_mode must be max or min, not {cfg.select_mode!r}")
    if cfg.patience < 0:
        raise UsageError(f"--patience must be 0 (never stop early) or positive, got {cfg.patience}")
    if cfg.checkpoint_minutes is None:
        _env_minutes()  # a bad ADAPTLANG_CHECKPOINT_MINUTES fails before any training
    elif cfg.checkpoint_minutes < 0:
        raise UsageError(f"checkpoint_minutes must be 0 or more, got {cfg.checkpoint_minutes}")


def check_resumable(saved: dict[str, Any] | None, current: dict[str, Any], what: str = "options",
                    flags: dict[str, str] | None = None) -> None:
    """Refuse to resume a run whose saved options differ from the current ones, naming the command-line flags.

    A nested dict (an encoder spec) is compared key by key (``encoder.pooling`` names ``--pooling``). ``flags``
    maps a key (``encoder_lr``, ``encoder.n_layers``) to its flag where the two are spelled differently; any other
    key ``some_key`` is named ``--some-key``."""
    if saved is None:
        return
    diff = _differing_keys(saved, current)
    if diff:
        names = sorted({(flags or {}).get(k) or "--" + k.rpartition(".")[2].replace("_", "-") for k in diff})
        raise ResumeMismatch(f"--resume: {what} differ from the interrupted run ({', '.join(names)}); rerun with the "
                         "same options or start over with --force")


def _differing_keys(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    diff = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k), current.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            diff += _differing_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            diff.append(prefix + k)
    return diff


def make_accelerator(device: torch.device, bf16: bool) -> Any:
    """``accelerate``'s Accelerator for ``device`` (several processes when started by ``accelerate launch``)."""
    from accelerate import Accelerator

    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device.index)
    cuda = device.type == "cuda"
    return Accelerator(cpu=not cuda, mixed_precision="bf16" if cuda and bf16 else "no")


def _adamw(groups: list[dict[str, Any]], cfg: FitConfig, fused: bool) -> torch.optim.Optimizer:
    for g in groups:
        g.setdefault("weight_decay", cfg.weight_decay)
        g["initial_lr"] = g["lr"]
    betas = (0.9, cfg.adam_beta2)
    if fused:
        try:  # the fused kernel is several times faster on large embedding matrices
            return torch.optim.AdamW(groups, betas=betas, fused=True)
        except (RuntimeError, ValueError):
            pass
    return torch.optim.AdamW(groups, betas=betas, foreach=False)


@contextlib.contextmanager
def _signal_flag() -> Iterator[dict[str, int | None]]:
    """SIGINT/SIGTERM set a flag instead of killing the process; the loop saves a checkpoint and stops. A signal
    that came after the last step (during the final evaluation or save) is raised again once the handlers are
    restored, so that the caller still sees it (the finished run's checkpoint is already saved)."""
    flag: dict[str, int | None] = {"signal": None, "handled": None}

    def on_signal(signum: int, frame: Any) -> None:
        flag["signal"] = signum

    handlers = {}
    try:
        for s in (signal.SIGINT, signal.SIGTERM):
            handlers[s] = signal.signal(s, on_signal)
    except ValueError:  # not the main thread: signals stay with their owner
        pass
    try:
        yield flag
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    if flag["signal"] is not None and not flag["handled"]:
        signal.raise_signal(flag["signal"])


def _env_minutes() -> float:
    text = os.environ.get("ADAPTLANG_CHECKPOINT_MINUTES", "").strip()
    try:
        minutes = float(text) if text else CHECKPOINT_MINUTES
    except ValueError:
        minutes = -1.0
    if not minutes >= 0:
        raise UsageError(f"ADAPTLANG_CHECKPOINT_MINUTES must be a number of minutes >= 0, got {text!r}")
    return minutes


class _ScalarLog:
    """TensorBoard scalars under ``log_dir`` (main process only); a no-op without a log directory."""

    def __init__(self, log_dir: str | None, main: bool):
        self.writer = None
        if log_dir and main:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise UsageError("--log-dir needs the tensorboardX package: pip install tensorboardX") from None
            self.writer = SummaryWriter(log_dir)

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Loop:
    """One run of :func:`fit`; each method is one part of the loop."""

    def __init__(self, task: Task, cfg: FitConfig, store: CheckpointStore, progress: Progress,
                 meta: dict[str, Any], metrics_file: Path | None):
        self.task, self.cfg, self.store, self.say, self.meta = task, cfg, store, progress, meta
        self.metrics_file = metrics_file
        device = resolve_device(cfg.device)
        self.acc = make_accelerator(device, cfg.bf16)
        self.main = self.acc.is_main_process
        groups = task.param_groups()
        self.trainable = [p for g in groups for p in g["params"]]
        optimizer = _adamw(groups, cfg, fused=device.type == "cuda" or len(self.trainable) > 0)
        self.model, self.optimizer = self.acc.prepare(task.model, optimizer)
        self.unwrapped = self.acc.unwrap_model(self.model)
        n_batches = len(self._shard(task.batches(1)))
        self.steps_per_epoch = max(1, math.ceil(n_batches / cfg.grad_accum))
        self.state = _State(planned_epochs=self._epochs_for_steps(cfg.epochs))
        self.resumed_from_step: int | None = None
        self.run_units: dict[str, int] = {}
        self.run_step_seconds = 0.0
        self.best_state: dict[str, torch.Tensor] | None = None  # the best evaluation's trainable weights (CPU)
        self.best_unsaved = False  # best_state is newer than best.safetensors (written with the next checkpoint)
        self.last_save: float | None = None  # monotonic time of this run's last checkpoint

    # ---- plan -----------------------------------------------------------------------------------------------
    def _epochs_for_steps(self, epochs: int) -> int:
        if self.cfg.max_steps is not None:
            return max(1, math.ceil(self.cfg.max_steps / self.steps_per_epoch))
        return epochs

    @property
    def total_steps(self) -> int:
        planned = self.steps_per_epoch * self.state.planned_epochs
        if self.state.planned_steps is not None:
            planned = min(planned, self.state.planned_steps)
        return min(planned, self.cfg.max_steps) if self.cfg.max_steps is not None else planned

    def _plan(self, seconds_per_epoch: float, done: int = 0) -> None:
        """With a time budget: after ``done`` epochs, as many more steps as fit in the time left at
        ``seconds_per_epoch`` (never more than asked, never fewer than done), the last epoch cut short when at least
        a quarter of it fits (a budget shorter than one epoch still gets a whole schedule). Replanned after every
        epoch, so that one slow epoch on a busy machine does not cut the run short, until the plan is reached; the
        LR decay follows the plan. Every process plans with the main process's estimate (different plans would
        mean different numbers of steps, each a collective)."""
        if self.cfg.max_minutes is None or self.cfg.max_steps is not None:
            return
        s, per_epoch = self.state, self.steps_per_epoch
        if done and s.step >= self.total_steps:  # the plan was reached: no second schedule after the decay
            return
        # the main process's clock decides: a process that returned here while another went on to the broadcast
        # below would hang both
        left = self._from_main(self.cfg.max_minutes * 60 - (self._elapsed() if done else 0.0))
        if left <= 0:  # past the budget: the run stops here ("time budget") after the epochs done
            s.planned_epochs = max(1, done)
            return
        fit = (s.step if done else 0) + int(left / max(seconds_per_epoch / per_epoch, 1e-9))
        if fit >= per_epoch and fit % per_epoch < per_epoch / 4:
            fit -= fit % per_epoch  # a sliver of an epoch is not worth its dev evaluation
        planned = int(self._from_main(float(max(1, s.step if done else 1, min(self.cfg.epochs * per_epoch, fit)))))
        s.planned_steps = planned
        s.planned_epochs = max(done, 1, math.ceil(planned / per_epoch))

    def _over_budget(self) -> bool:
        """Past ``max_minutes`` (on any process: all stop at the same step)."""
        return self.cfg.max_minutes is not None and self._any_process(self._elapsed() >= self.cfg.max_minutes * 60)

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _shard(self, batches: Sequence[Any]) -> Sequence[Any]:
        """This process's share of the micro-batches. Every process gets as many (each step is a collective): the
        last round is filled from the start of the list, as torch's DistributedSampler does."""
        n = self.acc.num_processes
        if n == 1 or not batches:
            return batches
        padded = [batches[i % len(batches)] for i in range(math.ceil(len(batches) / n) * n)]
        return padded[self.acc.process_index::n]

    def _autocast(self) -> Any:
        """bf16 autocast: accelerate's on CUDA; torch's own on the CPU with ``cpu_bf16`` (accelerate's state is one per
        process, and a CPU run in float32 before would pin it there)."""
        if self.cfg.cpu_bf16 and self.acc.device.type == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return self.acc.autocast()

    # ---- resume ---------------------------------------------------------------------------------------------
    def restore(self) -> None:
        step = self.store.latest_step()
        if step is None:
            return
        params, opt_state, saved = self.store.load(step)
        load_trainable_state(self.unwrapped, params)
        self.optimizer.load_state_dict(opt_state)
        loop = saved.get("loop", {})
        self.state = _State(**{k: v for k, v in loop.items() if k in _State.__dataclass_fields__})
        self.meta = saved.get("meta", self.meta)
        self.resumed_from_step = step
        best = self.store.root / "best.safetensors"
        if self.state.best_epoch and best.is_file():
            self.best_state = load_tensors(best)
        self.say(Event("phase", message=f"resuming from the checkpoint of step {step}"))

    # ---- run ------------------------------------------------------------------------------------------------
    def run(self) -> FitResult:
        s = self.state
        self.started = time.monotonic() - s.elapsed
        self.resumed_epoch = s.epoch - 1
        reset_peak_memory()
        self.t_run = time.monotonic()
        if self.main:
            self.say(Event("start", step=s.step, total=self.total_steps, epoch=s.epoch, epochs=s.planned_epochs))
        self.log = _ScalarLog(self.cfg.log_dir, self.main)
        self.model.train()
        try:
            with _signal_flag() as stop:
                while s.reason is None:
                    self._epoch(stop)
        finally:
            self.log.close()
        return self._finish()

    def _epoch(self, stop: dict[str, int | None]) -> None:
        s, k = self.state, self.cfg.grad_accum
        t0 = time.monotonic()
        batches = self._shard(self.task.batches(s.epoch))
        if not batches:  # else the loop would run empty epochs for ever (deaf to signals: they act after a step)
            raise UsageError(f"nothing to train on: the task has no batches for epoch {s.epoch}")
        groups = [batches[i:i + k] for i in range(0, len(batches), k)]
        for group in groups[s.step_in_epoch:]:
            t_step = time.monotonic()
            loss = self._step(group)  # its loss is read back, so the GPU's work is done when the clock stops
            s.epoch_step_seconds += time.monotonic() - t_step
            self.run_step_seconds += time.monotonic() - t_step
            s.step_in_epoch += 1
            s.epoch_loss += loss
            self._after_step(loss, t0, stop)
            if s.step >= self.total_steps or self._over_budget():
                break
        self._end_epoch(t0)

    def _step(self, micro_batches: Sequence[Any]) -> float:
        s = self.state
        factor = lr_factor(s.step, int(self.cfg.warmup * self.total_steps), self.total_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * factor
        torch.manual_seed(derived_seed(self.cfg.seed, s.step, self.acc.process_index))
        losses = []
        for i, batch in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or self.acc.num_processes == 1 else self.acc.no_sync(self.model)
            with sync, self._autocast():
                loss, units = self.task.train_step(self.model, batch, self.acc.device)
                self.acc.backward(loss / len(micro_batches))
            losses.append(loss.detach().float())
            for key, n in units.items():
                for d in (s.units, s.epoch_units, self.run_units):
                    d[key] = d.get(key, 0) + int(n) * self.acc.num_processes
        # the losses are read once the backward passes are queued: one wait for the GPU per step, while it works
        values = torch.stack(losses).cpu().tolist()
        bad = next((v for v in values if not math.isfinite(v)), None)
        if self._any_process(bad is not None):  # before the update; all processes stop, none waits for the others
            what = f"the loss is {bad}" if bad is not None else "another process's loss is not finite"
            raise TrainingDiverged(f"training diverged at step {s.step + 1}: {what}; lower the "
                                   "learning rate (--lr, --head-lr) or check the training data")
        total = 0.0
        for value in values:
            total += value / len(micro_batches)
        if self.cfg.grad_clip > 0:
            self.acc.clip_grad_norm_(self.trainable, self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        s.step += 1
        s.losses.append(round(total, 6))
        return total

    def _after_step(self, loss: float, t0: float, stop: dict[str, int | None]) -> None:
        s = self.state
        if self.main and (s.step % self.cfg.progress_every == 0 or s.step == self.total_steps):
            tokens = self.run_units.get("tokens")
            rate = tokens / max(time.monotonic() - self.t_run, 1e-9) if tokens else None
            self.say(Event("step", step=s.step, total=self.total_steps, epoch=s.epoch, epochs=s.planned_epochs,
                           loss=loss, tokens_per_second=rate))
        self.log.scalars({"train/loss": loss, "train/lr": self.optimizer.param_groups[0]["lr"]}, s.step)
        if s.epoch == 1 and s.step_in_epoch == PLAN_AFTER_STEPS and self.resumed_from_step is None:
            # an early estimate, so that warmup and decay already follow the budget in the first epoch
            self._plan((time.monotonic() - t0) / PLAN_AFTER_STEPS * self.steps_per_epoch * (1 + DEV_ALLOWANCE))
        if self._any_process(stop["signal"] is not None):
            stop["handled"] = 1
            self._save()
            where = self.store.root / step_dir_name(s.step)
            raise Interrupted(f"interrupted at step {s.step} of {self.total_steps}; checkpoint saved in {where}; "
                              "rerun the same command with --resume")
        if self.cfg.save_every and s.step % self.cfg.save_every == 0 and s.step < self.total_steps:
            self._save()

    def _end_epoch(self, t0: float) -> None:
        s = self.state
        dev, improved = self._evaluate()
        seconds = time.monotonic() - t0
        n_steps = max(1, s.step_in_epoch)
        record = EpochRecord(s.epoch, round(s.epoch_loss / n_steps, 6), dev, round(seconds, 2),
                             round(s.epoch_units.get("sentences", 0) / max(seconds, 1e-9), 2), improved, s.step,
                             round(s.epoch_units.get("tokens", 0) / max(seconds, 1e-9), 2),
                             round(s.epoch_step_seconds, 3))
        s.records.append(record.to_dict())
        recent = [r["seconds"] for r in s.records[-2:]]  # the last two epochs: the machine's load now
        self._plan(sum(recent) / len(recent), done=s.epoch)
        s.reason = self._stop_reason()
        self._write_metrics()
        s.epoch += 1
        s.step_in_epoch, s.epoch_loss, s.epoch_units, s.epoch_step_seconds = 0, 0.0, {}, 0.0
        if s.reason or (dev and self._checkpoint_due()):
            self._save()  # before the event: whatever a listener does, the finished epoch is safe
        if self.main and (dev or s.reason):
            self.say(Event("epoch", epoch=record.epoch, epochs=s.planned_epochs, loss=record.train_loss, metrics=dev,
                           best=improved, seconds=record.seconds, step=s.step, total=self.total_steps))

    def _stop_reason(self) -> str | None:
        s = self.state
        if s.step >= self.total_steps:
            return "completed"
        if self.cfg.patience and self.cfg.select_metric and s.bad_epochs >= self.cfg.patience:
            return "patience"
        if self._over_budget():
            return "time budget"
        return None

    def _evaluate(self) -> tuple[dict[str, float], bool]:
        s, metric = self.state, self.cfg.select_metric
        self.model.eval()
        with torch.no_grad(), self._autocast():
            dev = self.task.evaluate(self.unwrapped, self.acc.device)
        self.model.train()
        if not dev:
            return {}, False
        dev = {k: float(v) for k, v in dev.items()}
        self.log.scalars({f"dev/{k}": v for k, v in dev.items()}, s.step)
        if metric is None:
            return dev, False
        if metric not in dev:
            raise UsageError(f"the dev evaluation has no {metric!r} (it has {', '.join(sorted(dev))})")
        score = dev[metric] if self.cfg.select_mode == "max" else -dev[metric]
        improved = s.best_score is None or score > s.best_score
        if improved:
            s.best_score, s.best_epoch, s.bad_epochs = score, s.epoch, 0
            self.best_state, self.best_unsaved = trainable_state(self.unwrapped), True
        else:
            s.bad_epochs += 1
        return dev, improved

    def _write_metrics(self) -> None:
        if self.metrics_file is not None and self.main:
            s = self.state
            write_json_atomic(self.metrics_file, {"epochs": s.records, "best_epoch": s.best_epoch,
                                                  "select_metric": self.cfg.select_metric,
                                                  "planned_epochs": s.planned_epochs, "steps": s.step})

    def _checkpoint_due(self) -> bool:
        """An evaluation's checkpoint: the run's first, then one every ``checkpoint_minutes`` (all processes
        agree: a save is a collective)."""
        minutes = self.cfg.checkpoint_minutes if self.cfg.checkpoint_minutes is not None else _env_minutes()
        due = self.last_save is None or time.monotonic() - self.last_save >= minutes * 60
        return self._any_process(due)

    def _save(self) -> None:
        s = self.state
        s.elapsed = self._elapsed()
        if self.main:
            if self.best_unsaved and self.best_state is not None:  # the best weights first: the checkpoint names them
                save_tensors(self.store.root / "best.safetensors", self.best_state)
            self.best_unsaved = False
            state = {"loop": asdict(s), "meta": self.meta}
            self.store.save(s.step, trainable_state(self.unwrapped), self.optimizer.state_dict(), state)
        self.acc.wait_for_everyone()
        self.last_save = time.monotonic()

    def _any_process(self, flag: bool) -> bool:
        if self.acc.num_processes == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.acc.device)
        return bool(self.acc.reduce(t, reduction="sum").item() > 0)

    def _from_main(self, value: float) -> float:
        """The main process's ``value``, on every process."""
        if self.acc.num_processes == 1:
            return value
        from accelerate.utils import broadcast

        return float(broadcast(torch.tensor([value], dtype=torch.float64, device=self.acc.device)).item())

    def _finish(self) -> FitResult:
        s = self.state
        peak = peak_memory_mb(self.acc.device)
        if s.best_epoch and self.cfg.select_metric:
            load_trainable_state(self.unwrapped, self.best_state if self.best_state is not None
                                 else load_tensors(self.store.root / "best.safetensors"))
        records = tuple(EpochRecord(**r) for r in s.records)
        kept = s.best_epoch if self.cfg.select_metric else (records[-1].epoch if records else 0)  # no selection: last
        best_dev = next((r.dev for r in records if r.epoch == kept), {})
        seconds = max(time.monotonic() - self.t_run, 1e-9)
        rates = {k: round(v / seconds, 2) for k, v in self.run_units.items()}
        in_steps = max(self.run_step_seconds, 1e-9)
        step_rates = {k: round(v / in_steps, 2) for k, v in self.run_units.items()}
        if self.main:
            self.say(Event("done", message=s.reason or "completed", seconds=round(self._elapsed(), 2),
                           step=s.step, total=self.total_steps))
        return FitResult(kept, best_dev, records, s.reason == "patience", round(self._elapsed(), 2),
                         self.resumed_epoch, s.reason or "completed", s.step, s.planned_epochs,
                         self.resumed_from_step, tuple(s.losses), dict(s.units), rates, peak,
                         str(self.acc.device), self.acc.num_processes, self.meta, bool(self.cfg.select_metric),
                         round(self.run_step_seconds, 3), step_rates)
