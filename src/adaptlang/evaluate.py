"""The CoNLL 2018 UD evaluator's scores (UPOS, XPOS, UFeats, AllTags, LEMMA, UAS, LAS, CLAS, MLAS, BLEX), with
bootstrap intervals over sentences.

Counting rules of the official script (``udtools``' ``udeval``), for gold and system files with the same words:
only syntactic words count (multiword-token ranges and empty nodes are skipped); UPOS compares the full tag; UAS
compares heads; LAS compares heads and the universal part of DEPREL (``nmod:poss`` counts as ``nmod``). With the
gold tokenisation that ``predict`` keeps, the script's F1 equals these accuracies.

The other metrics are the official script's own (``udtools.udeval.evaluate``), run sentence by sentence so that
each sentence has its counts (gold words, system words, correct) for the bootstrap; with the same words in both
files the sums are the whole file's counts. UFeats compares universal features only; LEMMA counts a word right
whenever the gold lemma is ``_``; CLAS, MLAS and BLEX score content words only (MLAS adds UPOS, UFeats and the
function-word children, BLEX the lemma), so their F1 has different gold and system totals.

Torch-free: :func:`evaluate_model` (which runs a model) is imported from :mod:`adaptlang.tasks` on first use.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from adaptlang.data.conllu import Sentence, read_conllu
from adaptlang.errors import InputError

METRICS = ("upos", "uas", "las")
# our name -> the official evaluator's; the order of ud_counts' second axis
UD_METRICS = {"upos": "UPOS", "xpos": "XPOS", "ufeats": "UFeats", "alltags": "AllTags", "lemma": "Lemmas",
              "uas": "UAS", "las": "LAS", "clas": "CLAS", "mlas": "MLAS", "blex": "BLEX"}
EXTRA_METRICS = tuple(m for m in UD_METRICS if m not in METRICS)

# Labels of UD v1 that v2 renamed or removed (universal parts; UPOS ``CONJ`` became ``CCONJ``), with their v2 names.
UD_V1_DEPRELS = {"dobj": "obj", "nsubjpass": "nsubj:pass", "csubjpass": "csubj:pass", "auxpass": "aux:pass",
                 "neg": "advmod or det", "name": "flat", "mwe": "fixed", "remnant": "orphan",
                 "foreign": "flat:foreign"}
UD_V1_UPOS = {"CONJ": "CCONJ"}
# Gold whose heads, relations or tags are this uniform is a placeholder, not an annotation (a real treebank's most
# frequent relation covers well under half of its words); judged on at least this many words of 3+ word sentences.
PLACEHOLDER_SHARE = 0.9
PLACEHOLDER_MIN_WORDS = 20
LEMMA_BLANK_SHARE = 0.2  # blank gold lemmas above this share: LEMMA and BLEX overstate (blank matches anything)


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
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)  # F1 of EXTRA_METRICS (xpos, ufeats, lemma, mlas...)

    def to_dict(self) -> dict:
        return {
            "upos": round(self.upos, 4),
            "uas": round(self.uas, 4),
            "las": round(self.las, 4),
            **{k: round(v, 4) for k, v in self.extra.items()},
            "n_words": self.n_words,
            "n_sentences": self.n_sentences,
            "correct": dict(self.correct),
            "ci": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in self.ci.items()},
            "ci_level": self.ci_level,
            "n_bootstrap": self.n_bootstrap,
            "unseen_labels": {k: list(v) for k, v in self.unseen_labels.items()},
            "warnings": list(self.warnings),
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
    """Percentile bootstrap over sentences: resample sentences with replacement, recompute each accuracy.
    ``counts`` is :func:`sentence_counts`' ``[n, 4]`` (UPOS, UAS, LAS) or :func:`ud_counts`' ``[n, metrics, 3]``
    (every metric's F1: ``2 * correct / (gold + system)``, the accuracy when gold and system words agree)."""
    if n_samples <= 0 or len(counts) == 0:
        return {}
    if counts.ndim == 2:  # [n, 4] -> [n, 3, 3]: gold = system = words
        words = counts[:, :1]
        counts = np.stack([np.repeat(words, 3, 1), np.repeat(words, 3, 1), counts[:, 1:]], axis=-1)
        names: Sequence[str] = METRICS
    else:
        names = list(UD_METRICS)
    rng = np.random.default_rng(seed)
    n = len(counts)
    totals = np.zeros((n_samples, *counts.shape[1:]), dtype=np.int64)
    for start in range(0, n_samples, 200):  # chunks keep memory flat on large test sets
        idx = rng.integers(0, n, size=(min(200, n_samples - start), n))  # [chunk, n]
        totals[start : start + len(idx)] = counts[idx].sum(axis=1)
    alpha = (1 - level) / 2
    out: dict[str, tuple[float, float]] = {}
    for j, metric in enumerate(names):
        f1 = 200.0 * totals[:, j, 2] / np.maximum(totals[:, j, 0] + totals[:, j, 1], 1)
        out[metric] = (float(np.quantile(f1, alpha)), float(np.quantile(f1, 1 - alpha)))
    return out


def ud_counts(gold: Sequence[Sentence], pred: Sequence[Sentence], gold_name: str = "gold",
              pred_name: str = "system") -> np.ndarray:
    """Per-sentence counts of the official evaluator, ``[n_sentences, len(UD_METRICS), 3]``: gold words, system
    words, correct. Sentences must have the same words (checked by :func:`sentence_counts` first)."""
    from udtools import udeval

    out = np.zeros((len(gold), len(UD_METRICS), 3), dtype=np.int64)
    for k, (g, p) in enumerate(zip(gold, pred)):
        try:
            scores = udeval.evaluate(udeval.load_conllu(io.StringIO(g.to_text()), gold_name, {}),
                                     udeval.load_conllu(io.StringIO(p.to_text()), pred_name, {}))
        except udeval.UDError as e:
            raise InputError(pred_name, f"the CoNLL 2018 evaluator refuses this sentence: {e}",
                             line=p.first_line) from None
        for j, name in enumerate(UD_METRICS.values()):
            sc = scores[name]
            out[k, j] = (sc.gold_total, sc.system_total, sc.correct)
    return out


def f1_scores(counts: np.ndarray) -> dict[str, float]:
    """Each metric's F1 in percent from :func:`ud_counts` (summed over sentences)."""
    total = counts.sum(axis=0)  # [metrics, 3]
    return {m: 200.0 * int(total[j, 2]) / max(int(total[j, 0] + total[j, 1]), 1) for j, m in enumerate(UD_METRICS)}


def attachment_scores(gold: Sequence[Sentence], pred: Sequence[Sentence], *, n_bootstrap: int = 1000,
                      level: float = 0.95, seed: int = 0, gold_name: str = "gold", pred_name: str = "system",
                      known_labels: dict[str, Sequence[str]] | None = None, all_metrics: bool = True) -> Scores:
    """Score predicted sentences against gold ones (same words). ``known_labels`` (e.g. the model's UPOS and
    DEPREL vocabularies) lets the result list gold labels the model never saw in training (see
    :func:`unseen_labels`); ``warnings`` says when the gold looks like a placeholder or uses UD v1 labels.
    ``all_metrics`` adds the official evaluator's other metrics (:data:`EXTRA_METRICS`) with their intervals."""
    counts = sentence_counts(gold, pred, gold_name, pred_name)
    total = counts.sum(axis=0)
    n_words = int(total[0])
    if n_words == 0:
        raise InputError(gold_name, "no words to score")
    ud = ud_counts(gold, pred, gold_name, pred_name) if all_metrics else None
    extra = {m: v for m, v in f1_scores(ud).items() if m in EXTRA_METRICS} if ud is not None else {}
    ud_total = ud.sum(axis=0) if ud is not None else None
    return Scores(
        upos=100.0 * int(total[1]) / n_words,
        uas=100.0 * int(total[2]) / n_words,
        las=100.0 * int(total[3]) / n_words,
        n_words=n_words,
        n_sentences=len(gold),
        correct={"upos": int(total[1]), "uas": int(total[2]), "las": int(total[3]),
                 **({m: int(ud_total[j, 2]) for j, m in enumerate(UD_METRICS) if m in EXTRA_METRICS}
                    if ud_total is not None else {})},
        ci=bootstrap_ci(ud if ud is not None else counts, n_bootstrap, level, seed),
        ci_level=level,
        n_bootstrap=n_bootstrap,
        unseen_labels=unseen_labels(gold, known_labels) if known_labels else {},
        warnings=gold_warnings(gold),
        extra=extra,
    )


def unseen_labels(gold: Sequence[Sentence], known: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """Gold labels absent from the model's vocabularies, by what they cost.

    ``upos``: tags never seen (always UPOS errors). ``deprel``: relations whose universal part was never seen (always
    LAS errors: LAS compares the universal part only). ``deprel_subtype``: relations whose subtype was never seen
    but whose universal part was (``obl:own`` next to a known ``obl``): not LAS errors, since predicting ``obl`` or
    any ``obl:*`` counts as right.
    """
    out: dict[str, list[str]] = {}
    if "upos" in known:
        out["upos"] = sorted({u for s in gold for u in s.upos} - set(known["upos"]) - {"_"})
    if "deprel" in known:
        labels = {d for s in gold for d in s.deprels} - set(known["deprel"]) - {"_"}
        universal = {universal_deprel(d) for d in known["deprel"]}
        out["deprel"] = sorted(d for d in labels if universal_deprel(d) not in universal)
        out["deprel_subtype"] = sorted(d for d in labels if universal_deprel(d) in universal)
    return out


def gold_warnings(gold: Sequence[Sentence]) -> list[str]:
    """What makes scores against this gold misleading: UD v1 labels, or a placeholder annotation (every HEAD the
    same word, or one DEPREL / UPOS on nearly every word), which some releases ship for unannotated text."""
    warnings: list[str] = []
    upos = {u for s in gold for u in s.upos}
    deprels = {universal_deprel(d) for s in gold for d in s.deprels}
    v1 = sorted(d for d in deprels if d in UD_V1_DEPRELS) + sorted(u for u in upos if u in UD_V1_UPOS)
    if v1:
        renames = ", ".join(f"{x} -> {UD_V1_DEPRELS.get(x) or UD_V1_UPOS[x]}" for x in v1)
        warnings.append(f"gold uses UD v1 labels ({', '.join(v1)}): convert the treebank to UD v2 ({renames}; e.g. "
                        "`udapy -s ud.Convert1to2 < in.conllu > out.conllu`); a v2 model cannot get them right")
    lemmas = [lemma for s in gold for lemma in s.lemmas]
    blank = sum(lemma == "_" for lemma in lemmas)
    if len(lemmas) >= PLACEHOLDER_MIN_WORDS and blank / len(lemmas) > LEMMA_BLANK_SHARE:
        warnings.append(f"gold LEMMA is '_' on {blank / len(lemmas):.0%} of words: the official evaluator (and so this "
                        "one) counts any predicted lemma there as correct, so LEMMA and BLEX overstate")
    xpos = [x for s in gold for x in s.xpos]
    if len(xpos) >= PLACEHOLDER_MIN_WORDS and all(x == "_" for x in xpos):
        warnings.append("gold XPOS is '_' on every word (the treebank has none): a model without an XPOS head writes "
                        "'_' and scores XPOS 100.00, which measures nothing (AllTags then rests on UPOS and UFeats)")
    words = [(i, h, d, u) for s in gold if s.n_words >= 3
             for i, (h, d, u) in enumerate(zip(s.heads, s.deprels, s.upos), start=1)]
    if len(words) < PLACEHOLDER_MIN_WORDS:
        return warnings
    attached = [(i, h) for i, h, _, _ in words if h]
    checks = [
        ("HEAD", [h for _, h in attached], "of attached words have HEAD {}"),
        ("HEAD", [h - i for i, h in attached], "of attached words have their head {:+d} words away"),
        ("DEPREL", [universal_deprel(d) for _, h, d, _ in words if h], "of attached words have DEPREL {!r}"),
        ("UPOS", [u for _, _, _, u in words], "of words have UPOS {!r}"),
    ]
    for column, values, what in checks:
        if not values:
            continue
        top, n = Counter(values).most_common(1)[0]
        if n / len(values) > PLACEHOLDER_SHARE:
            warnings.append(f"gold {column} looks like a placeholder: {n / len(values):.0%} {what.format(top)}; "
                            "scores against it measure nothing (is this release annotated?)")
    return warnings


def evaluate_files(gold_path: str | os.PathLike, pred_path: str | os.PathLike, *, n_bootstrap: int = 1000,
                   seed: int = 0) -> Scores:
    """Score a predicted CoNLL-U file against a gold one."""
    gold = read_conllu(gold_path, require_tree=True)
    pred = read_conllu(pred_path)
    return attachment_scores(gold, pred, n_bootstrap=n_bootstrap, seed=seed, gold_name=str(gold_path),
                             pred_name=str(pred_path))
