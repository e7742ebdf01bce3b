"""A trained tagger-parser on disk and in use: save and load a model directory, predict, evaluate.

A model directory holds::

    config.json        {"kind": "adaptlang-parser", "encoder": {"kind": ..., ...}, "heads": {...}, "train": {...}}
    encoder/           the word encoder's own files (save_pretrained, a PEFT adapter, or safetensors + JSON)
    heads.safetensors  tagger and parser weights (everything outside the encoder)
    vocabs.json        UPOS and DEPREL label vocabularies (and XPOS, FEATS, lemma rules when the model has those heads)
    metrics.json       dev scores per epoch;  train.json  the run's result;  README.md  the model card
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from adaptlang.data.conllu import Sentence, iter_conllu, read_conllu, sentences_from_tokens
from adaptlang.data.text import iter_lines
from adaptlang.data.vocab import LabelVocab
from adaptlang.engine.checkpoint import load_tensors, save_tensors
from adaptlang.engine.runtime import resolve_device, to_device as tensor_to_device
from adaptlang.errors import InputError, ModelError, UsageError
from adaptlang.events import Event, Progress
from adaptlang.evaluate import Scores, attachment_scores, sentence_counts
from adaptlang.fileio import check_output, write_json_atomic
from adaptlang.models import get_encoder_class
from adaptlang.models.parser import BiaffineParser, HeadsConfig
from adaptlang.tasks.batching import bucket_batches
from adaptlang.tasks.tags import LEMMA_TOP_K, TagSet, tag_strings, tagset_from_saved

MODEL_KIND = "adaptlang-parser"
FORMAT_VERSION = 1
INPUT_FORMATS = ("auto", "conllu", "tokens")


@dataclass
class LoadedParser:
    model: BiaffineParser
    upos: LabelVocab
    deprel: LabelVocab
    config: dict[str, Any]
    device: torch.device
    tags: TagSet = field(default_factory=TagSet)  # XPOS / FEATS / LEMMA it predicts (none for older models)


@dataclass(frozen=True)
class EvalResult:
    scores: Scores
    model_dir: str
    gold: str
    seconds: float
    sentences_per_s: float
    counts: np.ndarray | None = None  # [n_sentences, 4]: words, UPOS, UAS, LAS correct (for paired bootstraps)
    predicted_columns: tuple[str, ...] = ()  # of lemma / xpos / feats: those the model fills ('_' in the others)

    def to_dict(self) -> dict:
        return {**self.scores.to_dict(), "model_dir": self.model_dir, "gold": self.gold,
                "seconds": self.seconds, "sentences_per_s": self.sentences_per_s,
                "predicted_columns": list(self.predicted_columns)}


@dataclass(frozen=True)
class PredictResult:
    output: str
    n_sentences: int
    n_words: int
    input_format: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def pad_labels(rows: Sequence[Sequence[int]], n: int, value: int = -100) -> torch.Tensor:
    t = torch.full((len(rows), n), value, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return t


def to_device(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: tensor_to_device(v, device) for k, v in inputs.items()}


def predict_words(loaded: LoadedParser, words: Sequence[Sequence[str]], batch_size: int = 32,
                  max_tokens: int | None = 2500, progress: Progress | None = None,
                  ) -> list[tuple[list[str], list[int], list[str], dict[str, list[str]]]]:
    """UPOS, heads, DEPRELs and the other predicted columns (``lemma`` / ``xpos`` / ``feats`` -> strings, those the
    model has) for each sentence (given as words), in input order. ``progress`` gets a ``step`` event after each
    batch (``step``/``total``: sentences done / all)."""
    model, device = loaded.model, loaded.device
    was_training = model.training
    model.eval()
    root = loaded.deprel.index("root", ignore=-1)
    out: list[Any] = [None] * len(words)
    batches = bucket_batches([len(w) for w in words], batch_size, max_tokens, shuffle=False)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    done = 0
    with torch.inference_mode(), autocast:
        for batch in batches:
            inputs = to_device(model.encoder.collate([words[i] for i in batch]), device)
            scores = model(inputs)
            upos, heads, rels = model.decode(scores, root_rel=root if root >= 0 else None)
            tag_ids = model.decode_tags(scores, top_k=LEMMA_TOP_K)
            for j, i in enumerate(batch):
                tags = tag_strings(loaded.tags, words[i], {k: v[j] for k, v in tag_ids.items()})
                out[i] = ([loaded.upos.label(u) for u in upos[j]], heads[j], [loaded.deprel.label(r) for r in rels[j]],
                          tags)
            done += len(batch)
            if progress is not None:
                progress(Event("step", step=done, total=len(words)))
    model.train(was_training)
    return out


def predict_sentences(loaded: LoadedParser, sents: Sequence[Sentence], batch_size: int = 32,
                      keep_columns: bool = False, progress: Progress | None = None) -> list[Sentence]:
    """The sentences with predicted columns. LEMMA / XPOS / FEATS that the model does not predict become ``_`` (the
    input's values are gold, not predictions), unless ``keep_columns``."""
    preds = predict_words(loaded, [s.forms for s in sents], batch_size, progress=progress)
    out = []
    for s, (u, h, d, tags) in zip(sents, preds):
        blank = None if keep_columns else ["_"] * s.n_words
        out.append(s.with_predictions(u, h, d, lemmas=tags.get("lemma", blank), xpos=tags.get("xpos", blank),
                                      feats=tags.get("feats", blank)))
    return out


def save_model(directory: Path, model: BiaffineParser, upos: LabelVocab, deprel: LabelVocab, config: dict,
               tags: TagSet | None = None) -> None:
    model.encoder.save(directory / "encoder")
    heads = {n: p.detach().cpu().contiguous() for n, p in model.state_dict().items() if not n.startswith("encoder.")}
    save_tensors(directory / "heads.safetensors", heads)
    extra = {name: v.to_dict() for name, v in (tags.vocabs if tags else {}).items()}
    write_json_atomic(directory / "vocabs.json", {"upos": upos.to_dict(), "deprel": deprel.to_dict(), **extra})
    write_json_atomic(directory / "config.json", config)


def load_parser(model_dir: str | os.PathLike, device: str = "auto",
                language_adapters: Sequence[str] = ()) -> LoadedParser:
    """Load a model directory written by ``adaptlang train`` or ``adaptlang baseline`` (any encoder kind).
    ``language_adapters``: other language adapters under the task adapter of a parser trained over one (see
    :mod:`adaptlang.models.adapters`)."""
    d = Path(model_dir)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{d}: not a trained model directory (no config.json); train one with `adaptlang train`")
    from adaptlang.specs import resolve_model

    resolve_model(str(d), purpose="parser", option="MODEL_DIR")  # a plain encoder directory: say what to do
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        vocabs = json.loads((d / "vocabs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{d}: unreadable model files ({e})") from None
    if config.get("kind") != MODEL_KIND:
        raise ModelError(f"{d}: config.json is not an adaptlang parser (kind={config.get('kind')!r}); "
                         "give the output directory of `adaptlang train` or `adaptlang baseline`")
    dev = resolve_device(device)
    if language_adapters:
        from adaptlang.models.adapters import swap_language_adapters

        config["encoder"] = swap_language_adapters(config["encoder"], language_adapters)
    encoder = get_encoder_class(config["encoder"]["kind"]).load(config["encoder"], d / "encoder")
    model = BiaffineParser(encoder, HeadsConfig(**config["heads"]))
    missing, unexpected = model.load_state_dict(load_tensors(d / "heads.safetensors"), strict=False)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise ModelError(f"{d}/heads.safetensors does not match config.json (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    model.to(dev).eval()
    return LoadedParser(model, LabelVocab.from_dict(vocabs["upos"]), LabelVocab.from_dict(vocabs["deprel"]), config,
                        dev, tagset_from_saved(config, vocabs))


def score_loaded(loaded: LoadedParser, gold: Sequence[Sentence], *, gold_name: str, n_bootstrap: int = 0,
                 seed: int = 0, batch_size: int = 32) -> tuple[Scores, np.ndarray, list[Sentence], float]:
    """Parse ``gold`` in memory and score it: (scores, per-sentence counts, predictions, seconds of prediction)."""
    t0 = time.monotonic()
    preds = predict_sentences(loaded, gold, batch_size)
    seconds = time.monotonic() - t0
    scores = attachment_scores(gold, preds, n_bootstrap=n_bootstrap, seed=seed, gold_name=gold_name,
                               known_labels={"upos": loaded.upos.labels, "deprel": loaded.deprel.labels})
    return scores, sentence_counts(gold, preds, gold_name, "predictions"), preds, seconds


def evaluate_model(model_dir: str | os.PathLike, conllu_path: str | os.PathLike, *, n_bootstrap: int = 1000,
                   seed: int = 0, device: str = "auto", batch_size: int = 32,
                   predictions_out: str | os.PathLike | None = None, force: bool = False,
                   language_adapters: Sequence[str] = ()) -> EvalResult:
    """Parse a gold treebank with a saved model and score it (UPOS, UAS, LAS, bootstrap CI, per-sentence counts)."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be an integer >= 1, got {batch_size}")
    if predictions_out is not None:
        check_output(predictions_out, force)
    gold = read_conllu(conllu_path, require_tree=True)
    loaded = load_parser(model_dir, device, language_adapters)
    scores, counts, preds, seconds = score_loaded(loaded, gold, gold_name=str(conllu_path), n_bootstrap=n_bootstrap,
                                                  seed=seed, batch_size=batch_size)
    if predictions_out is not None:
        from adaptlang.data.conllu import write_conllu

        write_conllu(predictions_out, preds)
    return EvalResult(scores, str(model_dir), str(conllu_path), round(seconds, 2),
                      round(len(gold) / max(seconds, 1e-9), 2), counts, loaded.tags.columns)


def _sniff_format(path: str) -> str:
    for text in iter_lines(path):
        if not text.strip() or text.startswith("#"):
            continue
        return "conllu" if text.count("\t") == 9 else "tokens"
    raise InputError(path, "empty input; give CoNLL-U or one pre-tokenised sentence per line")


def predict(model_dir: str | os.PathLike, input_path: str, output: str, *, input_format: str = "auto",
            device: str = "auto", batch_size: int = 32, force: bool = False,
            language_adapters: Sequence[str] = (), keep_columns: bool = False,
            progress: Progress | None = None) -> PredictResult:
    """Tag and parse ``input_path`` (CoNLL-U, or one pre-tokenised sentence per line) into CoNLL-U ``output``.
    LEMMA / XPOS / FEATS the model does not predict are written as ``_``, or kept from the input with
    ``keep_columns``."""
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--format {input_format!r}; valid: {', '.join(INPUT_FORMATS)}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be an integer >= 1, got {batch_size}")
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
    loaded = load_parser(model_dir, device, language_adapters)
    t0 = time.monotonic()
    preds = predict_sentences(loaded, sents, batch_size, keep_columns=keep_columns, progress=progress)
    from adaptlang.data.conllu import write_conllu

    write_conllu(output, preds)
    return PredictResult(output, len(preds), sum(s.n_words for s in preds), input_format,
                         round(time.monotonic() - t0, 2))
