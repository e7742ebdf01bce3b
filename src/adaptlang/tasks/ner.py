"""Named-entity recognition on the training core: a token tagger with a CRF (IOB2, decoding that never emits an
invalid sequence) on any word encoder: a pretrained transformer (``adaptlang train --task ner``, with the parser's
windowing, pooling, translit, adapters and LoRA) or the from-scratch character + word BiLSTM (``adaptlang baseline
--task ner``: the BiLSTM-CRF).

:class:`NERTask` is the set of hooks :func:`adaptlang.engine.fit` drives; :func:`train_ner` reads the data, builds
the model, runs the core and writes the model directory::

    config.json        {"kind": "adaptlang-ner", "encoder": {...}, "heads": {...}, "scheme": ..., "train": {...}}
    encoder/           the word encoder's own files
    heads.safetensors  the tag layer and CRF
    tags.json          the tag vocabulary (IOB2)
    metrics.json       dev scores per epoch;  train.json  the run's result;  README.md  the model card
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from adaptlang.data.ner import (NERSentence, check_scheme, conllu_with_tags, ner_text, read_ner,
                                sentences_from_token_lines, split_tag)
from adaptlang.data.vocab import LabelVocab
from adaptlang.engine import FitConfig, FitResult, check_resumable, fit
from adaptlang.engine.card import write_model_card
from adaptlang.engine.checkpoint import load_tensors, save_tensors
from adaptlang.engine.runtime import cpu_seconds, deterministic, resolve_device, run_lock, set_seed, set_threads
from adaptlang.errors import InputError, ModelError, UsageError
from adaptlang.evaluate_ner import NERScores, entity_counts, ner_scores
from adaptlang.events import Event, Progress, silent
from adaptlang.fileio import atomic_path, check_output, disk_errors, write_json_atomic, write_text_atomic
from adaptlang.models import get_encoder_class
from adaptlang.models.crf import TaggerConfig, TokenTagger
from adaptlang.models.specs import EncoderSpec
from adaptlang.options import validate_numeric
from adaptlang.tasks.batching import bucket_batches
from adaptlang.tasks.parse import (OPTION_FIELDS, RESUME_FREE, TRAINING_OPTIONS, EncoderSpecConfig, TrainResult,
                                   _prepare_output, _result, encoder_and_head_groups, small_data_policy)
from adaptlang.tasks.parse_model import PredictResult, pad_labels, to_device

MODEL_KIND = "adaptlang-ner"
FORMAT_VERSION = 1
DEV_HOLDOUT = 0.1
INPUT_FORMATS = ("auto", "conll", "conllu", "tokens")


@dataclass(frozen=True)
class NERConfig(EncoderSpecConfig):
    """Everything an NER training run needs; saved (resolved) as ``OUT/config.json["train"]``."""

    train: str
    out: str
    encoder: EncoderSpec | dict[str, Any]
    dev: str | None = None  # None: hold out the last 10% of the training sentences
    data_format: str = "conll"  # conll (CoNLL-2003 family) or conllu (MISC NE=)
    scheme: str = "auto"  # the tag scheme of the data files (auto-detected by default)
    lenient: bool = False  # read malformed tag sequences as conlleval does instead of refusing them
    epochs: int = 20
    batch_size: int = 16
    max_tokens: int | None = 2500
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    adam_beta2: float = 0.999
    grad_accum: int = 1
    patience: int = 5
    seed: int = 42
    device: str = "auto"
    max_minutes: float | None = None
    threads: int | None = None
    cpu_bf16: bool = False  # bf16 autocast on the CPU (as TrainConfig.cpu_bf16)
    dropout: float = 0.2
    crf: bool = True
    log_dir: str | None = None
    force: bool = False
    resume: bool = False


RESUME_FLAGS = {"encoder_lr": "--lr", "adam_beta2": "--beta2", "data_format": "--format"}


@dataclass
class LoadedTagger:
    model: TokenTagger
    tags: LabelVocab
    config: dict[str, Any]
    device: torch.device


@dataclass(frozen=True)
class NEREvalResult:
    scores: NERScores
    model_dir: str
    gold: str
    seconds: float
    sentences_per_s: float
    counts: np.ndarray | None = None  # [n_sentences, 3 * (1 + n_types)] (see evaluate_ner.entity_counts)

    def to_dict(self) -> dict:
        return {**self.scores.to_dict(), "task": "ner", "model_dir": self.model_dir, "gold": self.gold,
                "seconds": self.seconds, "sentences_per_s": self.sentences_per_s}


class NERTask:
    """The engine's hooks for NER."""

    def __init__(self, loaded: LoadedTagger, train: Sequence[NERSentence], dev: Sequence[NERSentence],
                 config: NERConfig):
        self.model, self.loaded, self.config = loaded.model, loaded, config
        self.train = [(s.tokens, loaded.tags.indices(s.tags)) for s in train]
        self.dev = dev
        self.lengths = [len(s.tokens) for s in train]

    def param_groups(self) -> list[dict[str, Any]]:
        return encoder_and_head_groups(self.model, self.config.encoder_lr, self.config.head_lr)

    def batches(self, epoch: int) -> list[list[tuple[list[str], list[int]]]]:
        c = self.config
        idx = bucket_batches(self.lengths, c.batch_size, c.max_tokens, shuffle=True, seed=c.seed * 1000 + epoch)
        return [[self.train[i] for i in b] for b in idx]

    def train_step(self, model: Any, batch: list[tuple[list[str], list[int]]],
                   device: torch.device) -> tuple[torch.Tensor, dict]:
        inputs = to_device(self.model.encoder.collate([w for w, _ in batch]), device)
        tags = to_device({"tags": pad_labels([t for _, t in batch], max(len(w) for w, _ in batch))}, device)["tags"]
        s_tag, mask = model(inputs)  # [batch, n, n_tags], [batch, n]
        loss = self.model.loss(s_tag, mask, tags)
        return loss, {"sentences": len(batch), "tokens": sum(len(w) for w, _ in batch)}

    def evaluate(self, model: Any, device: torch.device) -> dict[str, float]:
        preds = predict_tags(self.loaded, [s.tokens for s in self.dev], self.config.batch_size)
        sc = ner_scores([s.tags for s in self.dev], preds, n_bootstrap=0)
        return {"f1": sc.overall.f1, "precision": sc.overall.precision, "recall": sc.overall.recall}


