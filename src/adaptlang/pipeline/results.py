"""categorize's measured result: per-variant scores over seeds, paired bootstrap differences, the verdict.

Every part is a frozen dataclass; :meth:`CategorizeResult.to_dict` is what ``RUN/results.json`` holds and what
:mod:`adaptlang.report` renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from adaptlang.errors import InputError
from adaptlang.runs import ScoredRun, StageRecord, TrainSummary, config_key
from adaptlang.stats import Difference, MeanSd, OverallVerdict
from adaptlang.translit.choice import Resolved

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.pipeline.categorize import CategorizeConfig

TASKS: dict[str, int] = {"upos": 1, "las": 3}  # task -> column of evaluate.sentence_counts ([words, upos, uas, las])
METRIC_COLUMNS: dict[str, int] = {"upos": 1, "uas": 2, "las": 3}
MLM_VARIANTS = ("mlm", "mlm+translit")
STATISTICS = {
    "method": "paired bootstrap over test sentences, seeds of each variant resampled too; percentile interval of "
              "the difference of seed-averaged micro accuracies",
    "beats": "a variant beats another when its mean score is higher; 'within noise' when the interval of the "
             "difference covers 0",
    "adaptation_runs": "one MLM adaptation per transliteration setting (seed 0); the seeds vary the fine-tuning runs",
}


@dataclass(frozen=True)
class RunResult:
    """One fine-tuning run: its model directory, test scores, per-sentence counts and what training did."""

    model: str
    scores: dict[str, float]
    counts: list[list[int]]  # [n_sentences, 4]
    train: TrainSummary
    dev_curve: tuple[float, ...] = ()  # the selection metric on dev after each epoch (metrics.json); () unknown

    @classmethod
    def of(cls, model: str, scored: ScoredRun) -> "RunResult":
        [test] = scored.tests
        return cls(model, test.scores, test.counts, scored.train, dev_curve(Path(model)))

    def still_improving(self) -> bool:
        """Whether this run was still improving when it ended (:func:`adaptlang.stats.still_improving` on its dev
        curve; without a curve, from train.json: its best dev epoch was its last)."""
        from adaptlang.stats import still_improving

        if self.dev_curve:
            return still_improving(self.dev_curve, stopped_early=self.train.stopped_early)
        return bool(self.train.best_epoch and self.train.best_epoch == self.train.epochs_run)

    def to_dict(self) -> dict[str, Any]:
        t = self.train
        return {"model": self.model, "scores": self.scores, "train_seconds": t.train_seconds,
                "best_epoch": t.best_epoch, "epochs_run": t.epochs_run, "epochs_planned": t.epochs_planned,
                "stopped_early": t.stopped_early, "patience": t.patience}


def dev_curve(model_dir: Path) -> tuple[float, ...]:
    """The dev score of each epoch of a finished run, from its ``metrics.json`` (the metric the run selected on);
    () when the file or the metric is missing (a run without a dev set, or written by an older release)."""
    import json

    try:
        m = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    metric = m.get("select_metric")
    values = [e.get("dev", {}).get(metric) for e in m.get("epochs", [])] if metric else []
    return tuple(float(v) for v in values) if values and None not in values else ()


def still_improving_runs(runs: Sequence[RunResult]) -> int:
    """Runs that were still improving when their budget ended (see :meth:`RunResult.still_improving`)."""
    return sum(1 for r in runs if r.still_improving())


@dataclass(frozen=True)
class VariantResult:
    upos: MeanSd
    uas: MeanSd
    las: MeanSd
    train_seconds: MeanSd
    runs: tuple[RunResult, ...]
    other: dict[str, MeanSd] = field(default_factory=dict)  # XPOS ... BLEX: reported, not in the verdict

    @classmethod
    def of(cls, runs: Sequence[RunResult]) -> "VariantResult":
        from adaptlang.evaluate import EXTRA_METRICS
        from adaptlang.stats import mean_sd

        scores = [mean_sd([r.scores[m] for r in runs]) for m in METRIC_COLUMNS]
        other = {m: mean_sd([r.scores[m] for r in runs]) for m in EXTRA_METRICS
                 if runs and all(m in r.scores for r in runs)}  # runs scored before these metrics have none
        return cls(*scores, mean_sd([r.train.train_seconds or 0.0 for r in runs]), tuple(runs), other)

    def best_epoch_is_last(self) -> int:
        """Runs whose best dev epoch was their last: they were still improving when their budget ended."""
        return sum(1 for r in self.runs if r.train.best_epoch and r.train.best_epoch == r.train.epochs_run)

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": len(self.runs), "upos": self.upos.to_dict(), "uas": self.uas.to_dict(),
                "las": self.las.to_dict(), "train_seconds": self.train_seconds.to_dict(),
                "other_metrics": {m: v.to_dict() for m, v in self.other.items()},
                "runs": [r.to_dict() for r in self.runs]}


@dataclass(frozen=True)
class TaskComparison:
    """The differences measured for one task, the adapted variant that decides, and the transliteration gains."""

    differences: dict[str, Difference]
    best_adapted: str
    translit_gain: dict[str, Difference] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: d.to_dict() for k, d in self.differences.items()}, "best adapted": self.best_adapted}


@dataclass(frozen=True)
class CategorizeResult:
    run_dir: str
    config: "CategorizeConfig"
    data: dict[str, Any]
    translit: Resolved
    assess: dict[str, Any]  # the assess stage's report
    adaptation: dict[str, dict[str, Any]]  # translit setting ("none" or a scheme) -> adapt_model's result
    variants: dict[str, VariantResult]
    tasks: dict[str, TaskComparison]
    verdict: OverallVerdict
    stages: tuple[StageRecord, ...] = ()
    files: tuple[str, ...] = ()
    ner: Any = None  # the NER task's part (pipeline.categorize_ner.NERResult) with --task ner or both

    def budget(self) -> dict[str, Any]:
        from adaptlang.stats import CONVERGENCE_RULE

        at_last = {v: r.best_epoch_is_last() for v, r in self.variants.items()}
        rising = {v: still_improving_runs(r.runs) for v, r in self.variants.items()}
        return {"best_epoch_is_last": {v: {"runs": n, "of": len(self.variants[v].runs)} for v, n in at_last.items()},
                "still_improving_runs": {v: {"runs": n, "of": len(self.variants[v].runs)} for v, n in rising.items()},
                "still_improving": [v for v, n in rising.items() if 2 * n > len(self.variants[v].runs)],
                "rule": CONVERGENCE_RULE}

    def prediction_vs_measured(self) -> dict[str, Any]:
        from adaptlang.stats import CATEGORIES

        predicted = (self.assess.get("prediction") or {}).get("category")
        return {"predicted": predicted, "measured": self.verdict.category,
                "agree": predicted == self.verdict.category if predicted and self.verdict.category in CATEGORIES
                else None}

    def to_dict(self) -> dict[str, Any]:
        a = self.assess
        return {
            "kind": "categorize", "config": self.config.to_dict(), "data": self.data,
            "translit": self.translit.to_dict(),
            "assess": {"prediction": a.get("prediction") or {}, "tokenizer": a.get("tokenizer"),
                       "translit_what_if": a.get("translit"), "scripts": a.get("scripts"),
                       "language": a.get("language")},
            "adaptation": self.adaptation,
            "variants": {v: r.to_dict() for v, r in self.variants.items()},
            "differences": {t: c.to_dict() for t, c in self.tasks.items()},
            "translit_gain": {t: {k: d.to_dict() for k, d in c.translit_gain.items()}
                              for t, c in self.tasks.items() if c.translit_gain},
            "verdict": self.verdict.to_dict(), "budget": self.budget(),
            "prediction_vs_measured": self.prediction_vs_measured(),
            "stages": [r.to_dict() for r in self.stages],
            "statistics": {"ci_level": self.config.level, "n_bootstrap": self.config.n_bootstrap, **STATISTICS},
            **({"files": list(self.files)} if self.files else {}),
            **({"ner": self.ner.to_dict()} if self.ner is not None else {}),
        }


class _Comparisons:
    """Paired bootstrap differences between variants: one interval per (a, b, task), the same wherever it is
    shown; its bootstrap seed derives from the names."""

    def __init__(self, counts: Mapping[str, np.ndarray], words: np.ndarray, n_bootstrap: int, level: float):
        self.counts, self.words, self.n_bootstrap, self.level = counts, words, n_bootstrap, level
        self.cache: dict[tuple[str, str, str], Difference] = {}

    def diff(self, a: str, b: str, task: str) -> Difference:
        from adaptlang.stats import paired_bootstrap_diff

        if (a, b, task) not in self.cache:
            col, seed = TASKS[task], int(config_key({"a": a, "b": b, "task": task}), 16)
            self.cache[a, b, task] = paired_bootstrap_diff(
                self.counts[a][:, :, col], self.counts[b][:, :, col], self.words, a=a, b=b,
                n_bootstrap=self.n_bootstrap, level=self.level, seed=seed)
        return self.cache[a, b, task]

    def task(self, task: str, scheme: str | None) -> TaskComparison:
        from adaptlang.stats import best_of

        col = TASKS[task]
        names = list(self.counts)
        adapted = {v: self.counts[v][:, :, col] for v in MLM_VARIANTS if v in self.counts}
        best = best_of(adapted, self.words) if adapted else ""  # "": no MLM-adapted variant was run
        differences = {f"{v} - baseline": self.diff(v, "baseline", task) for v in names
                       if v != "baseline" and "baseline" in names}
        if "mlm" in names and "direct" in names:  # (a subset of the variants may lack either)
            differences["mlm - direct"] = self.diff("mlm", "direct", task)
        if "direct+donor" in names and "direct" in names:  # what the donor treebanks add
            differences["direct+donor - direct"] = self.diff("direct+donor", "direct", task)
        gain = {f"{a} - {b}": self.diff(a, b, task) for a, b in (("direct+translit", "direct"), ("mlm+translit", "mlm"))
                if scheme and a in names and b in names}
        return TaskComparison(differences, best, gain)


# An MLM adaptation still learns when its last held-out evaluation was its best and lowered the loss by more than
# this share of the evaluation before it (or of the loss before training, when it had one evaluation).
ADAPT_STILL_FALLING = 0.01


def unconverged_adaptation(adaptation: Mapping[str, Any] | None, minutes: float | None) -> str | None:
    """What an MLM adaptation would need when its cap (time budget or passes) ended it while its held-out MLM loss
    was still falling, else None: an adaptation cut short is not the adapted model the verdict is about."""
    if not adaptation or (adaptation.get("data") or {}).get("stop_reason") == "patience":
        return None
    losses = [adaptation["heldout"]["mlm_loss_before"]] + [e["mlm_loss"] for e in adaptation.get("heldout_curve") or []]
    if len(losses) < 2 or losses[-1] > min(losses) or losses[-1] >= losses[-2] * (1 - ADAPT_STILL_FALLING):
        return None
    data = adaptation.get("data") or {}
    cap = data.get("stop_reason")
    need = (f"--adapt-minutes {2 * minutes:g} or more" if cap == "time budget" and minutes
            else "--adapt-epochs twice as many")
    return (f"its MLM adaptation ended by its {cap} after {adaptation.get('steps')} steps ({data.get('epochs', 0):.2g} "
            f"passes over the corpus), held-out MLM loss still falling ({losses[-2]:.3f} -> {losses[-1]:.3f}); "
            f"rerun with {need}")


def unconverged_variants(c: "CategorizeConfig", variants: Mapping[str, VariantResult],
                         adaptation: Mapping[str, Any] | None = None, task: str = "parse") -> dict[str, str]:
    """Variants whose runs were mostly still improving at their cap (:meth:`RunResult.still_improving`: patience on
    the smoothed dev curve of each run's metrics.json), each with what it would take: the option that capped it,
    doubled; and MLM variants whose adaptation (``adaptation``: by transliteration, "none" for mlm) was cut while
    its held-out loss still fell (:func:`unconverged_adaptation`). Recomputed from the stored run files: a finished
    run directory gets the current rule on rerun."""
    out: dict[str, str] = {}
    for key, result in (adaptation or {}).items():
        name = "mlm" if key == "none" else "mlm+translit"
        need = unconverged_adaptation(result, c.adapt_minutes) if name in variants else None
        if need:
            out[name] = need
    for name, r in variants.items():
        n = still_improving_runs(r.runs)
        if 2 * n <= len(r.runs):
            continue
        how = "smoothed dev curve still rising" if any(run.dev_curve for run in r.runs) else "best dev epoch = last"
        bilstm, asked = c.is_bilstm(name), c.run_epochs(name, task)
        ran = max(run.train.epochs_run or 0 for run in r.runs)
        if c.max_minutes and ran < asked:  # the time budget, not the epoch count, ended the runs
            need = f"--max-minutes {2 * c.max_minutes:g} or more"
        else:
            need = f"{'--baseline-epochs' if bilstm else '--epochs'} {2 * asked} or more"
        runs = f"{how} in {n}/{len(r.runs)} runs after {ran} epochs ({r.train_seconds.mean / 60:.1f} min a run); " \
               f"rerun with {need}"
        out[name] = f"{runs}; {out[name]}" if name in out else runs
    return out


def build_results(c: "CategorizeConfig", assess: dict[str, Any], translit: Resolved, data: dict[str, Any],
                  adaptation: dict[str, dict[str, Any]], runs: Mapping[str, Sequence[RunResult]],
                  stages: Sequence[StageRecord] = (), run_dir: str = "") -> CategorizeResult:
    """The measured result of the runs of each variant (in the order given): means over seeds, differences with
    intervals, the verdict. The verdict needs ``baseline``, ``direct`` and ``mlm``; without one of them (a subset of
    the variants) it is :data:`adaptlang.stats.INCOMPLETE` and names what is missing, never a category."""
    from adaptlang.stats import REQUIRED_VARIANTS, incomplete_verdict, overall_verdict, task_verdict

    counts = {v: np.array([r.counts for r in rs], dtype=np.int64) for v, rs in runs.items()}  # [seeds, n, 4]
    words = next(iter(counts.values()))[0, :, 0]
    for v, arr in counts.items():
        if arr.shape[1] != len(words) or not (arr[:, :, 0] == words[None, :]).all():
            raise InputError(c.test, f"runs of {v} were scored on a different test set; rerun with --force")
    compare = _Comparisons(counts, words, c.n_bootstrap, c.level)
    tasks = {task: compare.task(task, translit.scheme) for task in TASKS}
    variants = {v: VariantResult.of(rs) for v, rs in runs.items()}
    unconverged = unconverged_variants(c, variants, adaptation)
    missing = [v for v in REQUIRED_VARIANTS if v not in runs]
    verdict = incomplete_verdict(missing) if missing else overall_verdict(
        [task_verdict(task, compare.diff("direct", "baseline", task), compare.diff(t.best_adapted, "baseline", task),
                      unconverged) for task, t in tasks.items()])
    return CategorizeResult(run_dir, c, data, translit, assess, adaptation, variants, tasks, verdict, tuple(stages))
