"""Entity-level precision, recall and F1, overall and per type, with a bootstrap interval over sentences.

Counting is that of ``seqeval`` and ``conlleval``: an entity is correct when its type, first and last token all
match a gold entity; precision = correct / predicted, recall = correct / gold, F1 their harmonic mean; the overall
figures are micro-averaged over entities. Two ways to read a tag sequence that is not valid IOB2:

- ``strict`` (seqeval ``mode="strict", scheme=IOB2``): an entity starts only with ``B-``; an ``I-X`` that does not
  continue an X entity belongs to no entity;
- ``conlleval`` (conlleval and seqeval's default mode): such an ``I-X`` starts a new entity.

On valid IOB2 (gold read by :mod:`adaptlang.data.ner`, predictions of a constrained decoder) the two agree.
Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from adaptlang.data.ner import Span, read_ner, repair_iob2, spans_from_iob2, split_tag
from adaptlang.errors import InputError, UsageError

MODES = ("strict", "conlleval")


def entity_spans(tags: Sequence[str], mode: str = "strict") -> set[Span]:
    """The entities of an IOB2 tag sequence read in ``mode`` (see the module docstring)."""
    if mode == "conlleval":
        return set(spans_from_iob2(repair_iob2(tags)))
    if mode != "strict":
        raise UsageError(f"NER scoring mode {mode!r}; valid: {', '.join(MODES)}")
    spans: set[Span] = set()
    start, etype = -1, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, t = split_tag(tag)
        if start >= 0 and not (prefix == "I" and t == etype):
            spans.add((etype, start, i))
            start = -1
        if prefix == "B":
            start, etype = i, t
    return spans


@dataclass(frozen=True)
class PRF:
    precision: float  # percentages, 0-100
    recall: float
    f1: float
    n_correct: int
    n_pred: int
    n_gold: int

    def to_dict(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "n_correct": self.n_correct, "n_pred": self.n_pred, "n_gold": self.n_gold}


def prf(n_correct: int, n_pred: int, n_gold: int) -> PRF:
    p = 100.0 * n_correct / n_pred if n_pred else 0.0
    r = 100.0 * n_correct / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f, n_correct, n_pred, n_gold)


@dataclass(frozen=True)
class NERScores:
    """Entity-level scores (percentages) overall and per type, with bootstrap intervals of the overall ones."""

    overall: PRF
    per_type: dict[str, PRF]
    n_sentences: int
    n_tokens: int
    mode: str = "strict"
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    ci_level: float = 0.95
    n_bootstrap: int = 0
    unseen_types: list[str] = field(default_factory=list)  # gold types the model never saw in training

    @property
    def f1(self) -> float:
        return self.overall.f1

    def to_dict(self) -> dict:
        return {**self.overall.to_dict(), "per_type": {k: v.to_dict() for k, v in self.per_type.items()},
                "n_sentences": self.n_sentences, "n_tokens": self.n_tokens, "mode": self.mode,
                "ci": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in self.ci.items()},
                "ci_level": self.ci_level, "n_bootstrap": self.n_bootstrap, "unseen_types": list(self.unseen_types)}


def entity_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], types: Sequence[str],
                  mode: str = "strict") -> np.ndarray:
    """Per-sentence counts ``[n_sentences, 3 * (1 + n_types)]``: (correct, predicted, gold) entities overall, then
    the same three for each of ``types`` (additive: sum rows to score any set of sentences)."""
    col = {t: 3 * (k + 1) for k, t in enumerate(types)}
    counts = np.zeros((len(gold), 3 * (1 + len(types))), dtype=np.int64)
    for k, (g, p) in enumerate(zip(gold, pred)):
        sg, sp = entity_spans(g, mode), entity_spans(p, mode)
        for spans, j in ((sg & sp, 0), (sp, 1), (sg, 2)):
            counts[k, j] = len(spans)
            for etype, _, _ in spans:
                if etype in col:
                    counts[k, col[etype] + j] += 1
    return counts


def bootstrap_prf(counts: np.ndarray, n_samples: int = 1000, level: float = 0.95,
                  seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap over sentences of the overall precision, recall and F1 (columns 0-2 of ``counts``)."""
    if n_samples <= 0 or len(counts) == 0:
        return {}
    rng = np.random.default_rng(seed)
    totals = np.zeros((n_samples, 3), dtype=np.float64)
    for start in range(0, n_samples, 200):  # chunks keep memory flat on large test sets
        idx = rng.integers(0, len(counts), size=(min(200, n_samples - start), len(counts)))  # [chunk, n]
        totals[start : start + len(idx)] = counts[idx][:, :, :3].sum(axis=1)
    c, p, g = totals[:, 0], totals[:, 1], totals[:, 2]
    precision = 100.0 * c / np.maximum(p, 1)
    recall = 100.0 * c / np.maximum(g, 1)
    f1 = 200.0 * c / np.maximum(p + g, 1)  # = 2PR / (P + R)
    alpha = (1 - level) / 2
    return {name: (float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha)))
            for name, v in (("precision", precision), ("recall", recall), ("f1", f1))}


def ner_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, mode: str = "strict",
               n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0, gold_name: str = "gold",
               pred_name: str = "predictions", known_types: Sequence[str] | None = None) -> NERScores:
    """Score predicted tag sequences (IOB2) against gold ones, sentence by sentence."""
    if len(gold) != len(pred):
        raise InputError(pred_name, f"has {len(pred)} sentences but {gold_name} has {len(gold)}; score "
                                    "predictions made on the same sentences")
    for k, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise InputError(pred_name, f"sentence {k + 1} has {len(p)} tokens but {gold_name} has {len(g)}")
    types = sorted({split_tag(t)[1] for s in list(gold) + list(pred) for t in s if t != "O"})
    counts = entity_counts(gold, pred, types, mode)
    total = counts.sum(axis=0)
    gold_types = {split_tag(t)[1] for s in gold for t in s if t != "O"}
    return NERScores(
        overall=prf(*(int(x) for x in total[:3])),
        per_type={t: prf(*(int(x) for x in total[3 * (k + 1): 3 * (k + 2)])) for k, t in enumerate(types)},
        n_sentences=len(gold), n_tokens=sum(len(s) for s in gold), mode=mode,
        ci=bootstrap_prf(counts, n_bootstrap, level, seed), ci_level=level, n_bootstrap=n_bootstrap,
        unseen_types=sorted(gold_types - set(known_types)) if known_types is not None else [])


def evaluate_ner_files(gold_path: str | os.PathLike, pred_path: str | os.PathLike, *, scheme: str = "auto",
                       fmt: str = "conll", n_bootstrap: int = 1000, seed: int = 0) -> NERScores:
    """Score a predicted file against a gold one (same tokens, same format). The gold is read strictly; the
    predictions as conlleval reads them (an ``I-X`` that does not continue an X entity starts one)."""
    gold = read_ner(gold_path, scheme=scheme, fmt=fmt)
    pred = read_ner(pred_path, scheme=scheme, fmt=fmt, strict=False)
    for k, (g, p) in enumerate(zip(gold, pred)):
        if g.tokens != p.tokens:
            raise InputError(pred_path, f"tokens differ from {gold_path} (its line {g.first_line}); the "
                                        "tokenisation must be the same", line=p.first_line)
    return ner_scores([s.tags for s in gold], [s.tags for s in pred], n_bootstrap=n_bootstrap,
                      seed=seed, gold_name=str(gold_path), pred_name=str(pred_path))
