"""The training core (:mod:`adaptlang.engine`) on a tiny pure-torch task (an MLP regressing a linear function of
synthetic data): LR schedule, gradient accumulation, bit-exact resume, NaN guard, time budget, early stopping and
best-weight selection, TensorBoard scalars, the resume check; then the real tagger-parser task learning a toy
language on a tiny BERT."""

from __future__ import annotations

import os
import random
import signal
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from adaptlang.engine import FitConfig, Interrupted, TrainingDiverged, check_resumable, fit, lr_factor
from adaptlang.errors import UsageError
from adaptlang.events import Event

pytestmark = pytest.mark.usefixtures("one_thread")

N_EXAMPLES = 32
N_DEV = 16


class Regression:
    """The engine's hooks for y = x·w + b (+ noise) with a 2-layer MLP (dropout optional, to use the loop's RNG).

    Epoch ``e``'s batches are a permutation of the examples drawn from ``e`` alone, cut into consecutive batches of
    ``batch_size``: batches of 8 hold exactly the examples of two consecutive batches of 4. ``dev_script`` replaces
    the dev MSE by scripted values (one per evaluation); every evaluation keeps a copy of the weights it saw."""

    def __init__(self, batch_size: int = 4, dropout: float = 0.0, dev_script: list[float] | None = None,
                 lr: float = 0.05, nan_at_call: int | None = None):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(N_EXAMPLES + N_DEV, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3 + 0.01 * torch.randn(N_EXAMPLES + N_DEV, generator=g)
        torch.manual_seed(1)
        self.model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1))
        self.batch_size, self.dev_script, self.lr, self.nan_at_call = batch_size, dev_script, lr, nan_at_call
        self.calls = 0
        self.snapshots: list[dict[str, torch.Tensor]] = []

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.model.parameters()), "lr": self.lr}]

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = torch.randperm(N_EXAMPLES, generator=torch.Generator().manual_seed(epoch))
        return [order[i:i + self.batch_size] for i in range(0, N_EXAMPLES, self.batch_size)]

    def train_step(self, model: nn.Module, batch: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, dict]:
        self.calls += 1
        pred = model(self.x[batch].to(device)).squeeze(-1)  # (n_batch,)
        loss = ((pred - self.y[batch].to(device)) ** 2).mean()
        if self.nan_at_call is not None and self.calls >= self.nan_at_call:
            loss = loss * float("nan")
        return loss, {"sentences": len(batch), "tokens": 3 * len(batch)}

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        self.snapshots.append(weights(model))
        if self.dev_script is not None:
            return {"score": self.dev_script[len(self.snapshots) - 1]}
        pred = model(self.x[N_EXAMPLES:].to(device)).squeeze(-1)
        return {"mse": float(((pred - self.y[N_EXAMPLES:].to(device)) ** 2).mean())}


class NoDev(Regression):
    def evaluate(self, model: nn.Module, device: torch.device) -> None:
        return None


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def config(**kw: Any) -> FitConfig:
    base: dict[str, Any] = dict(epochs=3, warmup=0.25, patience=0, select_metric="mse", select_mode="min", seed=5)
    base.update(kw)
    return FitConfig(**base)


# ---- LR schedule -------------------------------------------------------------------------------------------------

def test_lr_factor_warms_up_linearly_peaks_and_decays_to_zero() -> None:
    warmup, total = 10, 100
    f = [lr_factor(s, warmup, total) for s in range(total)]
    rises = [f[s + 1] - f[s] for s in range(warmup - 1)]
    assert f[0] > 0 and all(r == pytest.approx(rises[0]) and r > 0 for r in rises)  # linear warmup
    assert max(f) == pytest.approx(1.0) and f.index(max(f)) == warmup  # the peak right after warmup
    assert all(f[s + 1] < f[s] for s in range(warmup, total - 1))  # then strictly decreasing
    assert f[-1] == pytest.approx(1 / (total - warmup)) and lr_factor(total, warmup, total) == 0.0
    assert all(lr_factor(s, warmup, total) >= 0.0 for s in range(2 * total))  # never negative, even past the end
    assert lr_factor(0, 0, 5) == 1.0  # no warmup: the first step has the peak LR


# ---- gradient accumulation ----------------------------------------------------------------------------------------