def predict_tags(loaded: LoadedTagger, words: Sequence[Sequence[str]], batch_size: int = 32,
                 max_tokens: int | None = 2500) -> list[list[str]]:
    """IOB2 tags of each sentence (given as words), in input order; always valid IOB2."""
    model, device = loaded.model, loaded.device
    was_training = model.training
    model.eval()
    out: list[Any] = [None] * len(words)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    with torch.no_grad(), autocast:
        for batch in bucket_batches([len(w) for w in words], batch_size, max_tokens, shuffle=False):
            inputs = to_device(model.encoder.collate([words[i] for i in batch]), device)
            for j, ids in zip(batch, model.decode(*model(inputs))):
                out[j] = [loaded.tags.label(t) for t in ids]
    model.train(was_training)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


def read_ner_data(config: NERConfig) -> tuple[list[NERSentence], list[NERSentence], str]:
    """Training and dev sentences (IOB2), and where the dev sentences come from."""
    opts = dict(scheme=config.scheme, strict=not config.lenient, fmt=config.data_format)
    train = read_ner(config.train, **opts)  # type: ignore[arg-type]
    if config.dev:
        return train, read_ner(config.dev, **opts), config.dev  # type: ignore[arg-type]
    if len(train) < 2:
        raise InputError(config.train, "need at least 2 sentences to hold out a dev set; pass --dev")
    k = max(1, int(len(train) * DEV_HOLDOUT))
    return train[:-k], train[-k:], f"last {k} sentences of train"


def train_ner(config: NERConfig, progress: Progress | None = None) -> TrainResult:
    """Train an NER tagger and write a self-contained model directory (OUT locked for the whole run; a full disk
    ends in one line naming OUT)."""
    with run_lock(config.out), disk_errors(config.out):
        return run_ner_training(config, progress)


def check_ner_config(config: NERConfig) -> None:
    validate_numeric(config, TRAINING_OPTIONS, OPTION_FIELDS)
    check_scheme(config.scheme, reading=True)


