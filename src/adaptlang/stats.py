"""Statistics behind ``categorize``: mean ± sd over seeds, bootstrap intervals of score differences, and the
easy / intermediate / hard verdict as a pure function of measured scores.

Pure numpy, torch-free. Scores are accuracies in percent over syntactic words (as :mod:`adaptlang.evaluate`
counts them). Runs are given as per-sentence counts: ``correct`` ``[n_seeds, n_sentences]`` (words right, one row
per seed) and ``words`` ``[n_sentences]`` (words per test sentence, the same for every run on one test set).

Definition (Muller et al., NAACL 2021), applied per task (UPOS, LAS):

- **easy**: the model fine-tuned directly beats the from-scratch baseline;
- **intermediate**: only the model adapted with MLM on the language's text (then fine-tuned) beats it;
- **hard**: neither beats it.

"Beats" is decided on the point estimate (mean over seeds). A difference whose bootstrap confidence interval covers
0 is *within noise*; a verdict that rests on such a difference is flagged, with the categories the noise leaves
possible. The overall verdict is the hardest of the per-task verdicts: a language is only as easy as its hardest
task.

No verdict from unconverged runs: a variant whose runs were still improving when their budget ended (in most seeds,
by :func:`still_improving`: patience on a smoothed dev curve) may score higher with more training. Assuming more
training never lowers a model's score, each of its differences can only move one way (up for ``variant -
baseline``, down when the baseline is the one still improving). A verdict that such a move could overturn is
:data:`UNDECIDED` ("undecided: budget"), with what the unconverged variants would need, never a category: a verdict
of "hard" while the transformer runs are still climbing measures the budget, not the language.

A run without ``baseline``, ``direct`` or ``mlm`` (a subset of the variants) gets :data:`INCOMPLETE`, naming what is
missing, never a category.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

CATEGORIES: tuple[str, ...] = ("easy", "intermediate", "hard")  # from easiest to hardest
UNDECIDED = "undecided: budget"  # a verdict that runs still improving at their cap could overturn
INCOMPLETE = "no verdict"  # a run without baseline, direct or mlm: the definition cannot be applied
REQUIRED_VARIANTS = ("baseline", "direct", "mlm")  # what the definition compares

# Convergence of one run, from its dev curve (one score per epoch, higher is better). "Best epoch = last epoch" is
# no test: a schedule that decays the learning rate to zero makes the last epoch the best of a flat curve.
SMOOTHING = 3  # epochs in the moving average
WINDOW = 3  # epochs over which the moving average must still rise
MIN_RISE = 0.2  # points: a rise of the moving average over WINDOW epochs above this is "still improving"
CONVERGENCE_RULE = (f"a run is still improving when the moving average of its dev score over {SMOOTHING} epochs "
                    f"rose by more than {MIN_RISE} points over its last {WINDOW} epochs (a run stopped by patience "
                    f"has converged; a run of fewer than {SMOOTHING + WINDOW} epochs: when its last epoch was its "
                    "best); a variant is still improving when most of its runs are")


def smoothed_rise(curve: Sequence[float], k: int = SMOOTHING, window: int = WINDOW) -> float | None:
    """How much the moving average (over ``k`` epochs) of ``curve`` rose over its last ``window`` epochs; None for
    a curve shorter than ``k + window``."""
    vals = [float(v) for v in curve]
    if len(vals) < k + window:
        return None
    end = sum(vals[-k:]) / k
    before = sum(vals[-k - window:len(vals) - window]) / k
    return end - before


def still_improving(curve: Sequence[float], *, stopped_early: bool = False, k: int = SMOOTHING,
                    window: int = WINDOW, min_rise: float = MIN_RISE) -> bool:
    """Patience on a smoothed curve (see :data:`CONVERGENCE_RULE`): whether a run with this dev curve (higher is
    better) was still improving when it ended. A flat end is converged even when its last epoch is its best."""
    vals = [float(v) for v in curve]
    if stopped_early or not vals:
        return False
    rise = smoothed_rise(vals, k, window)
    if rise is None:  # too short to smooth: the last epoch strictly above every earlier one
        return len(vals) == 1 or vals[-1] > max(vals[:-1])
    return rise > min_rise


@dataclass(frozen=True)
class MeanSd:
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for a single value
    n: int
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": _r(self.mean), "sd": _r(self.sd), "n": self.n, "values": [_r(v) for v in self.values]}

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.sd:.2f}"


def mean_sd(values: Sequence[float]) -> MeanSd:
    vals = tuple(float(v) for v in values)
    if not vals:
        raise ValueError("mean_sd needs at least one value")
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return MeanSd(mean, sd, len(vals), vals)


def scores_per_seed(correct: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Accuracy (%) of each seed's run: ``correct`` [n_seeds, n_sentences], ``words`` [n_sentences] -> [n_seeds]."""
    correct, words = _check_runs(correct, words)
    return 100.0 * correct.sum(axis=1) / words.sum()