def test_grad_accum_equals_the_larger_batch(tmp_path: Path) -> None:
    big = NoDev(batch_size=8)
    fit(big, config(grad_accum=1, select_metric=None), tmp_path / "a")
    accumulated = NoDev(batch_size=4)
    r = fit(accumulated, config(grad_accum=2, select_metric=None), tmp_path / "b")
    small = NoDev(batch_size=4)
    fit(small, config(grad_accum=1, select_metric=None), tmp_path / "c")
    assert r.steps == 3 * N_EXAMPLES // 8 and r.units["sentences"] == 3 * N_EXAMPLES
    a, b, c = weights(big.model), weights(accumulated.model), weights(small.model)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not all(torch.allclose(a[k], c[k], atol=1e-4) for k in a)  # twice the steps: different weights


# ---- resume -------------------------------------------------------------------------------------------------------

def _interrupting(at_step: int, how: str):
    def listener(event: Event) -> None:
        if event.kind == "step" and event.step == at_step:
            if how == "signal":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise RuntimeError("crash")
    return listener


@pytest.mark.parametrize("at_step, how, accum", [(6, "signal", 1), (8, "signal", 1), (7, "crash", 1),
                                                 (6, "signal", 2)],
                         ids=["signal-mid-epoch", "signal-end-of-epoch", "crash-after-save-every", "grad-accum"])
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path: Path, at_step: int, how: str, accum: int) -> None:
    steps = 4 * 8 // accum  # 8 micro-batches an epoch
    cfg = config(epochs=4, save_every=3, grad_accum=accum)
    whole = Regression(dropout=0.3)
    full = fit(whole, cfg, tmp_path / "full")
    first = Regression(dropout=0.3)
    expected = Interrupted if how == "signal" else RuntimeError
    with pytest.raises(expected) as e:
        fit(first, cfg, tmp_path / "ck", progress=_interrupting(at_step, how), meta={"run": 1})
    if how == "signal":
        assert f"interrupted at step {at_step} of {steps}" in str(e.value) and "--resume" in str(e.value)
    assert not same(weights(first.model), weights(whole.model))
    resumed = Regression(dropout=0.3)  # a fresh process: only the checkpoint carries the state
    r = fit(resumed, cfg, tmp_path / "ck", resume=True, meta={"run": 2})
    saved_at = at_step if how == "signal" else at_step // 3 * 3  # the crash loses the steps after the last save
    assert r.resumed_from_step == saved_at and r.meta == {"run": 1}
    assert same(weights(resumed.model), weights(whole.model))
    assert r.losses == full.losses and [e.dev for e in r.epochs] == [e.dev for e in full.epochs]
    assert r.best_epoch == full.best_epoch and r.steps == steps