def run_ner_training(config: NERConfig, progress: Progress | None = None) -> TrainResult:
    """:func:`train_ner` without the lock (for callers that hold it, such as the baseline)."""
    say = progress or silent
    check_ner_config(config)
    out, workdir, resuming = _prepare_output(config)  # type: ignore[arg-type]
    device = resolve_device(config.device)
    set_threads(config.threads)
    cpu_start = cpu_seconds()
    train, dev, dev_source = read_ner_data(config)
    config, notes = small_data_policy(config, len(train))  # type: ignore[arg-type]
    for note in notes:
        say(Event("note", message=note))
    tags = LabelVocab("tags", tuple(sorted({t for s in train for t in s.tags}, key=_tag_order)))
    if all(t == "O" for t in tags.labels):
        raise InputError(config.train, "no entities to learn (every tag is O)")
    set_seed(config.seed)
    deterministic()
    encoder = get_encoder_class(config.encoder.kind).build(config.encoder.to_dict(),  # type: ignore[union-attr]
                                                           [s.tokens for s in train])
    encoder.prepare([s.tokens for s in dev])  # per-sentence work done now, not inside the timed first epoch
    heads = TaggerConfig(len(tags), config.dropout, config.crf)
    model = TokenTagger(encoder, heads, tags.labels).to(device)
    task = NERTask(LoadedTagger(model, tags, {}, device), train, dev, config)
    result = _fit(task, config, workdir, device, resuming, say)
    train_result = _result(config, result, model, encoder.config, len(train), len(dev), cpu_start,  # type: ignore
                           tuple(notes))
    full_config = {"kind": MODEL_KIND, "version": FORMAT_VERSION, "encoder": encoder.config,
                   "heads": heads.to_dict(), "scheme": "iob2",
                   "train": {**config.to_dict(), "device": str(device), "dev_source": dev_source}}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        save_tagger(tmp, model, tags, full_config)
        shutil.copy(workdir / "metrics.json", tmp / "metrics.json")
        write_json_atomic(tmp / "train.json", train_result)
        _card(tmp, config, train_result, dev_source)
    shutil.rmtree(workdir, ignore_errors=True)
    return train_result


def baseline_ner_config(b: Any, *, data_format: str = "conll", scheme: str = "auto", lenient: bool = False,
                        vectors_path: str | None = None) -> NERConfig:
    """The BiLSTM-CRF baseline as a preset of :class:`NERConfig`, from the parser baseline's settings
    (:class:`adaptlang.baseline.BaselineConfig`): the same BiLSTM encoder, one learning rate, the same schedule."""
    return NERConfig(train=b.train, out=b.out, encoder=b.encoder_config(vectors_path), dev=b.dev,
                     data_format=data_format, scheme=scheme, lenient=lenient, epochs=b.epochs,
                     batch_size=b.batch_size, encoder_lr=b.lr, head_lr=b.lr, warmup=b.warmup,
                     weight_decay=b.weight_decay, adam_beta2=b.adam_beta2, patience=b.patience, seed=b.seed,
                     device=b.device, max_minutes=b.max_minutes, dropout=b.dropout, log_dir=b.log_dir,
                     force=b.force, resume=b.resume, cpu_bf16=b.cpu_bf16)


def train_ner_baseline(b: Any, config: NERConfig, progress: Progress | None = None) -> TrainResult:
    """Train the BiLSTM-CRF (``config`` from :func:`baseline_ner_config`); with ``b.corpus``, word vectors are first
    read or trained on it as for the parser baseline (:func:`adaptlang.baseline.corpus_embeddings`)."""
    from dataclasses import replace

    from adaptlang.baseline import corpus_embeddings
    from adaptlang.models.bilstm import write_vectors_file

    with run_lock(config.out), disk_errors(config.out):
        check_ner_config(config)  # the encoder options were checked when the config was made
        if getattr(b, "embeddings", None):  # a wrong --embeddings fails now, not after the corpus vectors
            from adaptlang.specs import resolve_model

            resolve_model(b.embeddings, purpose="encoder", option="--embeddings")
        if not b.corpus:
            return run_ner_training(config, progress)
        check_output(config.out, config.force or config.resume, "pass --force to overwrite it")
        vectors = Path(config.out).parent / f".{Path(config.out).name}.corpus-vectors.safetensors"
        if not (config.resume and vectors.exists()):
            words = [t for s in read_ner_data(config)[0] for t in s.tokens]
            torch.manual_seed(b.embedding.seed)
            emb = corpus_embeddings(b.corpus, config=b.embedding, keep=words)
            write_vectors_file(vectors, emb.words, emb.vectors)
        result = run_ner_training(replace(config, encoder=b.encoder_config(str(vectors))), progress)
        for p in (vectors, Path(f"{vectors}.words.json")):
            p.unlink(missing_ok=True)
        return result


def _tag_order(tag: str) -> tuple[str, str]:
    prefix, etype = split_tag(tag)
    return (etype, prefix)  # O first, then B-X, I-X by type


