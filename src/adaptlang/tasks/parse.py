"""The tagging + parsing task on the training core: a UPOS tagger and biaffine dependency parser on any word
encoder (a pretrained transformer for ``adaptlang train``, the from-scratch BiLSTM for ``adaptlang baseline``).

:class:`ParseTask` is the set of hooks :func:`adaptlang.engine.fit` drives; :func:`train_parser` reads the data,
builds the model, runs the core and writes the model directory (see :mod:`adaptlang.tasks.parse_model`).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from adaptlang.data.conllu import Sentence, read_conllu
from adaptlang.data.donors import TRANSFER_FIELDS, read_training_data
from adaptlang.data.vocab import LabelVocab
from adaptlang.engine import FitConfig, FitResult, check_resumable
from adaptlang.engine.card import write_model_card
from adaptlang.engine.runtime import cpu_seconds, deterministic, resolve_device, run_lock, set_seed, set_threads
from adaptlang.errors import InputError, OutputExistsError
from adaptlang.evaluate import attachment_scores
from adaptlang.events import Event, Progress, silent
from adaptlang.fileio import atomic_path, check_output, disk_errors, write_json_atomic
from adaptlang.models import get_encoder_class
from adaptlang.models.parser import TAG_HEADS, BiaffineParser, HeadsConfig
from adaptlang.models.specs import EncoderSpec, encoder_spec
from adaptlang.options import FRACTION, NON_NEGATIVE, POSITIVE, TRANSFER, at_least, optional, validate_numeric
from adaptlang.tasks.parse_model import (FORMAT_VERSION, MODEL_KIND, LoadedParser, pad_labels, predict_sentences,
                                         save_model, to_device)
from adaptlang.tasks.batching import bucket_batches
from adaptlang.tasks.tags import build_tagset, check_feats_mode, check_lemma_mode, tag_targets
from adaptlang.tasks.transfer import TransferPlan, fit_schedule, target_share_notes

DEV_HOLDOUT = 0.1  # share of the training sentences held out as dev when no --dev is given
SMALL_TREEBANK = 200  # training sentences; below this, no early stopping (a tiny dev set is too noisy to stop on)
SMALL_DEV = 20  # dev sentences; below this, no epoch is selected on dev either: the last (lowest-LR) epoch is kept


class EncoderSpecConfig:
    """For a task config with an ``encoder`` field: a dict given there becomes its typed spec, and ``to_dict`` writes
    the spec back as JSON (shared by the parser's and NER's configs)."""

    def __post_init__(self) -> None:
        if isinstance(self.encoder, dict):  # type: ignore[attr-defined]
            object.__setattr__(self, "encoder", encoder_spec(self.encoder))  # type: ignore[attr-defined]

    def to_dict(self) -> dict:
        d = asdict(self)  # type: ignore[call-overload]
        d["encoder"] = self.encoder.to_dict()  # type: ignore[attr-defined]
        return d


@dataclass(frozen=True)
class TrainConfig(EncoderSpecConfig):
    """Everything a training run needs; saved (resolved) as ``OUT/config.json["train"]``. The baseline is a preset
    of it (:func:`adaptlang.baseline.baseline_config`)."""

    train: str | None  # None: zero-shot training on the donors alone
    out: str
    encoder: EncoderSpec | dict[str, Any]  # a typed spec (a dict is converted)
    dev: str | None = None  # None: hold out the last 10% of the training sentences
    epochs: int = 30
    batch_size: int = 16  # sentences per batch (upper bound)
    max_tokens: int | None = 2500  # words per batch (upper bound), to bound memory on long sentences
    encoder_lr: float = 1e-4  # with frozen embeddings and batches of 16: the best measured on small treebanks
    head_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    adam_beta2: float = 0.999
    grad_accum: int = 1
    patience: int = 5
    seed: int = 42
    device: str = "auto"
    max_minutes: float | None = None
    threads: int | None = None  # torch CPU threads (None: torch's default); 1 is fastest on a busy machine
    cpu_bf16: bool = False  # bf16 autocast on the CPU (training and dev evaluation); CUDA always uses it
    arc_dim: int = 500
    rel_dim: int = 100
    dropout: float = 0.33
    lemmas: str = "auto"  # auto (edit-script rules, or a copy of FORM when the treebank has none), rules, copy, none
    tag_weight: float = 0.25  # weight of the XPOS / FEATS / lemma losses next to UPOS + arcs + labels (measured:
    # at 1.0 Wolof LAS fell 0.49 on test, 1.09 on dev; at 0.25 it equals the parser without them; RESULTS.md)
    feats: str = "whole"  # FEATS as whole strings (classes) or split (a classifier per feature; tasks.tags): whole
    # measured 8.8 UFeats points above split on Uyghur-UDT test, LAS equal within noise (RESULTS.md)
    log_dir: str | None = None  # TensorBoard scalars
    force: bool = False
    resume: bool = False
    # transfer from related treebanks and training-time noise (adaptlang.data.donors, adaptlang.tasks.transfer)
    donors: tuple[str, ...] = ()  # donor treebanks trained on with the target
    donor_temperature: float = 2.0  # treebank i is sampled with probability proportional to n_i ** (1 / T)
    target_share: float = 0.5  # the target's least share of a mixed epoch with donors (0: the temperature decides)
    donor_schedule: str = "mixed"  # mixed (one run on all treebanks) or sequential (donors, then the target)
    donor_translit: str | None = None  # a scheme for the donors' FORMs, or "target" (to the target's script)
    target_sentences: int | None = None  # few-shot: the first N target training sentences (0: zero-shot)
    epoch_sentences: int | None = None  # sentences per epoch (None: as many as the phase's treebanks hold)
    subword_dropout: float = 0.0  # probability of splitting each subword piece further (training only)
    char_noise: float = 0.0  # probability of one character insert/delete/swap/substitute per word (training only)


# options that may change between a run and its --resume without changing what is computed
RESUME_FREE = ("force", "resume", "device", "max_minutes", "threads", "log_dir")
# the library's check of the numeric options (the CLI checks its flags with the same rules before any work)
TRAINING_OPTIONS = {"--epochs": at_least(1), "--batch-size": at_least(1), "--max-tokens": optional(at_least(1)),
                    "--lr": POSITIVE, "--head-lr": POSITIVE, "--warmup": FRACTION, "--weight-decay": NON_NEGATIVE,
                    "--beta2": FRACTION, "--grad-accum": at_least(1), "--patience": at_least(0),
                    "--max-minutes": optional(POSITIVE), "--dropout": FRACTION}  # every task on the core
NUMERIC_OPTIONS = {**TRAINING_OPTIONS, "--arc-dim": at_least(1), "--rel-dim": at_least(1), "--tag-weight": NON_NEGATIVE,
                   **TRANSFER}
OPTION_FIELDS = {"--lr": "encoder_lr", "--beta2": "adam_beta2"}
# --resume's refusal names flags: the fields (and encoder fields) whose flag is spelled otherwise, per encoder kind
RESUME_FLAGS = {"transformer": {"encoder_lr": "--lr", "adam_beta2": "--beta2", "donors": "--donor"},
                "bilstm": {"encoder_lr": "--lr", "head_lr": "--lr", "adam_beta2": "--beta2", "donors": "--donor",
                           "encoder.n_layers": "--layers", "encoder.pretrained_vectors": "--corpus"}}


@dataclass(frozen=True)
class TrainResult:
    out: str
    best_epoch: int
    dev: dict[str, float]
    epochs_run: int
    stopped_early: bool
    train_seconds: float
    sentences_per_s: float
    peak_memory_mb: float
    cpu_seconds: float  # user + system CPU time of the whole run (wall time depends on other load)
    n_train_sentences: int
    n_dev_sentences: int
    n_parameters: int
    n_trainable_parameters: int
    encoder: dict[str, Any]
    resumed_from_epoch: int = 0
    fit: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = "completed"
    planned_epochs: int = 0
    best_is_last: bool = False
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Example:
    words: list[str]
    upos: list[int]
    heads: list[int]
    rels: list[int]
    tags: dict[str, list[int]] = field(default_factory=dict)  # xpos / feats / lemma class ids (tasks.tags)


class ParseTask:
    """The engine's hooks for tagging + parsing."""

    def __init__(self, model: BiaffineParser, train: Sequence[Example], dev: Sequence[Sentence],
                 loaded: LoadedParser, config: TrainConfig, plan: TransferPlan | None = None):
        self.model, self.train, self.dev, self.loaded, self.config = model, train, dev, loaded, config
        self.plan = plan  # donor treebanks and noise: the epoch's batches and their inputs
        self.lengths = [len(e.words) for e in train]

    def param_groups(self) -> list[dict[str, Any]]:
        return encoder_and_head_groups(self.model, self.config.encoder_lr, self.config.head_lr)

    def batches(self, epoch: int) -> list[list[Example]]:
        c = self.config
        if self.plan is not None:
            return self.plan.batches(epoch, self.train)
        idx = bucket_batches(self.lengths, c.batch_size, c.max_tokens, shuffle=True, seed=c.seed * 1000 + epoch)
        return [[self.train[i] for i in b] for b in idx]

    def train_step(self, model: Any, batch: list[Example], device: torch.device) -> tuple[torch.Tensor, dict]:
        inputs = to_device(self.plan.collate(self.model.encoder, batch) if self.plan is not None
                           else self.model.encoder.collate([e.words for e in batch]), device)
        n = max(len(e.words) for e in batch)
        gold = to_device({k: pad_labels([getattr(e, k) for e in batch], n) for k in ("upos", "heads", "rels")},
                         device)  # copied before the forward is queued (a copy after it would wait for it)
        tags = to_device({name: pad_labels([e.tags[name] for e in batch], n) for name in batch[0].tags}, device)
        scores = model(inputs)
        loss, _ = self.model.loss(scores, gold["upos"], gold["heads"], gold["rels"], tags)
        units = {"sentences": len(batch), "tokens": sum(len(e.words) for e in batch)}
        if self.plan is not None and self.plan.config.donors:  # how much of the training was the target's
            units["target_sentences"] = sum(t == 0 for t in batch.treebanks)  # type: ignore[attr-defined]
        return loss, units

    def evaluate(self, model: Any, device: torch.device) -> dict[str, float]:
        preds = predict_sentences(self.loaded, self.dev, self.config.batch_size)
        sc = attachment_scores(self.dev, preds, n_bootstrap=0, all_metrics=False)  # the official script: 1 s more
        return {"upos": sc.upos, "uas": sc.uas, "las": sc.las}


