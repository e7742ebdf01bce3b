"""The NER stages the studies share: cut the training file, and train one NER tagger then score it in memory.

:func:`train_and_score_ner` is :func:`adaptlang.runs.train_and_score` for NER: it trains through the library entry
points (:func:`adaptlang.tasks.ner.train_ner`, or :func:`adaptlang.tasks.ner.train_ner_baseline` for the BiLSTM-CRF),
tags every test file in memory and keeps, besides the scores, the per-sentence entity counts (correct, predicted,
gold) that paired bootstrap intervals of entity F1 need (F1 recomputed from resampled summed counts).

NER files are CoNLL-2003 style, or CoNLL-U with MISC ``NE=`` when named ``*.conllu``. Torch is imported inside
functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from adaptlang.events import Progress, silent
from adaptlang.runs.train import ScoredRun, TestScores, TrainSummary

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.baseline import BaselineConfig
    from adaptlang.data.ner import NERSentence
    from adaptlang.tasks.ner import NERConfig

NER_METRICS = ("f1", "precision", "recall")
NER_COUNTS = ("correct", "predicted", "gold")  # the columns of a test's per-sentence counts


def ner_format(path: str) -> str:
    """``conllu`` (MISC ``NE=``) for a file named ``*.conllu``, else ``conll`` (as ``train --task ner`` reads it)."""
    return "conllu" if str(path).endswith(".conllu") else "conll"


def read_ner_file(path: str, lenient: bool = False) -> list["NERSentence"]:
    """The sentences of an NER file (IOB2 in memory); malformed tags fail with the file, the line and the fix."""
    from adaptlang.data.ner import read_ner

    return read_ner(path, strict=not lenient, fmt=ner_format(path))


def cut_ner(directory: Path, train: str, max_sentences: int | None, test: str | None = None,
            lenient: bool = False) -> dict[str, Any]:
    """The NER data stage: the first ``max_sentences`` sentences of ``train`` (written, IOB2, to ``directory`` when
    that cuts anything) and the sizes of the files. ``train_cut`` is the cut file's name in ``directory``, or None."""
    from adaptlang.data.ner import conllu_with_tags, ner_text
    from adaptlang.fileio import write_text_atomic

    sents = read_ner_file(train, lenient)
    n_total = len(sents)
    cut = None
    if max_sentences is not None and max_sentences < n_total:
        sents = sents[:max_sentences]
        cut = "train.conllu" if ner_format(train) == "conllu" else "train.txt"
        text = "".join(conllu_with_tags(s) for s in sents) if cut.endswith(".conllu") else ner_text(sents)
        write_text_atomic(directory / cut, text)
    data: dict[str, Any] = {"train_cut": cut, "n_train_sentences": len(sents), "n_train_sentences_total": n_total,
                            "n_train_tokens": sum(s.n_tokens for s in sents), "n_train_entities": _entities(sents)}
    if test is not None:
        gold = read_ner_file(test, lenient)
        data.update(n_test_sentences=len(gold), n_test_tokens=sum(s.n_tokens for s in gold),
                    n_test_entities=_entities(gold))
    return data


def _entities(sents: Sequence["NERSentence"]) -> int:
    return sum(t.startswith("B-") for s in sents for t in s.tags)


def train_and_score_ner(config: "NERConfig", tests: Sequence[str], progress: Progress | None = None,
                        batch_size: int = 32, baseline: "BaselineConfig | None" = None) -> ScoredRun:
    """Train into ``config.out`` (resuming an interrupted run; skipped when a finished model is there), then tag
    each test file in memory and score it (entity precision / recall / F1, strict IOB2, as seqeval and conlleval).
    ``baseline``: the BiLSTM-CRF's settings (``config`` from :func:`adaptlang.tasks.ner.baseline_ner_config`), for
    its corpus word vectors."""
    from adaptlang.evaluate_ner import entity_counts, ner_scores
    from adaptlang.tasks.ner import load_tagger, predict_tags, train_ner, train_ner_baseline

    model_dir = Path(config.out)
    if not (model_dir / "train.json").is_file():
        if baseline is not None:
            train_ner_baseline(baseline, config, progress or silent)
        else:
            train_ner(config, progress or silent)
    loaded = load_tagger(model_dir, config.device)
    scored = []
    for test in tests:
        sents = read_ner_file(test, config.lenient)
        gold = [s.tags for s in sents]
        pred = predict_tags(loaded, [s.tokens for s in sents], batch_size)
        scores = ner_scores(gold, pred, n_bootstrap=0, gold_name=test)
        counts = entity_counts(gold, pred, [])  # [n_sentences, 3]: correct, predicted, gold entities
        scored.append(TestScores(test, {m: round(getattr(scores.overall, m), 4) for m in NER_METRICS},
                                 counts.tolist()))
    return ScoredRun(TrainSummary.read(model_dir), tuple(scored))