def _comparable(config: NERConfig) -> dict[str, Any]:
    d = config.to_dict()
    for k in RESUME_FREE:
        d.pop(k, None)
    return d


def _fit(task: NERTask, config: NERConfig, workdir: Path, device: torch.device, resuming: bool,
         say: Progress) -> FitResult:
    from adaptlang.engine.checkpoint import CheckpointStore

    if resuming:
        saved = CheckpointStore(workdir / "checkpoints").latest_state() or {}
        check_resumable(saved.get("meta", {}).get("train_config"), _comparable(config), flags=RESUME_FLAGS)
    fit_cfg = FitConfig(epochs=config.epochs, grad_accum=config.grad_accum, warmup=config.warmup,
                        weight_decay=config.weight_decay, adam_beta2=config.adam_beta2, patience=config.patience,
                        select_metric="f1", seed=config.seed, device=str(device), max_minutes=config.max_minutes,
                        log_dir=config.log_dir, cpu_bf16=config.cpu_bf16)
    workdir.mkdir(parents=True, exist_ok=True)
    return fit(task, fit_cfg, workdir / "checkpoints", progress=say, resume=resuming,
               meta={"train_config": _comparable(config)}, metrics_file=workdir / "metrics.json",
               output=Path(config.out))


def _card(directory: Path, config: NERConfig, r: TrainResult, dev_source: str) -> None:
    enc = r.encoder
    kind = enc.get("kind", "")
    base = enc.get("base_model") or enc.get("model") if kind == "transformer" else None
    what = "from-scratch character + word BiLSTM" if kind == "bilstm" else f"`{base}`"
    write_model_card(
        directory, title=f"Named-entity recognizer ({kind}{' + CRF' if config.crf else ''})",
        summary=f"A named-entity tagger (IOB2{', CRF' if config.crf else ''}) on a {what} encoder, trained with "
                "adaptlang. Load it with `adaptlang evaluate` / `adaptlang predict` or "
                "`adaptlang.tasks.ner.load_tagger`.",
        base_model=base, data={"train": config.train, "dev": config.dev or f"{config.train} ({dev_source})"},
        scores={f"dev entity {k}": v for k, v in r.dev.items()} | {"best epoch": r.best_epoch,
                                                                     "epochs run": r.epochs_run},
        settings={k: v for k, v in config.to_dict().items() if k not in ("train", "dev", "out", "encoder")}
        | {"encoder": enc}, tags=("token-classification", "named-entity-recognition"))


# ---------------------------------------------------------------------------------------------------------------
# The model directory: save, load, evaluate, predict
# ---------------------------------------------------------------------------------------------------------------


def save_tagger(directory: Path, model: TokenTagger, tags: LabelVocab, config: dict) -> None:
    model.encoder.save(directory / "encoder")
    heads = {n: p.detach().cpu().contiguous() for n, p in model.state_dict().items() if not n.startswith("encoder.")}
    save_tensors(directory / "heads.safetensors", heads)
    write_json_atomic(directory / "tags.json", tags.to_dict())
    write_json_atomic(directory / "config.json", config)