@dataclass(frozen=True)
class Difference:
    """``a - b`` in accuracy points, with a bootstrap confidence interval."""

    a: str
    b: str
    diff: float  # mean over a's seeds minus mean over b's seeds
    ci_low: float
    ci_high: float
    level: float
    n_bootstrap: int
    resample_seeds: bool

    @property
    def within_noise(self) -> bool:
        """The interval covers 0: the data do not tell which of the two is better."""
        return self.ci_low <= 0.0 <= self.ci_high

    @property
    def positive(self) -> bool:
        return self.diff > 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("diff", "ci_low", "ci_high"):
            d[k] = _r(d[k])
        d["within_noise"] = self.within_noise
        return d

    def __str__(self) -> str:
        note = ", within noise" if self.within_noise else ""
        return f"{self.diff:+.2f} [{self.ci_low:+.2f}, {self.ci_high:+.2f}]{note}"


def paired_bootstrap_diff(
    a_correct: np.ndarray,
    b_correct: np.ndarray,
    words: np.ndarray,
    *,
    a: str = "a",
    b: str = "b",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    resample_seeds: bool = True,
    seed: int = 0,
) -> Difference:
    """Bootstrap interval of the accuracy difference ``a - b`` on one test set.

    Each bootstrap sample draws test sentences with replacement, the same sentences for both systems (paired: the
    difficulty of the sample cancels out); with ``resample_seeds`` it also draws each system's seeds with
    replacement, so that seed-to-seed variation widens the interval as it should. The score of a system on a sample
    is the mean over its (drawn) seeds of the micro-averaged accuracy. Percentile interval at ``level``.
    """
    a_correct, words = _check_runs(a_correct, words)
    b_correct, _ = _check_runs(b_correct, words)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), not {level}")
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be >= 1")
    point = float(scores_per_seed(a_correct, words).mean() - scores_per_seed(b_correct, words).mean())
    rng = np.random.default_rng(seed)
    n = len(words)
    diffs = np.empty(n_bootstrap, dtype=np.float64)
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))  # bounds memory: [chunk, n] indices
    for start in range(0, n_bootstrap, chunk):
        m = min(chunk, n_bootstrap - start)
        idx = rng.integers(0, n, size=(m, n))  # [m, n] sentences of each sample
        total = words[idx].sum(axis=1).astype(np.float64)  # [m]
        sides = []
        for runs in (a_correct, b_correct):
            per_seed = runs[:, idx].sum(axis=2) / np.maximum(total, 1.0)  # [n_seeds, m]
            if resample_seeds and runs.shape[0] > 1:
                pick = rng.integers(0, runs.shape[0], size=(m, runs.shape[0]))  # [m, n_seeds]
                sides.append(np.take_along_axis(per_seed.T, pick, axis=1).mean(axis=1))  # [m]
            else:
                sides.append(per_seed.mean(axis=0))
        diffs[start:start + m] = 100.0 * (sides[0] - sides[1])
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return Difference(a, b, point, float(low), float(high), level, n_bootstrap, resample_seeds)


@dataclass(frozen=True)
class TaskVerdict:
    task: str
    category: str  # one of CATEGORIES
    direct: Difference  # directly fine-tuned model - baseline
    adapted: Difference | None  # best MLM-adapted variant - baseline (None when there is none)
    firm: bool  # every difference the verdict rests on is outside noise (and no run it rests on still improved)
    possible: tuple[str, ...]  # categories compatible with the intervals and the open budgets (CATEGORIES order)
    reason: str
    measured: str = ""  # the category the point estimates give (= category unless UNDECIDED)
    budget: tuple[str, ...] = ()  # UNDECIDED: what each still-improving variant it rests on would need

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "category": self.category,
            "measured": self.measured or self.category,
            "firm": self.firm,
            "possible": list(self.possible),
            "reason": self.reason,
            "budget": list(self.budget),
            "direct_vs_baseline": self.direct.to_dict(),
            "adapted_vs_baseline": self.adapted.to_dict() if self.adapted else None,
        }


def categorize(direct_beats: bool, adapted_beats: bool | None) -> str:
    """The definition itself."""
    if direct_beats:
        return "easy"
    if adapted_beats:
        return "intermediate"
    return "hard"


def budget_open(d: Difference, unconverged: Mapping[str, str]) -> bool:
    """Whether more training of a still-improving side could change the sign of ``d = a - b``: ``a`` still
    improving and behind ``b``, or ``b`` still improving and ahead of ``a``."""
    return (d.a in unconverged and not d.positive) or (d.b in unconverged and d.positive)


