"""Library entry points for tagging and parsing: :func:`train_parser`, :func:`load_parser`, :func:`predict`,
:func:`evaluate_model`. The CLI commands ``train``, ``evaluate`` and ``predict`` are thin wrappers; ``baseline``
calls :func:`train_parser` with another encoder kind.

A model directory holds::

    config.json        {"kind": "adaptlang-parser", "encoder": {"kind": ..., ...}, "heads": {...}, "train": {...}}
    encoder/           the word encoder's own files (save_pretrained, a PEFT adapter, or safetensors + JSON)
    heads.safetensors  tagger and parser weights (everything outside the encoder)
    vocabs.json        UPOS and DEPREL label vocabularies
    metrics.json       dev scores per epoch;  train.json  the run's result
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from adaptlang.data.conllu import Sentence, iter_conllu, read_conllu, sentences_from_tokens
from adaptlang.data.text import iter_lines
from adaptlang.data.vocab import LabelVocab
from adaptlang.errors import InputError, ModelError, OutputExistsError, UsageError
from adaptlang.evaluate import Scores, attachment_scores
from adaptlang.fileio import atomic_path, check_output, write_json_atomic
from adaptlang.models import get_encoder_class
from adaptlang.models.parser import BiaffineParser, HeadsConfig
from adaptlang.training import FitCallbacks, FitConfig, FitResult, bucket_batches, fit
from adaptlang.training.checkpoint import load_tensors, save_tensors
from adaptlang.training.loop import autocast, set_seed

MODEL_KIND = "adaptlang-parser"
FORMAT_VERSION = 1
DEV_HOLDOUT = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved (resolved) as ``OUT/config.json["train"]``."""

    train: str
    out: str
    encoder: dict[str, Any]  # {"kind": "transformer", "model": ..., "pooling": ...} or another registered kind
    dev: str | None = None  # None: hold out the last 10% of the training sentences
    epochs: int = 30
    batch_size: int = 32  # sentences per batch (upper bound)
    max_tokens: int | None = 2500  # words per batch (upper bound), to bound memory on long sentences
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    adam_beta2: float = 0.999
    patience: int = 5
    seed: int = 42
    device: str = "auto"
    max_minutes: float | None = None
    threads: int | None = None  # torch CPU threads (None: torch's default); 1 is fastest on a busy machine
    arc_dim: int = 500
    rel_dim: int = 100
    dropout: float = 0.33
    force: bool = False
    resume: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoadedParser:
    model: BiaffineParser
    upos: LabelVocab
    deprel: LabelVocab
    config: dict[str, Any]
    device: torch.device


@dataclass(frozen=True)
class EvalResult:
    scores: Scores
    model_dir: str
    gold: str
    seconds: float
    sentences_per_s: float

    def to_dict(self) -> dict:
        return {**self.scores.to_dict(), "model_dir": self.model_dir, "gold": self.gold,
                "seconds": self.seconds, "sentences_per_s": self.sentences_per_s}


@dataclass(frozen=True)
class PredictResult:
    output: str
    n_sentences: int
    n_words: int
    input_format: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return dev


def set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        torch.set_num_threads(threads)


def check_patience(patience: int) -> None:
    """``--patience``: 0 (never stop early) or a number of epochs; a negative one would stop after the first epoch."""
    if patience < 0:
        raise UsageError(f"--patience must be 0 (never stop early) or positive, got {patience}")


