"""The stages the studies share: cut the training treebank, and train one tagger-parser then score it.

:func:`train_and_score` trains through the library entry points (:func:`adaptlang.tasks.train_parser` for
transformer encoders, :func:`adaptlang.baseline.train_baseline` for the BiLSTM baseline), then parses every test
set in memory and keeps, besides the scores, the per-sentence counts that paired bootstrap intervals need.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

from adaptlang.events import Progress, silent

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.baseline import BaselineConfig
    from adaptlang.tasks import TrainConfig

METRICS = ("upos", "uas", "las")
CUT_NAME = "train.conllu"  # the cut treebank, inside the data stage's directory


def cut_treebank(directory: Path, train: str, max_sentences: int | None, test: str | None = None) -> dict[str, Any]:
    """The data stage: the first ``max_sentences`` sentences of ``train`` (written to ``directory`` when that cuts
    anything) and the sizes of the treebanks. ``train_cut`` is the cut file's name in ``directory``, or None."""
    from adaptlang.data.conllu import read_conllu, write_conllu

    sents = read_conllu(train, require_tree=True)
    n_total = len(sents)
    cut = None
    if max_sentences is not None and max_sentences < n_total:
        sents = sents[:max_sentences]
        write_conllu(directory / CUT_NAME, sents)
        cut = CUT_NAME
    data: dict[str, Any] = {"train_cut": cut, "n_train_sentences": len(sents), "n_train_sentences_total": n_total,
                            "n_train_words": sum(s.n_words for s in sents)}
    if test is not None:
        gold = read_conllu(test, require_tree=True)
        data.update(n_test_sentences=len(gold), n_test_words=sum(s.n_words for s in gold))
    return data


def training_treebank(directory: Path, data: dict[str, Any] | None, train: str) -> str:
    """The treebank the models train on: the data stage's cut (where it is now), or ``train`` itself."""
    cut = (data or {}).get("train_cut")
    return str(directory / Path(cut).name) if cut else train


@dataclass(frozen=True)
class TrainSummary:
    """What a training run did, from its ``train.json``."""

    train_seconds: float | None
    best_epoch: int | None
    epochs_run: int | None
    epochs_planned: int | None
    stopped_early: bool
    patience: int | None  # 0: never stops early

    @classmethod
    def read(cls, model_dir: Path) -> "TrainSummary":
        """From the model's train.json (what happened) and config.json (the settings it trained with, after any
        change for a small treebank)."""
        info = json.loads((model_dir / "train.json").read_text(encoding="utf-8"))
        settings = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("train") or {}
        return cls(info.get("train_seconds"), info.get("best_epoch"), info.get("epochs_run"),
                   info.get("planned_epochs") or settings.get("epochs"), bool(info.get("stopped_early")),
                   settings.get("patience"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TestScores:
    test: str  # the test treebank as given
    scores: dict[str, float]  # upos, uas, las (%)
    counts: list[list[int]]  # [n_sentences, 4]: words, UPOS, UAS, LAS correct (evaluate.sentence_counts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoredRun:
    train: TrainSummary
    tests: tuple[TestScores, ...]  # in the order the test sets were given

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train.to_dict(), "tests": [t.to_dict() for t in self.tests]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScoredRun":
        return cls(TrainSummary(**d["train"]), tuple(TestScores(**t) for t in d["tests"]))


TrainerConfig = Union["TrainConfig", "BaselineConfig"]


def train_and_score(config: TrainerConfig, tests: Sequence[str], progress: Progress | None = None,
                    batch_size: int = 32) -> ScoredRun:
    """Train into ``config.out`` (resuming an interrupted run; skipped when a finished model is there), then score
    the model on each test set in memory."""
    from adaptlang.baseline import BaselineConfig, train_baseline
    from adaptlang.data.conllu import read_conllu
    from adaptlang.evaluate import attachment_scores, sentence_counts
    from adaptlang.tasks import load_parser, predict_sentences, train_parser

    model_dir = Path(config.out)
    if not (model_dir / "train.json").is_file():
        say = progress or silent
        if isinstance(config, BaselineConfig):
            train_baseline(config, say)
        else:
            train_parser(config, say)
    loaded = load_parser(model_dir, config.device)
    scored = []
    for test in tests:
        gold = read_conllu(test, require_tree=True)
        pred = predict_sentences(loaded, gold, batch_size)
        scores = attachment_scores(gold, pred, n_bootstrap=0, gold_name=test)
        counts = sentence_counts(gold, pred, test)
        # the verdict metrics, then the other CoNLL 2018 metrics (lemma, ufeats, mlas, blex...) for the record
        scored.append(TestScores(test, {m: getattr(scores, m) for m in METRICS} | scores.extra, counts.tolist()))
    return ScoredRun(TrainSummary.read(model_dir), tuple(scored))