def test_evaluations_checkpoint_once_then_by_age_and_the_best_weights_survive(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (no ADAPTLANG_CHECKPOINT_MINUTES): the first evaluation saves, later ones only once the last
    checkpoint is CHECKPOINT_MINUTES old (a GPU evaluates every few seconds; a checkpoint of a large model takes
    longer), the end always. The best weights are kept in memory and written with the next checkpoint, so a crash
    resumes from the first epoch's checkpoint and still selects the same best epoch as the uninterrupted run."""
    from adaptlang.engine.checkpoint import CheckpointStore

    monkeypatch.delenv("ADAPTLANG_CHECKPOINT_MINUTES")
    script = [1.0, 3.0, 2.0, 1.5, 1.2]
    cfg = config(epochs=5, select_metric="score", select_mode="max")
    whole = Regression(dropout=0.3, dev_script=script)
    full = fit(whole, cfg, tmp_path / "full")
    assert CheckpointStore(tmp_path / "full").latest_step() == 40  # the end saves
    assert full.best_epoch == 2 and same(weights(whole.model), whole.snapshots[1])

    def crash_at_epoch_4(event: Event) -> None:
        if event.kind == "epoch" and event.epoch == 4:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        fit(Regression(dropout=0.3, dev_script=script), cfg, tmp_path / "ck", progress=crash_at_epoch_4)
    assert CheckpointStore(tmp_path / "ck").latest_step() == 8  # epochs 2-4 were not saved
    resumed = Regression(dropout=0.3, dev_script=script[1:])  # the run goes on at epoch 2
    r = fit(resumed, cfg, tmp_path / "ck", resume=True)
    assert r.resumed_from_step == 8 and r.best_epoch == 2 and r.losses == full.losses
    assert same(weights(resumed.model), weights(whole.model))
    assert r.step_seconds > 0 and r.units_per_step_second["sentences"] >= r.units_per_second["sentences"]

    monkeypatch.setenv("ADAPTLANG_CHECKPOINT_MINUTES", "soon")
    task = Regression()
    with pytest.raises(UsageError, match="ADAPTLANG_CHECKPOINT_MINUTES must be a number"):
        fit(task, config(), tmp_path / "bad")
    assert task.calls == 0  # refused before any training


# ---- NaN guard ----------------------------------------------------------------------------------------------------

def test_nan_loss_raises_training_diverged_naming_the_step(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as e:
        fit(Regression(nan_at_call=11), config(), tmp_path / "ck")
    message = str(e.value)
    assert "\n" not in message and "step 11" in message
    assert "--lr" in message and "--head-lr" in message


class Empty(Regression):
    def batches(self, epoch: int) -> list[torch.Tensor]:
        return [] if epoch >= 2 else super().batches(epoch)


def test_an_epoch_without_batches_is_an_error_not_an_endless_loop(tmp_path: Path) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            fit(Empty(), config(), tmp_path / "ck")
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    worker = threading.Thread(target=run, daemon=True)  # a thread, so that an endless loop fails the test
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "fit loops for ever on an epoch without batches"
    assert len(errors) == 1 and isinstance(errors[0], UsageError), errors
    assert "no batches for epoch 2" in str(errors[0])


# ---- time budget, patience, best weights ---------------------------------------------------------------------------

def test_tiny_time_budget_stops_at_once_without_stopping_early(tmp_path: Path) -> None:
    r = fit(Regression(), config(epochs=5, max_minutes=1e-7), tmp_path / "ck")
    assert r.stop_reason == "time budget" and not r.stopped_early
    assert len(r.epochs) == 1 and r.planned_epochs == 1 and r.steps < 5 * 8


class Slow(Regression):
    def train_step(self, model: nn.Module, batch: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, dict]:
        import time

        time.sleep(0.03)  # 8 steps: an epoch takes at least 0.24 s
        return super().train_step(model, batch, device)


def test_time_budget_plans_fewer_epochs(tmp_path: Path) -> None:
    r = fit(Slow(), config(epochs=20, max_minutes=0.7 / 60), tmp_path / "ck")
    assert 1 <= r.planned_epochs <= 3 and len(r.epochs) <= r.planned_epochs and r.steps <= 0.7 / 0.03 + 1
    assert r.stop_reason in ("completed", "time budget") and not r.stopped_early


def test_the_budget_plans_steps_and_cuts_the_last_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan is in steps: a budget that fits 2.5 epochs of 8 steps plans 20 steps (the third epoch cut, then
    evaluated), and the LR decays to zero at step 20; a sliver of an epoch (under a quarter) is dropped; once the
    plan is reached no second schedule starts."""
    from adaptlang.engine import loop as engine_loop

    task = Regression()
    lrs: list[float] = []
    real_step = engine_loop._Loop._step

    clock = [0.0]

    def step(self: object, micro: object) -> float:
        loss = real_step(self, micro)
        lrs.append(self.optimizer.param_groups[0]["lr"])  # type: ignore[attr-defined]
        clock[0] += 10.0  # a step takes 10 s on the loop's clock; evaluations take none
        return loss

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return clock[0]

    monkeypatch.setattr(engine_loop._Loop, "_step", step)
    monkeypatch.setattr(engine_loop, "time", Clock)
    r = fit(task, config(epochs=10, max_minutes=200 / 60), tmp_path / "a")  # 200 s: 20 steps
    assert r.steps == 20 and r.planned_epochs == 3 and len(r.epochs) == 3 and r.stop_reason == "completed"
    assert lrs[-1] > 0 and lr_factor(20, 0, 20) == 0.0 and lrs[-1] < lrs[-8]  # decaying to zero at step 20
    clock[0] = 0.0
    r = fit(Regression(), config(epochs=10, max_minutes=170 / 60), tmp_path / "b")  # 17 steps: 2 epochs + 1 step
    assert r.steps == 16 and r.planned_epochs == 2


def test_patience_stops_early_and_restores_the_best_weights(tmp_path: Path) -> None:
    task = Regression(dev_script=[1.0, 2.0, 1.5, 1.4, 1.9, 3.0])
    r = fit(task, config(epochs=6, patience=2, select_metric="score", select_mode="max"), tmp_path / "ck")
    assert r.stop_reason == "patience" and r.stopped_early
    assert len(r.epochs) == 4 and r.best_epoch == 2 and r.best_dev == {"score": 2.0}
    assert [e.best for e in r.epochs] == [True, True, False, False]
    assert same(weights(task.model), task.snapshots[1])
    assert not same(task.snapshots[3], task.snapshots[1])


def test_select_mode_min_picks_the_lowest(tmp_path: Path) -> None:
    task = Regression(dev_script=[3.0, 1.0, 2.0])
    r = fit(task, config(select_metric="score", select_mode="min"), tmp_path / "ck")
    assert r.best_epoch == 2 and r.stop_reason == "completed" and not r.stopped_early
    assert same(weights(task.model), task.snapshots[1])
    task = Regression(dev_script=[3.0, 1.0, 2.0])
    assert fit(task, config(select_metric="score", select_mode="max"), tmp_path / "max").best_epoch == 1


def test_bad_select_metric_and_mode_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no 'las'.*mse"):
        fit(Regression(), config(select_metric="las"), tmp_path / "a")
    with pytest.raises(UsageError, match="select_mode"):
        fit(Regression(), config(select_mode="lowest"), tmp_path / "b")


# ---- TensorBoard -------------------------------------------------------------------------------------------------

def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] from the TensorBoard event files under ``log_dir`` (TFRecord framing: length,
    its CRC, the Event protobuf, its CRC)."""
    from tensorboardX.proto import event_pb2

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, value.simple_value))
    return out