def task_verdict(task: str, direct: Difference, adapted: Difference | None,
                 unconverged: Mapping[str, str] | None = None) -> TaskVerdict:
    """Verdict of one task from the two differences against the baseline (see the module docstring).

    ``unconverged`` maps each variant (as named in the differences) whose runs were still improving at their cap to
    what it would need (e.g. "more --epochs"); a verdict such a variant could overturn is :data:`UNDECIDED`."""
    open_budget = unconverged or {}
    measured = categorize(direct.positive, adapted.positive if adapted else None)

    def signs(d: Difference) -> set[bool]:  # the signs the noise and the open budgets leave possible
        return {True, False} if d.within_noise or budget_open(d, open_budget) else {d.positive}

    adapted_signs: set[bool | None] = {None} if adapted is None else set(signs(adapted))
    reachable = {categorize(d, a) for d in signs(direct) for a in adapted_signs}
    possible = tuple(c for c in CATEGORIES if c in reachable)
    deciding = [direct] if measured == "easy" else [direct] + ([adapted] if adapted else [])
    stuck = [d for d in deciding if budget_open(d, open_budget)]
    needs = tuple(dict.fromkeys(f"{v}: {open_budget[v]}" for d in stuck for v in (d.a, d.b) if v in open_budget))
    firm = not stuck and not any(d.within_noise for d in deciding)
    adapted_text = f"MLM-adapted {adapted}" if adapted else "no MLM-adapted run"
    reason = f"direct fine-tuning {direct} vs baseline; {adapted_text}"
    if stuck:
        reason = (f"the point estimates say {measured}, but runs still improving at their cap could overturn it "
                  f"({'; '.join(needs)}); {reason}")
    return TaskVerdict(task, UNDECIDED if stuck else measured, direct, adapted, firm, possible, reason, measured,
                       needs)


@dataclass(frozen=True)
class OverallVerdict:
    category: str  # a category, or UNDECIDED when a task's verdict is
    firm: bool
    possible: tuple[str, ...]
    per_task: tuple[TaskVerdict, ...]
    measured: str = ""  # the hardest of the per-task point-estimate categories (= category unless UNDECIDED)
    budget: tuple[str, ...] = ()  # UNDECIDED: what the still-improving variants would need
    missing: tuple[str, ...] = ()  # INCOMPLETE: the variants the definition needs that were not run

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "measured": self.measured or self.category,
            "firm": self.firm,
            "possible": list(self.possible),
            "budget": list(self.budget),
            "missing": list(self.missing),
            "rule": "hardest of the per-task verdicts; undecided (budget) when a task's verdict rests on runs still "
                    "improving at their cap",
            "tasks": {v.task: v.to_dict() for v in self.per_task},
        }


def incomplete_verdict(missing: Sequence[str]) -> OverallVerdict:
    """No category: the definition compares ``direct`` and ``mlm`` with ``baseline``, and ``missing`` were not run
    (a subset of the variants was asked for)."""
    return OverallVerdict(INCOMPLETE, False, (), (), INCOMPLETE, (), tuple(missing))


def overall_verdict(verdicts: Sequence[TaskVerdict]) -> OverallVerdict:
    """The hardest per-task category; firm when the verdicts that set it are firm; :data:`UNDECIDED` when any
    task's verdict is (a language is only as easy as its hardest task, and that one is not known yet)."""
    if not verdicts:
        raise ValueError("overall_verdict needs at least one task verdict")
    measured = max((v.measured or v.category for v in verdicts), key=CATEGORIES.index)
    budget = tuple(dict.fromkeys(b for v in verdicts for b in v.budget))
    # Possible overall categories: the hardest over every combination of per-task possibilities.
    reachable: set[str] = set()
    options = [v.possible for v in verdicts]

    def walk(i: int, hardest: int) -> None:
        if i == len(options):
            reachable.add(CATEGORIES[hardest])
            return
        for c in options[i]:
            walk(i + 1, max(hardest, CATEGORIES.index(c)))

    walk(0, 0)
    possible = tuple(c for c in CATEGORIES if c in reachable)
    undecided = any(v.category == UNDECIDED for v in verdicts)
    return OverallVerdict(UNDECIDED if undecided else measured, len(possible) == 1 and not undecided, possible,
                          tuple(verdicts), measured, budget)


def best_of(
    runs: Mapping[str, np.ndarray], words: np.ndarray
) -> str:
    """Name of the run set with the highest mean accuracy (ties: first given)."""
    if not runs:
        raise ValueError("best_of needs at least one run set")
    return max(runs, key=lambda k: (float(scores_per_seed(runs[k], words).mean()), -list(runs).index(k)))


