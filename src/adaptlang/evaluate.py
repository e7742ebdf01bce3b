"""UPOS accuracy, UAS and LAS exactly as the CoNLL 2018 UD evaluator counts them, with bootstrap intervals.

Counting rules of the official script (``udtools``' ``udeval``), for gold and system files with the same words:
only syntactic words count (multiword-token ranges and empty nodes are skipped); UPOS compares the full tag; UAS
compares heads; LAS compares heads and the universal part of DEPREL (``nmod:poss`` counts as ``nmod``). With the
gold tokenisation that ``predict`` keeps, the script's F1 equals these accuracies.

Torch-free: :func:`evaluate_model` (which runs a model) is imported from :mod:`adaptlang.tasks` on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from adaptlang.data.conllu import Sentence, read_conllu
from adaptlang.errors import InputError

METRICS = ("upos", "uas", "las")


def universal_deprel(deprel: str) -> str:
    return deprel.split(":")[0]


@dataclass(frozen=True)
class Scores:
    """Percentages (0-100) over syntactic words, with a bootstrap confidence interval per metric."""

    upos: float
    uas: float
    las: float
    n_words: int
    n_sentences: int
    correct: dict[str, int] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    ci_level: float = 0.95
    n_bootstrap: int = 0
    unseen_labels: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "upos": round(self.upos, 4),
            "uas": round(self.uas, 4),
            "las": round(self.las, 4),
            "n_words": self.n_words,
            "n_sentences": self.n_sentences,
            "correct": dict(self.correct),
            "ci": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in self.ci.items()},
            "ci_level": self.ci_level,
            "n_bootstrap": self.n_bootstrap,
            "unseen_labels": {k: list(v) for k, v in self.unseen_labels.items()},
        }


def sentence_counts(gold: Sequence[Sentence], pred: Sequence[Sentence], gold_name: str = "gold",
                    pred_name: str = "system") -> np.ndarray:
    """Per-sentence counts ``[n_sentences, 4]``: words, UPOS correct, UAS correct, LAS correct."""
    if len(gold) != len(pred):
        raise InputError(pred_name, f"has {len(pred)} sentences but {gold_name} has {len(gold)}; "
                                    "score predictions made on the same gold tokenisation")
    counts = np.zeros((len(gold), 4), dtype=np.int64)
    for k, (g, p) in enumerate(zip(gold, pred)):
        if g.forms != p.forms:
            raise InputError(pred_name, f"words of this sentence differ from {gold_name} (line {g.first_line}); "
                                        "the tokenisation must be the same", line=p.first_line)
        n_upos = n_uas = n_las = 0
        for gu, pu, gh, ph, gd, pd in zip(g.upos, p.upos, g.heads, p.heads, g.deprels, p.deprels):
            if ph is None:
                raise InputError(pred_name, "HEAD is '_': every word needs a predicted head", line=p.first_line)
            n_upos += gu == pu
            if gh == ph:
                n_uas += 1
                n_las += universal_deprel(gd) == universal_deprel(pd)
        counts[k] = (g.n_words, n_upos, n_uas, n_las)
    return counts


def bootstrap_ci(counts: np.ndarray, n_samples: int = 1000, level: float = 0.95,
                 seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap over sentences: resample sentences with replacement, recompute each accuracy."""
    if n_samples <= 0 or len(counts) == 0:
        return {}
    rng = np.random.default_rng(seed)
    n = len(counts)
    out: dict[str, tuple[float, float]] = {}
    totals = np.zeros((n_samples, 4), dtype=np.int64)
    for start in range(0, n_samples, 200):  # chunks keep memory flat on large test sets
        idx = rng.integers(0, n, size=(min(200, n_samples - start), n))  # [chunk, n]
        totals[start : start + len(idx)] = counts[idx].sum(axis=1)
    alpha = (1 - level) / 2
    for j, metric in enumerate(METRICS, start=1):
        acc = 100.0 * totals[:, j] / np.maximum(totals[:, 0], 1)
        out[metric] = (float(np.quantile(acc, alpha)), float(np.quantile(acc, 1 - alpha)))
    return out


def attachment_scores(gold: Sequence[Sentence], pred: Sequence[Sentence], *, n_bootstrap: int = 1000,
                      level: float = 0.95, seed: int = 0, gold_name: str = "gold", pred_name: str = "system",
                      known_labels: dict[str, Sequence[str]] | None = None) -> Scores:
    """Score predicted sentences against gold ones (same words). ``known_labels`` (e.g. the model's UPOS and
    DEPREL vocabularies) lets the result list gold labels the model never saw in training."""
    counts = sentence_counts(gold, pred, gold_name, pred_name)
    total = counts.sum(axis=0)
    n_words = int(total[0])
    if n_words == 0:
        raise InputError(gold_name, "no words to score")
    unseen: dict[str, list[str]] = {}
    if known_labels:
        gold_labels = {"upos": {u for s in gold for u in s.upos}, "deprel": {d for s in gold for d in s.deprels}}
        for name, labels in known_labels.items():
            if name in gold_labels:
                unseen[name] = sorted(gold_labels[name] - set(labels) - {"_"})
    return Scores(
        upos=100.0 * int(total[1]) / n_words,
        uas=100.0 * int(total[2]) / n_words,
        las=100.0 * int(total[3]) / n_words,
        n_words=n_words,
        n_sentences=len(gold),
        correct={"upos": int(total[1]), "uas": int(total[2]), "las": int(total[3])},
        ci=bootstrap_ci(counts, n_bootstrap, level, seed),
        ci_level=level,
        n_bootstrap=n_bootstrap,
        unseen_labels=unseen,
    )


def evaluate_files(gold_path: str | os.PathLike, pred_path: str | os.PathLike, *, n_bootstrap: int = 1000,
                   seed: int = 0) -> Scores:
    """Score a predicted CoNLL-U file against a gold one."""
    gold = read_conllu(gold_path, require_tree=True)
    pred = read_conllu(pred_path)
    return attachment_scores(gold, pred, n_bootstrap=n_bootstrap, seed=seed, gold_name=str(gold_path),
                             pred_name=str(pred_path))


def evaluate_model(model_dir: str | os.PathLike, conllu_path: str | os.PathLike, **kwargs) -> Scores:
    """Run a saved model (any encoder kind) on a gold CoNLL-U file and score it. See
    :func:`adaptlang.tasks.evaluate_model` for the options."""
    from adaptlang.tasks import evaluate_model as _evaluate_model

    return _evaluate_model(model_dir, conllu_path, **kwargs).scores