def encoder_and_head_groups(model: torch.nn.Module, encoder_lr: float, head_lr: float) -> list[dict[str, Any]]:
    """AdamW groups of a model with an ``encoder`` and heads: the encoder's pretrained parameters at ``encoder_lr``,
    everything else (heads, and encoder parts trained from scratch) at ``head_lr``; frozen parameters left out."""
    pretrained = {f"encoder.{n}" for n in model.encoder.pretrained_parameters()}  # type: ignore[union-attr]
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if n in pretrained], "lr": encoder_lr},
              {"params": [p for n, p in named if n not in pretrained], "lr": head_lr}]
    return [g for g in groups if g["params"]]


def partial_dir(out: Path) -> Path:
    """Where an unfinished run keeps its checkpoints and metrics (beside OUT; removed when OUT is written)."""
    return out.parent / f".{out.name}.partial"


def check_train_config(config: TrainConfig) -> None:
    validate_numeric(config, NUMERIC_OPTIONS, OPTION_FIELDS)
    check_lemma_mode(config.lemmas)
    check_feats_mode(config.feats)


def _prepare_output(config: TrainConfig) -> tuple[Path, Path, bool]:
    """(OUT, its partial directory, whether to resume); refuses to overwrite or to drop unfinished work."""
    out = Path(config.out)
    workdir = partial_dir(out)
    has_checkpoint = (workdir / "checkpoints" / "latest.json").is_file()
    if config.resume and out.exists() and not has_checkpoint:
        raise OutputExistsError(out, "training already finished (nothing to resume); pass --force to retrain")
    check_output(out, config.force or config.resume, "pass --force to overwrite it")
    if workdir.exists() and not config.resume:
        if has_checkpoint and not config.force:
            raise OutputExistsError(workdir, "an interrupted run left its checkpoints here; rerun with --resume to "
                                             "continue it, or with --force to start over")
        shutil.rmtree(workdir)
    return out, workdir, config.resume and has_checkpoint