def _check_runs(correct: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    correct = np.asarray(correct, dtype=np.int64)
    words = np.asarray(words, dtype=np.int64)
    if correct.ndim == 1:
        correct = correct[None, :]
    if correct.ndim != 2 or words.ndim != 1 or correct.shape[1] != words.shape[0]:
        raise ValueError(f"expected correct [n_seeds, n_sentences] and words [n_sentences], got {correct.shape} "
                         f"and {words.shape}")
    if correct.shape[0] == 0 or words.sum() <= 0:
        raise ValueError("no runs or no words to score")
    if (correct < 0).any() or (correct > words[None, :]).any():
        raise ValueError("per-sentence correct counts must lie between 0 and the sentence's word count")
    return correct, words


def _r(x: float) -> float:
    return round(float(x), 4)


# ---------------------------------------------------------------------------------------------------------------
# Entity F1 (NER): scores are recomputed from summed counts, never averaged over sentences


def f1_per_seed(counts: np.ndarray) -> np.ndarray:
    """Entity F1 (%) of each seed's run: ``counts`` [n_seeds, n_sentences, 3] (correct, predicted, gold entities
    per sentence) -> [n_seeds]; F1 = 2 correct / (predicted + gold) over the summed counts."""
    counts = _check_entity_counts(counts)
    total = counts.sum(axis=1).astype(np.float64)  # [n_seeds, 3]
    return 200.0 * total[:, 0] / np.maximum(total[:, 1] + total[:, 2], 1.0)


def paired_bootstrap_f1_diff(a_counts: np.ndarray, b_counts: np.ndarray, *, a: str = "a", b: str = "b",
                             n_bootstrap: int = 1000, level: float = 0.95, resample_seeds: bool = True,
                             seed: int = 0) -> Difference:
    """Bootstrap interval of the entity-F1 difference ``a - b`` on one test set (counts [n_seeds, n_sentences, 3]).

    As :func:`paired_bootstrap_diff`: each sample draws the same test sentences for both systems (and, with
    ``resample_seeds``, each system's seeds); a system's score on a sample is the mean over its drawn seeds of the
    F1 recomputed from that sample's summed counts (F1 is not a mean over sentences)."""
    a_counts, b_counts = _check_entity_counts(a_counts), _check_entity_counts(b_counts)
    if a_counts.shape[1] != b_counts.shape[1]:
        raise ValueError(f"the two systems were scored on different test sets ({a_counts.shape[1]} and "
                         f"{b_counts.shape[1]} sentences)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), not {level}")
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be >= 1")
    point = float(f1_per_seed(a_counts).mean() - f1_per_seed(b_counts).mean())
    rng = np.random.default_rng(seed)
    n = a_counts.shape[1]
    diffs = np.empty(n_bootstrap, dtype=np.float64)
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))  # bounds memory: [chunk, n] indices
    for start in range(0, n_bootstrap, chunk):
        m = min(chunk, n_bootstrap - start)
        idx = rng.integers(0, n, size=(m, n))  # [m, n] sentences of each sample
        sides = []
        for runs in (a_counts, b_counts):
            total = np.stack([runs[:, idx, j].sum(axis=2) for j in range(3)], axis=-1)  # [n_seeds, m, 3]
            per_seed = 200.0 * total[..., 0] / np.maximum(total[..., 1] + total[..., 2], 1)  # [n_seeds, m]
            if resample_seeds and runs.shape[0] > 1:
                pick = rng.integers(0, runs.shape[0], size=(m, runs.shape[0]))  # [m, n_seeds]
                sides.append(np.take_along_axis(per_seed.T, pick, axis=1).mean(axis=1))  # [m]
            else:
                sides.append(per_seed.mean(axis=0))
        diffs[start:start + m] = sides[0] - sides[1]
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return Difference(a, b, point, float(low), float(high), level, n_bootstrap, resample_seeds)


def best_f1_of(runs: Mapping[str, np.ndarray]) -> str:
    """Name of the run set (counts [n_seeds, n_sentences, 3]) with the highest mean entity F1 (ties: first)."""
    if not runs:
        raise ValueError("best_f1_of needs at least one run set")
    return max(runs, key=lambda k: (float(f1_per_seed(runs[k]).mean()), -list(runs).index(k)))


def _check_entity_counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim == 2:
        counts = counts[None]
    if counts.ndim != 3 or counts.shape[2] != 3 or counts.shape[0] == 0:
        raise ValueError(f"expected entity counts [n_seeds, n_sentences, 3], got {counts.shape}")
    if (counts < 0).any() or (counts[..., 0] > np.minimum(counts[..., 1], counts[..., 2])).any():
        raise ValueError("per-sentence correct entities must lie between 0 and the predicted and gold counts")
    return counts