def peak_memory_mb(device: torch.device) -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    if device.type == "cuda":
        return round(max(rss, torch.cuda.max_memory_allocated(device) / 2**20), 1)
    return round(rss, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- batches ---------------------------------------------------------------------------------------------
@dataclass
class Example:
    words: list[str]
    upos: list[int]
    heads: list[int]
    rels: list[int]


def _examples(sents: Sequence[Sentence], upos: LabelVocab, deprel: LabelVocab) -> list[Example]:
    return [Example(s.forms, upos.indices(s.upos), [int(h) for h in s.heads],  # type: ignore[arg-type]
                    deprel.indices(s.deprels)) for s in sents]


def _pad(rows: Sequence[Sequence[int]], n: int, value: int = -100) -> torch.Tensor:
    t = torch.full((len(rows), n), value, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return t


def _to(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in inputs.items()}


def predict_words(loaded: LoadedParser, words: Sequence[Sequence[str]], batch_size: int = 32,
                  max_tokens: int | None = 2500) -> list[tuple[list[str], list[int], list[str]]]:
    """UPOS, heads and DEPRELs for each sentence (given as words), in input order."""
    model, device = loaded.model, loaded.device
    model.eval()
    root = loaded.deprel.index("root", ignore=-1)
    out: list[Any] = [None] * len(words)
    batches = bucket_batches([len(w) for w in words], batch_size, max_tokens, shuffle=False)
    with torch.no_grad(), autocast(device):
        for batch in batches:
            inputs = _to(model.encoder.collate([words[i] for i in batch]), device)
            scores = model(inputs)
            upos, heads, rels = model.decode(scores, root_rel=root if root >= 0 else None)
            for j, i in enumerate(batch):
                out[i] = ([loaded.upos.label(u) for u in upos[j]], heads[j], [loaded.deprel.label(r) for r in rels[j]])
    return out


def predict_sentences(loaded: LoadedParser, sents: Sequence[Sentence], batch_size: int = 32) -> list[Sentence]:
    preds = predict_words(loaded, [s.forms for s in sents], batch_size)
    return [s.with_predictions(u, h, d) for s, (u, h, d) in zip(sents, preds)]


# ---- training --------------------------------------------------------------------------------------------
def _partial_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def train_parser(config: TrainConfig, callbacks: FitCallbacks | None = None) -> TrainResult:
    """Train a UPOS tagger + biaffine parser on a CoNLL-U treebank and write a self-contained model directory."""
    out = Path(config.out)
    if config.resume and out.exists() and not (_partial_dir(out) / "checkpoint" / "state.json").exists():
        raise OutputExistsError(out, "training already finished (nothing to resume); pass --force to retrain")
    check_output(out, config.force or config.resume, "pass --force to overwrite it")
    if config.epochs < 1 or config.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    check_patience(config.patience)
    device = resolve_device(config.device)
    set_threads(config.threads)
    cpu_start = _cpu_seconds()
    train_sents = read_conllu(config.train, require_tree=True)
    if config.dev:
        dev_sents = read_conllu(config.dev, require_tree=True)
    else:
        if len(train_sents) < 2:
            raise InputError(config.train, "need at least 2 sentences to hold out a dev set; pass --dev")
        k = max(1, int(len(train_sents) * DEV_HOLDOUT))
        train_sents, dev_sents = train_sents[:-k], train_sents[-k:]
    upos = LabelVocab.build("upos", (u for s in train_sents for u in s.upos))
    deprel = LabelVocab.build("deprel", (d for s in train_sents for d in s.deprels))
    if len(upos) == 0 or len(deprel) == 0:
        raise InputError(config.train, "no UPOS or DEPREL labels to learn (all '_')")

    workdir = _partial_dir(out)
    if workdir.exists() and not config.resume:
        shutil.rmtree(workdir)
    resuming = config.resume and (workdir / "checkpoint" / "state.json").exists()
    if resuming:
        saved = json.loads((workdir / "run.json").read_text(encoding="utf-8"))
        mine = _comparable(config)
        if saved.get("train_config") != mine:
            diff = sorted(k for k in mine if saved.get("train_config", {}).get(k) != mine[k])
            raise UsageError(f"--resume: options differ from the interrupted run ({', '.join(diff)}); "
                             "rerun with the same options or without --resume")
    set_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    encoder_cls = get_encoder_class(str(config.encoder.get("kind", "")))
    encoder = encoder_cls.build(dict(config.encoder), [s.forms for s in train_sents])
    heads = HeadsConfig(len(upos), len(deprel), config.arc_dim, config.rel_dim, config.dropout)
    model = BiaffineParser(encoder, heads).to(device)
    workdir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(workdir / "run.json", {"train_config": _comparable(config)})

    pretrained = {f"encoder.{n}" for n in encoder.pretrained_parameters()}
    enc_params = [p for n, p in model.named_parameters() if p.requires_grad and n in pretrained]
    head_params = [p for n, p in model.named_parameters() if p.requires_grad and n not in pretrained]
    groups = [g for g in ({"params": enc_params, "lr": config.encoder_lr},
                          {"params": head_params, "lr": config.head_lr}) if g["params"]]
    train_ex = _examples(train_sents, upos, deprel)
    lengths = [len(e.words) for e in train_ex]

    def make_batches(epoch: int) -> list[list[Example]]:
        idx = bucket_batches(lengths, config.batch_size, config.max_tokens, shuffle=True, seed=config.seed * 1000 + epoch)
        return [[train_ex[i] for i in b] for b in idx]

    def train_step(m: BiaffineParser, batch: list[Example]) -> torch.Tensor:
        inputs = _to(m.encoder.collate([e.words for e in batch]), device)
        n = inputs["word_mask"].shape[1] if "word_mask" in inputs else max(len(e.words) for e in batch)
        scores = m(inputs)
        loss, _ = m.loss(scores, _pad([e.upos for e in batch], n).to(device), _pad([e.heads for e in batch], n).to(device),
                         _pad([e.rels for e in batch], n).to(device))
        return loss

    loaded = LoadedParser(model, upos, deprel, {}, device)

    def evaluate(m: BiaffineParser) -> dict[str, float]:
        preds = predict_sentences(loaded, dev_sents, config.batch_size)
        sc = attachment_scores(dev_sents, preds, n_bootstrap=0)
        return {"upos": sc.upos, "uas": sc.uas, "las": sc.las}

    fit_cfg = FitConfig(epochs=config.epochs, encoder_lr=config.encoder_lr, head_lr=config.head_lr,
                        warmup=config.warmup, weight_decay=config.weight_decay, adam_beta2=config.adam_beta2,
                        patience=config.patience,
                        seed=config.seed, device=str(device), max_minutes=config.max_minutes)
    result: FitResult = fit(model, groups, make_batches, train_step, evaluate, fit_cfg, workdir, callbacks,
                            resume=resuming)
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train_time = sum(r.seconds for r in result.epochs)
    n_epochs = len(result.epochs)
    speeds = [r.train_sentences_per_s for r in result.epochs if r.epoch > result.resumed_from_epoch]
    train_result = TrainResult(
        out=str(out), best_epoch=result.best_epoch, dev=result.best_dev, epochs_run=n_epochs,
        stopped_early=result.stopped_early, train_seconds=round(train_time, 2),
        sentences_per_s=round(sum(speeds) / len(speeds), 2) if speeds else 0.0,
        peak_memory_mb=peak_memory_mb(device), cpu_seconds=round(_cpu_seconds() - cpu_start, 1),
        n_train_sentences=len(train_sents),
        n_dev_sentences=len(dev_sents), n_parameters=n_params, n_trainable_parameters=n_trainable,
        encoder=encoder.config, resumed_from_epoch=result.resumed_from_epoch, fit=fit_cfg.to_dict(),
    )
    full_config = {
        "kind": MODEL_KIND, "version": FORMAT_VERSION, "encoder": encoder.config, "heads": heads.to_dict(),
        "train": {**config.to_dict(), "device": str(device), "dev_source": config.dev or f"last {len(dev_sents)} sentences of train"},
    }
    with atomic_path(out) as tmp:
        tmp.mkdir()
        save_model(tmp, model, upos, deprel, full_config)
        shutil.copy(workdir / "metrics.json", tmp / "metrics.json")
        write_json_atomic(tmp / "train.json", train_result)
    shutil.rmtree(workdir, ignore_errors=True)
    return train_result


def _comparable(config: TrainConfig) -> dict[str, Any]:
    d = config.to_dict()
    for k in ("force", "resume", "device", "max_minutes", "threads"):
        d.pop(k)
    return json.loads(json.dumps(d))


def save_model(directory: Path, model: BiaffineParser, upos: LabelVocab, deprel: LabelVocab, config: dict) -> None:
    model.encoder.save(directory / "encoder")
    heads = {n: p.detach().cpu().contiguous() for n, p in model.state_dict().items() if not n.startswith("encoder.")}
    save_tensors(directory / "heads.safetensors", heads)
    write_json_atomic(directory / "vocabs.json", {"upos": upos.to_dict(), "deprel": deprel.to_dict()})
    write_json_atomic(directory / "config.json", config)


def load_parser(model_dir: str | os.PathLike, device: str = "auto") -> LoadedParser:
    """Load a model directory written by :func:`train_parser` (any encoder kind)."""
    d = Path(model_dir)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{d}: not a trained model directory (no config.json); train one with `adaptlang train`")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        vocabs = json.loads((d / "vocabs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{d}: unreadable model files ({e})") from None
    if config.get("kind") != MODEL_KIND:
        raise ModelError(f"{d}: config.json is not an adaptlang parser (kind={config.get('kind')!r}); "
                         "give the output directory of `adaptlang train` or `adaptlang baseline`")
    dev = resolve_device(device)
    encoder = get_encoder_class(config["encoder"]["kind"]).load(config["encoder"], d / "encoder")
    model = BiaffineParser(encoder, HeadsConfig(**config["heads"]))
    state = load_tensors(d / "heads.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise ModelError(f"{d}/heads.safetensors does not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.to(dev).eval()
    return LoadedParser(model, LabelVocab.from_dict(vocabs["upos"]), LabelVocab.from_dict(vocabs["deprel"]), config, dev)


# ---- evaluation and prediction -----------------------------------------------------------------------------
def evaluate_model(model_dir: str | os.PathLike, conllu_path: str | os.PathLike, *, n_bootstrap: int = 1000,
                   seed: int = 0, device: str = "auto", batch_size: int = 32,
                   predictions_out: str | os.PathLike | None = None, force: bool = False) -> EvalResult:
    """Parse a gold treebank with a saved model and score it (UPOS, UAS, LAS, bootstrap CI)."""
    if predictions_out is not None:
        check_output(predictions_out, force)
    gold = read_conllu(conllu_path, require_tree=True)
    loaded = load_parser(model_dir, device)
    t0 = time.monotonic()
    preds = predict_sentences(loaded, gold, batch_size)
    seconds = time.monotonic() - t0
    if predictions_out is not None:
        from adaptlang.data.conllu import write_conllu

        write_conllu(predictions_out, preds)
    scores = attachment_scores(gold, preds, n_bootstrap=n_bootstrap, seed=seed, gold_name=str(conllu_path),
                               known_labels={"upos": loaded.upos.labels, "deprel": loaded.deprel.labels})
    return EvalResult(scores, str(model_dir), str(conllu_path), round(seconds, 2), round(len(gold) / max(seconds, 1e-9), 2))


INPUT_FORMATS = ("auto", "conllu", "tokens")


def _sniff_format(path: str) -> str:
    for text in iter_lines(path):
        if not text.strip() or text.startswith("#"):
            continue
        return "conllu" if text.count("\t") == 9 else "tokens"
    raise InputError(path, "empty input; give CoNLL-U or one pre-tokenised sentence per line")


def predict(model_dir: str | os.PathLike, input_path: str, output: str, *, input_format: str = "auto",
            device: str = "auto", batch_size: int = 32, force: bool = False) -> PredictResult:
    """Tag and parse ``input_path`` (CoNLL-U, or one pre-tokenised sentence per line) into CoNLL-U ``output``."""
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--format {input_format!r}; valid: {', '.join(INPUT_FORMATS)}")
    if output != "-":
        check_output(output, force)
    if input_format == "auto":
        if input_path == "-":
            raise UsageError("reading stdin needs --format conllu or --format tokens")
        input_format = _sniff_format(input_path)
    if input_format == "conllu":
        sents = list(iter_conllu(input_path))
    else:
        sents = sentences_from_tokens(enumerate(iter_lines(input_path), start=1), source=input_path)
    if not sents:
        raise InputError(input_path, "no sentences to parse")
    loaded = load_parser(model_dir, device)
    t0 = time.monotonic()
    preds = predict_sentences(loaded, sents, batch_size)
    from adaptlang.data.conllu import write_conllu

    write_conllu(output, preds)
    return PredictResult(output, len(preds), sum(s.n_words for s in preds), input_format, round(time.monotonic() - t0, 2))