def test_log_dir_writes_train_and_dev_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    log_dir = tmp_path / "tb"
    cfg = config(log_dir=str(log_dir))
    r = fit(Regression(), cfg, tmp_path / "ck")
    scalars = read_scalars(log_dir)
    assert {"train/loss", "train/lr", "dev/mse"} <= set(scalars)
    assert [step for step, _ in scalars["train/loss"]] == list(range(1, r.steps + 1))
    assert [v for _, v in scalars["train/loss"]] == pytest.approx(list(r.losses), rel=1e-5)
    warmup = int(cfg.warmup * r.steps)
    assert [v for _, v in scalars["train/lr"]] == pytest.approx(
        [0.05 * lr_factor(step - 1, warmup, r.steps) for step, _ in scalars["train/lr"]], rel=1e-5)
    assert [v for _, v in scalars["dev/mse"]] == pytest.approx([e.dev["mse"] for e in r.epochs], rel=1e-5)


# ---- several processes ----------------------------------------------------------------------------------------------

DDP_DRIVER = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import torch
torch.set_num_threads(1)
from test_engine import Regression, config
from adaptlang.engine import fit

rank = int(os.environ.get("RANK", "0"))

class Skewed(Regression):
    # rank 1 spends longer outside the steps: its clock and its epoch time differ from rank 0's
    def batches(self, epoch):
        if rank == 1:
            time.sleep(0.3)
        return super().batches(epoch)

    def train_step(self, model, batch, device):
        time.sleep(0.02)
        return super().train_step(model, batch, device)