def model_kind(model_dir: str | os.PathLike) -> str | None:
    """The ``kind`` in a model directory's config.json (None when there is none or it is unreadable)."""
    try:
        return json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def load_tagger(model_dir: str | os.PathLike, device: str = "auto") -> LoadedTagger:
    """Load a model directory written by ``adaptlang train --task ner`` or ``adaptlang baseline --task ner``."""
    d = Path(model_dir)
    try:
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
        tags = LabelVocab.from_dict(json.loads((d / "tags.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise ModelError(f"{d}: not a readable NER model directory ({e}); train one with "
                         "`adaptlang train --task ner`") from None
    if config.get("kind") != MODEL_KIND:
        raise ModelError(f"{d}: config.json is not an adaptlang NER model (kind={config.get('kind')!r})")
    dev = resolve_device(device)
    encoder = get_encoder_class(config["encoder"]["kind"]).load(config["encoder"], d / "encoder")
    model = TokenTagger(encoder, TaggerConfig(**config["heads"]), tags.labels)
    missing, unexpected = model.load_state_dict(load_tensors(d / "heads.safetensors"), strict=False)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise ModelError(f"{d}/heads.safetensors does not match config.json (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    model.to(dev).eval()
    return LoadedTagger(model, tags, config, dev)


def _check_batch(batch_size: int) -> None:
    if batch_size < 1:
        raise UsageError(f"--batch-size must be an integer >= 1, got {batch_size}")


def evaluate_ner_model(model_dir: str | os.PathLike, gold_path: str | os.PathLike, *, n_bootstrap: int = 1000,
                       seed: int = 0, device: str = "auto", batch_size: int = 32, scheme: str = "auto",
                       data_format: str = "conll", predictions_out: str | os.PathLike | None = None,
                       force: bool = False) -> NEREvalResult:
    """Tag a gold file with a saved model and score it (entity P/R/F1 overall and per type, bootstrap CI)."""
    _check_batch(batch_size)
    if predictions_out is not None:
        check_output(predictions_out, force)
    gold = read_ner(gold_path, scheme=scheme, fmt=data_format)
    loaded = load_tagger(model_dir, device)
    t0 = time.monotonic()
    preds = predict_tags(loaded, [s.tokens for s in gold], batch_size)
    seconds = time.monotonic() - t0
    types = sorted({split_tag(t)[1] for t in loaded.tags.labels if t != "O"})
    scores = ner_scores([s.tags for s in gold], preds, n_bootstrap=n_bootstrap, seed=seed,
                        gold_name=str(gold_path), known_types=types)
    if predictions_out is not None:
        _write_tagged(predictions_out, [s.with_tags(p) for s, p in zip(gold, preds)], "conll" if data_format ==
                      "conll" else "conllu", "iob2")
    counts = entity_counts([s.tags for s in gold], preds, sorted(scores.per_type))
    return NEREvalResult(scores, str(model_dir), str(gold_path), round(seconds, 2),
                         round(len(gold) / max(seconds, 1e-9), 2), counts)


def _write_tagged(path: str | os.PathLike, sents: Sequence[NERSentence], fmt: str, scheme: str) -> None:
    if fmt == "conllu":
        write_text_atomic(path, "".join(conllu_with_tags(s, scheme) for s in sents))
    else:
        write_text_atomic(path, ner_text(sents, scheme))


def _read_input(input_path: str, input_format: str, scheme: str) -> tuple[list[NERSentence], str]:
    if input_format == "auto":
        if input_path == "-":
            raise UsageError("reading stdin needs --format conll, conllu or tokens")
        input_format = _sniff_format(input_path)
    if input_format == "tokens":
        return sentences_from_token_lines(input_path), "tokens"
    if input_path != "-":  # stdin is read once: there, every column after the token is kept
        with contextlib.suppress(InputError):  # labelled input: its tag column is replaced, not kept as a column
            return read_ner(input_path, fmt=input_format, tags=True, strict=False), input_format
    return read_ner(input_path, fmt=input_format, tags=False, scheme=scheme), input_format


def _sniff_format(path: str) -> str:
    from adaptlang.data.text import iter_lines

    for text in iter_lines(path):
        if not text.strip() or text.startswith("#") or text.startswith("-DOCSTART-"):
            continue
        if text.count("\t") == 9:
            return "conllu"
        fields = text.split()
        return "conll" if len(fields) == 1 or _is_tag(fields[-1]) else "tokens"
    raise InputError(path, "empty input; give CoNLL-2003-style lines, CoNLL-U or one pre-tokenised sentence per line")


def _is_tag(text: str) -> bool:
    try:
        split_tag(text)
    except ValueError:
        return False
    return True


def predict_ner(model_dir: str | os.PathLike, input_path: str, output: str, *, input_format: str = "auto",
                scheme: str = "iob2", device: str = "auto", batch_size: int = 32,
                force: bool = False) -> PredictResult:
    """Tag ``input_path``: CoNLL-2003-style lines (a token per line, any columns after it kept, a last tag column
    replaced), CoNLL-U (tags written to MISC ``NE=``) or pre-tokenised text (written as CoNLL-2003-style lines)."""
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--format {input_format!r}; valid: {', '.join(INPUT_FORMATS)}")
    check_scheme(scheme)
    _check_batch(batch_size)
    if output != "-":
        check_output(output, force)
    sents, fmt = _read_input(input_path, input_format, scheme)
    loaded = load_tagger(model_dir, device)
    t0 = time.monotonic()
    preds = predict_tags(loaded, [s.tokens for s in sents], batch_size)
    _write_tagged(output, [s.with_tags(p) for s, p in zip(sents, preds)], fmt, scheme)
    return PredictResult(output, len(sents), sum(s.n_tokens for s in sents), fmt, round(time.monotonic() - t0, 2))