def read_treebanks(config: TrainConfig) -> tuple[list[Sentence], list[Sentence], str]:
    """Training and dev sentences, and where the dev sentences come from."""
    train_sents = read_conllu(config.train, require_tree=True)
    if config.dev:
        return train_sents, read_conllu(config.dev, require_tree=True), config.dev
    if len(train_sents) < 2:
        raise InputError(config.train, "need at least 2 sentences to hold out a dev set; pass --dev")
    k = max(1, int(len(train_sents) * DEV_HOLDOUT))
    return train_sents[:-k], train_sents[-k:], f"last {k} sentences of train"


def small_data_policy(config: TrainConfig, n_train: int) -> tuple[TrainConfig, list[str]]:
    """One policy for every encoder on tiny treebanks: batches small enough that an epoch is several updates, and no
    early stopping (a dev set of a handful of sentences is too noisy to stop on; the best epoch is still kept)."""
    notes: list[str] = []
    c = config
    if n_train < 8 * c.batch_size:
        batch = max(2, min(c.batch_size, n_train // 8))
        if batch != c.batch_size:
            c = replace(c, batch_size=batch)
            notes.append(f"{n_train} training sentences: batches of {batch} sentences instead of {config.batch_size}")
    if n_train < SMALL_TREEBANK and c.patience:
        c = replace(c, patience=0)
        notes.append(f"{n_train} training sentences (under {SMALL_TREEBANK}): no early stopping, every planned "
                     "epoch runs and the best dev epoch is kept")
    return c, notes


def train_parser(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Train a UPOS tagger + biaffine parser on a CoNLL-U treebank and write a self-contained model directory.

    OUT is locked for the whole run (a second run on the same OUT fails at once); a full disk ends in one line that
    names OUT and says that the last checkpoint is intact."""
    with run_lock(config.out), disk_errors(config.out):
        return run_training(config, progress)


def run_training(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """:func:`train_parser` without the lock (for callers that hold it, such as the baseline)."""
    say = progress or silent
    check_train_config(config)
    out, workdir, resuming = _prepare_output(config)
    device = resolve_device(config.device)
    set_threads(config.threads)
    cpu_start = cpu_seconds()
    data = read_training_data(config, read_treebanks)  # the target (few-/zero-shot cuts) and donors
    train_sents, dev_sents, dev_source = data.sentences, data.dev, data.dev_source
    notes = data.notes
    config, policy_notes = small_data_policy(config, len(train_sents))
    notes += policy_notes
    tagset, tag_notes = build_tagset(train_sents, config.lemmas, config.feats)  # the heads the data supports
    notes += tag_notes
    select = "las" if len(dev_sents) >= SMALL_DEV else None
    if select is None:
        notes.append(f"a dev set of {len(dev_sents)} sentences (under {SMALL_DEV}) is too small to pick an epoch on: "
                     "the last epoch is kept (the learning rate has decayed to zero by then)")
    for note in notes:
        say(Event("note", message=note))
    upos = LabelVocab.build("upos", (u for s in train_sents for u in s.upos))
    deprel = LabelVocab.build("deprel", (d for s in train_sents for d in s.deprels))
    if len(upos) == 0 or len(deprel) == 0:
        raise InputError(config.train, "no UPOS or DEPREL labels to learn (all '_')")
    set_seed(config.seed)
    deterministic()
    encoder = get_encoder_class(config.encoder.kind).build(config.encoder.to_dict(),  # type: ignore[union-attr]
                                                           [s.forms for s in train_sents])
    n_tags = {f"n_{'lemmas' if k == 'lemma' else k}": len(v) for k, v in tagset.vocabs.items()
              if k in TAG_HEADS}
    heads = HeadsConfig(len(upos), len(deprel), config.arc_dim, config.rel_dim, config.dropout,
                        n_treebanks=data.n_embedded, tag_weight=config.tag_weight,
                        feat_sizes={k: len(tagset.vocabs[k]) for k in tagset.feat_heads}, **n_tags)
    model = BiaffineParser(encoder, heads).to(device)
    encoder.prepare([s.forms for s in dev_sents])  # per-sentence work done now, not inside the timed first epoch
    examples = [Example(s.forms, upos.indices(s.upos), [int(h) for h in s.heads], deprel.indices(s.deprels),
                        tag_targets(tagset, s)) for s in train_sents]
    task = ParseTask(model, examples, dev_sents, LoadedParser(model, upos, deprel, {}, device, tagset), config,
                     TransferPlan.build(config, data, encoder))
    result = _fit(task, config, workdir, device, resuming, say, select)
    train_result = _result(config, result, model, encoder.config, len(train_sents), len(dev_sents), cpu_start,
                           tuple(notes) + target_share_notes(result.units, data.sizes[0]))
    full_config = {"kind": MODEL_KIND, "version": FORMAT_VERSION, "encoder": encoder.config,
                   "heads": heads.to_dict(), "tags": tagset.to_dict(),
                   "train": {**config.to_dict(), "device": str(device), "dev_source": dev_source}}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        save_model(tmp, model, upos, deprel, full_config, tagset)
        shutil.copy(workdir / "metrics.json", tmp / "metrics.json")
        write_json_atomic(tmp / "train.json", train_result)
        _card(tmp, config, train_result, dev_source)
    shutil.rmtree(workdir, ignore_errors=True)
    return train_result


# options added after checkpoints were written, each with the value that computes what those checkpoints did (the
# transfer options: their defaults, no donors and no noise, except target_share, whose default changed the sampling:
# 0; the tag losses: weight 1)
ADDED_OPTIONS = {**{f.name: f.default for f in fields(TrainConfig) if f.name in TRANSFER_FIELDS}, "tag_weight": 1.0,
                 "feats": "whole", "target_share": 0.0}


def _comparable(config: TrainConfig) -> dict[str, Any]:
    d = config.to_dict()
    for k in RESUME_FREE:
        d.pop(k, None)
    if not config.donors:
        d.pop("target_share", None)  # no effect without donors
    for name, before in ADDED_OPTIONS.items():  # at that value, as before the option existed (older checkpoints
        if d.get(name) == before:  # resume)
            d.pop(name)
    return {**d, "donors": list(config.donors)} if config.donors else d  # as the checkpoint's JSON has it


def _fit(task: ParseTask, config: TrainConfig, workdir: Path, device: torch.device, resuming: bool,
         say: Progress, select: str | None) -> FitResult:
    from adaptlang.engine.checkpoint import CheckpointStore

    if resuming:
        saved = CheckpointStore(workdir / "checkpoints").latest_state() or {}
        check_resumable(saved.get("meta", {}).get("train_config"), _comparable(config),
                        flags=RESUME_FLAGS.get(config.encoder.kind))  # type: ignore[union-attr]
    fit_cfg = FitConfig(epochs=config.epochs, grad_accum=config.grad_accum, warmup=config.warmup,
                        weight_decay=config.weight_decay, adam_beta2=config.adam_beta2, patience=config.patience,
                        select_metric=select, seed=config.seed, device=str(device), max_minutes=config.max_minutes,
                        log_dir=config.log_dir, cpu_bf16=config.cpu_bf16)
    workdir.mkdir(parents=True, exist_ok=True)
    return fit_schedule(task, fit_cfg, workdir, progress=say, resume=resuming,
                        meta={"train_config": _comparable(config)}, output=Path(config.out))


def _result(config: TrainConfig, r: FitResult, model: BiaffineParser, encoder_config: dict, n_train: int,
            n_dev: int, cpu_start: float, notes: tuple[str, ...]) -> TrainResult:
    fresh = [e for e in r.epochs if e.epoch > r.resumed_from_epoch]
    speed = sum(e.train_sentences_per_s for e in fresh) / len(fresh) if fresh else 0.0
    if r.selected and r.best_is_last and r.stop_reason != "patience" and len(r.epochs) > 1:
        notes = notes + (f"the best dev epoch was the last one ({r.best_epoch}): the model was still improving; "
                         "more epochs or minutes may help",)
    return TrainResult(
        out=config.out, best_epoch=r.best_epoch, dev=r.best_dev, epochs_run=len(r.epochs),
        stopped_early=r.stopped_early, train_seconds=round(sum(e.seconds for e in r.epochs), 2),
        sentences_per_s=round(speed, 2), peak_memory_mb=r.peak_memory_mb,
        cpu_seconds=round(cpu_seconds() - cpu_start, 1), n_train_sentences=n_train, n_dev_sentences=n_dev,
        n_parameters=sum(p.numel() for p in model.parameters()),
        n_trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        encoder=encoder_config, resumed_from_epoch=r.resumed_from_epoch, fit={k: v for k, v in r.to_dict().items() if k != "epochs"},
        stop_reason=r.stop_reason, planned_epochs=r.planned_epochs, best_is_last=r.best_is_last, notes=notes)


def _card(directory: Path, config: TrainConfig, r: TrainResult, dev_source: str) -> None:
    enc = r.encoder
    kind = enc.get("kind", "")
    base = enc.get("base_model") or enc.get("model") if kind in ("transformer", "features") else None
    what = {"bilstm": "from-scratch character + word BiLSTM",
            "features": f"character + word BiLSTM reading frozen `{enc.get('model')}` vectors"}.get(kind, f"`{base}`")
    write_model_card(
        directory, title=f"UPOS tagger and dependency parser ({kind})",
        summary=f"A UPOS tagger and biaffine dependency parser on a {what} encoder, trained with adaptlang. Load it "
                "with `adaptlang evaluate` / `adaptlang predict` or `adaptlang.tasks.load_parser`.",
        base_model=base, data={"train": config.train, "dev": config.dev or f"{config.train} ({dev_source})",
                               **{f"donor {i}": d for i, d in enumerate(config.donors, 1)}},
        scores={f"dev {k.upper()}": v for k, v in r.dev.items()} | {"best epoch": r.best_epoch,
                                                                      "epochs run": r.epochs_run},
        settings={k: v for k, v in config.to_dict().items() if k not in ("train", "dev", "out", "encoder")}
        | {"encoder": enc}, tags=("dependency-parsing", "pos-tagging", "universal-dependencies"))