task, cfg = {
    "uneven": (Regression(batch_size=5), config(epochs=2)),  # 7 micro-batches for 2 processes
    "budget-steps": (Skewed(), config(max_steps=400, max_minutes=1.0 / 60)),  # the budget ends an epoch early
    "budget-plan": (Skewed(), config(epochs=40, max_minutes=4.0 / 60)),  # the budget plans the epochs
}[sys.argv[1]]
r = fit(task, cfg, Path(sys.argv[2]) / "ck")
w = torch.cat([p.detach().flatten() for p in task.model.parameters()]).tolist()
(Path(sys.argv[2]) / f"rank{rank}.json").write_text(  # a file each: both processes' stdout lines can interleave
    json.dumps({"rank": rank, "steps": r.steps, "planned": r.planned_epochs, "reason": r.stop_reason, "w": w}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["uneven", "budget-steps", "budget-plan"])
def test_processes_take_the_same_steps(tmp_path: Path, scenario: str) -> None:
    """Two CPU processes (gloo DDP, as ``accelerate launch`` starts them) must agree on every step, each one a
    collective: micro-batches that do not divide evenly, and a time budget seen by clocks that differ (mid-epoch
    and when planning the epochs), once hung or crashed one process."""
    import json
    import subprocess
    import sys

    driver = tmp_path / "driver.py"
    driver.write_text(DDP_DRIVER, encoding="utf-8")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", str(driver), scenario, str(tmp_path),
                        str(Path(__file__).parent)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert sorted(x["rank"] for x in runs) == [0, 1]
    a, b = runs
    assert (a["steps"], a["planned"], a["reason"], a["w"]) == (b["steps"], b["planned"], b["reason"], b["w"])
    if scenario == "uneven":
        assert a["steps"] == 2 * 4  # 7 micro-batches: 4 per process and epoch (the last round filled)
    elif scenario == "budget-steps":
        assert a["reason"] == "time budget" and a["steps"] < 400
    else:
        assert a["planned"] < 40


# ---- the resume check ----------------------------------------------------------------------------------------------

def test_check_resumable_names_the_differing_options() -> None:
    saved = {"seed": 1, "batch_size": 8, "encoder_lr": 1e-4, "encoder": {"model": "m", "pooling": "first"}}
    check_resumable(None, saved)  # nothing saved: nothing to compare
    check_resumable(saved, dict(saved))
    with pytest.raises(UsageError) as e:
        check_resumable(saved, dict(saved, seed=2, batch_size=16))
    assert "(--batch-size, --seed)" in str(e.value) and "--encoder" not in str(e.value)
    assert "--force" in str(e.value) and "\n" not in str(e.value)
    # an encoder spec is compared field by field; flags spelled otherwise than their field come from ``flags``
    changed = dict(saved, encoder_lr=1e-3, encoder={"model": "m", "pooling": "mean"})
    with pytest.raises(UsageError, match=r"\(--lr, --pooling\)"):
        check_resumable(saved, changed, flags={"encoder_lr": "--lr"})


def test_train_resume_refusal_names_the_train_flags(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Through the real task: the flags of ``adaptlang train`` (--lr, not the field encoder_lr; --pooling, not
    the whole encoder spec)."""
    from adaptlang.tasks import TrainConfig, train_parser

    train = tmp_path / "train.conllu"
    train.write_text(toy_language(12, 3), encoding="utf-8")

    def cfg(**kw: Any) -> TrainConfig:
        encoder = {"kind": "transformer", "model": str(tiny_bert_dir), "pooling": kw.pop("pooling", "first")}
        return TrainConfig(train=str(train), dev=str(train), out=str(tmp_path / "m"), encoder=encoder, epochs=2,
                           arc_dim=8, rel_dim=8, device="cpu", **kw)

    def crash(event: Event) -> None:
        if event.kind == "epoch":
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        train_parser(cfg(), crash)
    with pytest.raises(UsageError, match=r"differ from the interrupted run \(--lr, --pooling\)"):
        train_parser(cfg(resume=True, encoder_lr=1e-3, pooling="mean"))
    assert train_parser(cfg(resume=True)).resumed_from_epoch == 1


# ---- the real tagger-parser learns -----------------------------------------------------------------------------------

DETS = ["the", "a", "die", "ein"]
NOUNS = ["cat", "dog", "mat", "park", "katze", "hund", "kedi", "books"]
VERBS = ["sat", "runs", "read", "sitzt", "läuft", "koşuyor"]


def toy_language(n: int, seed: int) -> str:
    """[DET] NOUN VERB [[DET] NOUN]: a determiner attaches to the next noun, the verb is the root, the noun before
    it is its nsubj and the noun after it its obj. Chance is about 1 in 4 for UPOS and far below that for LAS."""
    rng = random.Random(seed)
    blocks = []
    for k in range(n):
        words: list[tuple[str, str, str]] = []  # (form, UPOS, DEPREL); heads follow
        for role in ("nsubj", "verb", "obj"):
            if role == "verb":
                words.append((rng.choice(VERBS), "VERB", "root"))
                continue
            if role == "obj" and rng.random() < 0.3:
                continue
            if rng.random() < 0.6:
                words.append((rng.choice(DETS), "DET", "det"))
            words.append((rng.choice(NOUNS), "NOUN", role))
        verb = next(i for i, w in enumerate(words) if w[1] == "VERB") + 1
        rows = []
        for i, (form, upos, rel) in enumerate(words, start=1):
            head = 0 if upos == "VERB" else (i + 1 if upos == "DET" else verb)
            rows.append(f"{i}\t{form}\t_\t{upos}\t_\t_\t{head}\t{rel}\t_\t_")
        blocks.append(f"# sent_id = {k}\n# text = {' '.join(w[0] for w in words)}\n" + "\n".join(rows) + "\n")
    return "\n".join(blocks) + "\n"


def test_transformer_parser_learns_a_toy_language(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """A random-init 2-layer BERT (frozen embeddings) learns the toy grammar in 30 epochs of 60 sentences (2-3 s).
    Measured with these settings: dev LAS 96-100 from epoch 10 on, UPOS 90-96 (one dev noun is mostly mis-tagged;
    the exact figure moves with the dropout implementation); UPOS is read at the last epoch."""
    import json

    from adaptlang.tasks import TrainConfig, train_parser

    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(toy_language(60, 1), encoding="utf-8")
    dev.write_text(toy_language(15, 2), encoding="utf-8")
    cfg = TrainConfig(train=str(train), dev=str(dev), out=str(tmp_path / "m"),
                      encoder={"kind": "transformer", "model": str(tiny_bert_dir)}, epochs=30, arc_dim=32,
                      rel_dim=16, encoder_lr=1e-3, head_lr=1e-2, device="cpu", seed=1)
    r = train_parser(cfg)
    assert r.dev["las"] > 80, r.dev
    epochs = json.loads((tmp_path / "m" / "metrics.json").read_text(encoding="utf-8"))["epochs"]
    first, last = epochs[0]["dev"], epochs[-1]["dev"]
    assert last["upos"] >= 85 and last["las"] > 80, last  # chance: about 33 UPOS (3 tags), under 40 LAS
    assert first["las"] < r.dev["las"] - 20  # learned during training, not by the untrained heads


class SlowFirstEpoch(Regression):
    """The first epoch is slow (a busy machine), the later ones fast."""

    def train_step(self, model: nn.Module, batch: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, dict]:
        import time

        if not getattr(self, "warm", False):
            time.sleep(0.05)
        return super().train_step(model, batch, device)

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        self.warm = True
        return super().evaluate(model, device)


def test_time_budget_is_replanned_after_every_epoch(tmp_path: Path) -> None:
    """One slow epoch does not cut the run: the plan follows the time left at the recent epochs' pace."""
    task = SlowFirstEpoch()
    n_batches = len(task.batches(1))
    budget_s = 0.05 * n_batches * 3  # three slow epochs' worth
    r = fit(task, config(epochs=40, max_minutes=budget_s / 60), tmp_path / "ck")
    assert r.planned_epochs > 4 and len(r.epochs) > 4  # a plan from the first epoch alone would give about 3
    assert r.stop_reason in ("completed", "time budget") and not r.stopped_early


def test_a_signal_after_the_last_step_is_not_lost(tmp_path: Path) -> None:
    """Ctrl-C during the final evaluation or save (after the last step's check): the run's checkpoint is saved and
    the signal reaches the caller once the core's handlers are restored (it was silently dropped, and a
    categorize run went on to its next stage)."""
    import os
    import signal

    task = Regression()

    def ctrl_c_at_the_end(event: Event) -> None:
        if event.kind == "epoch" and event.epoch == event.epochs:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job ignores it)
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(task, config(epochs=2), tmp_path / "ck", progress=ctrl_c_at_the_end)
    finally:
        signal.signal(signal.SIGINT, before)
    from adaptlang.engine.checkpoint import CheckpointStore

    assert CheckpointStore(tmp_path / "ck").latest_step() == 2 * len(task.batches(1))


def test_deterministic_sets_cublas_workspace_unless_the_user_did(monkeypatch: pytest.MonkeyPatch) -> None:
    from adaptlang.engine.runtime import deterministic

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
        deterministic()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
        deterministic()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
