"""The statistics and the verdict: known values, a naive bootstrap for comparison, and the definition's cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptlang.stats import (
    CATEGORIES,
    Difference,
    best_of,
    categorize,
    mean_sd,
    overall_verdict,
    paired_bootstrap_diff,
    scores_per_seed,
    UNDECIDED,
    task_verdict,
)


def test_mean_sd() -> None:
    m = mean_sd([1.0, 2.0, 3.0])
    assert (m.mean, m.sd, m.n) == (2.0, 1.0, 3)
    assert str(m) == "2.00 ± 1.00"
    assert mean_sd([5.0]).sd == 0.0
    assert mean_sd([90.0, 92.0]).sd == pytest.approx(np.std([90.0, 92.0], ddof=1))
    with pytest.raises(ValueError):
        mean_sd([])


WORDS = np.array([10, 5, 20, 8, 12])


def test_scores_per_seed_micro_average() -> None:
    correct = np.array([[10, 5, 20, 8, 12], [5, 0, 10, 4, 6]])
    np.testing.assert_allclose(scores_per_seed(correct, WORDS), [100.0, 100.0 * 25 / 55])
    with pytest.raises(ValueError, match="between 0 and"):
        scores_per_seed(np.array([[11, 0, 0, 0, 0]]), WORDS)
    with pytest.raises(ValueError, match="expected correct"):
        scores_per_seed(np.array([[1, 2]]), WORDS)


def test_bootstrap_identical_systems_is_zero_and_within_noise() -> None:
    runs = np.array([[7, 3, 15, 8, 2], [6, 4, 14, 7, 3]])
    d = paired_bootstrap_diff(runs, runs, WORDS, n_bootstrap=200, resample_seeds=False)
    assert (d.diff, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)
    assert d.within_noise  # an interval that covers 0 (here: is 0)


def test_bootstrap_matches_naive_loop() -> None:
    rng = np.random.default_rng(5)
    words = rng.integers(1, 30, size=40)
    a = np.stack([rng.binomial(words, 0.8) for _ in range(3)])
    b = np.stack([rng.binomial(words, 0.7) for _ in range(2)])
    d = paired_bootstrap_diff(a, b, words, n_bootstrap=300, resample_seeds=False, seed=11)
    # Naive: same random draws (one chunk of [300, 40] indices), one sample at a time.
    draws = np.random.default_rng(11).integers(0, 40, size=(300, 40))
    naive = []
    for idx in draws:
        sa = np.mean([100.0 * a[s, idx].sum() / words[idx].sum() for s in range(3)])
        sb = np.mean([100.0 * b[s, idx].sum() / words[idx].sum() for s in range(2)])
        naive.append(sa - sb)
    assert d.ci_low == pytest.approx(np.quantile(naive, 0.025))
    assert d.ci_high == pytest.approx(np.quantile(naive, 0.975))
    expected = 100.0 * (a.sum(axis=1) / words.sum()).mean() - 100.0 * (b.sum(axis=1) / words.sum()).mean()
    assert d.diff == pytest.approx(expected)
    assert d.ci_low < d.diff < d.ci_high


def test_pairing_removes_sentence_difficulty() -> None:
    # Sentences vary wildly in difficulty, but a is always exactly one word better than b: the paired interval
    # excludes 0 although each system's own score varies a lot from sample to sample.
    rng = np.random.default_rng(1)
    words = rng.integers(10, 40, size=60)
    b = (words * rng.uniform(0.1, 0.9, size=60)).astype(int)
    a = b + 1
    d = paired_bootstrap_diff(a, b, words, n_bootstrap=500)
    assert d.ci_low > 0 and not d.within_noise
    assert d.diff == pytest.approx(100.0 * 60 / words.sum())


def test_seed_resampling_widens_the_interval() -> None:
    rng = np.random.default_rng(2)
    words = rng.integers(5, 25, size=80)
    base = rng.binomial(words, 0.75)
    a = np.stack([np.minimum(words, base + rng.integers(0, 3, size=80) * (k % 2)) for k in range(4)])  # noisy seeds
    b = np.stack([base, base])
    wide = paired_bootstrap_diff(a, b, words, resample_seeds=True, n_bootstrap=800)
    narrow = paired_bootstrap_diff(a, b, words, resample_seeds=False, n_bootstrap=800)
    assert wide.diff == narrow.diff
    assert (wide.ci_high - wide.ci_low) > (narrow.ci_high - narrow.ci_low)


def test_bootstrap_deterministic_and_validated() -> None:
    runs_a = np.array([[7, 3, 15, 8, 2]])
    runs_b = np.array([[6, 4, 14, 7, 3]])
    assert paired_bootstrap_diff(runs_a, runs_b, WORDS, seed=3) == paired_bootstrap_diff(runs_a, runs_b, WORDS, seed=3)
    with pytest.raises(ValueError):
        paired_bootstrap_diff(runs_a, runs_b[:, :4], WORDS)
    with pytest.raises(ValueError):
        paired_bootstrap_diff(runs_a, runs_b, WORDS, level=1.5)


def _diff(value: float, low: float, high: float) -> Difference:
    return Difference("x", "baseline", value, low, high, 0.95, 1000, True)


def test_verdict_cases() -> None:
    v = task_verdict("las", _diff(3.0, 1.0, 5.0), _diff(4.0, 2.0, 6.0))
    assert (v.category, v.firm, v.possible) == ("easy", True, ("easy",))
    v = task_verdict("las", _diff(-3.0, -5.0, -1.0), _diff(2.0, 0.5, 3.5))
    assert (v.category, v.firm, v.possible) == ("intermediate", True, ("intermediate",))
    v = task_verdict("las", _diff(-3.0, -5.0, -1.0), _diff(-1.0, -2.0, -0.2))
    assert (v.category, v.firm, v.possible) == ("hard", True, ("hard",))
    # Direct is ahead, but within noise: easy by the definition, yet the data also allow the harder categories.
    v = task_verdict("upos", _diff(0.4, -0.3, 1.1), _diff(-2.0, -3.0, -1.0))
    assert (v.category, v.firm, v.possible) == ("easy", False, ("easy", "hard"))
    v = task_verdict("upos", _diff(-0.4, -1.1, 0.3), _diff(1.0, -0.5, 2.0))
    assert (v.category, v.firm, v.possible) == ("intermediate", False, ("easy", "intermediate", "hard"))
    # No MLM-adapted run: intermediate is impossible.
    v = task_verdict("las", _diff(-2.0, -3.0, -1.0), None)
    assert (v.category, v.possible) == ("hard", ("hard",))
    assert v.to_dict()["adapted_vs_baseline"] is None
    assert "within noise" in str(_diff(0.4, -0.3, 1.1)) and "within noise" not in str(_diff(3.0, 1.0, 5.0))


def test_overall_is_the_hardest_task() -> None:
    easy = task_verdict("upos", _diff(3.0, 1.0, 5.0), _diff(4.0, 2.0, 6.0))
    inter = task_verdict("las", _diff(-3.0, -5.0, -1.0), _diff(2.0, 0.5, 3.5))
    o = overall_verdict([easy, inter])
    assert (o.category, o.firm, o.possible) == ("intermediate", True, ("intermediate",))
    shaky = task_verdict("las", _diff(0.4, -0.3, 1.1), _diff(2.0, 0.5, 3.5))  # easy or intermediate
    o = overall_verdict([easy, shaky])
    assert (o.category, o.firm, o.possible) == ("easy", False, ("easy", "intermediate"))
    assert o.to_dict()["tasks"]["las"]["category"] == "easy"
    with pytest.raises(ValueError):
        overall_verdict([])


def _vs(a: str, value: float, low: float, high: float) -> Difference:
    return Difference(a, "baseline", value, low, high, 0.95, 1000, True)


def test_no_verdict_from_runs_still_improving() -> None:
    direct, mlm = _vs("direct", -30.0, -32.0, -28.0), _vs("mlm", -40.0, -42.0, -38.0)
    assert task_verdict("las", direct, mlm).category == "hard"
    # The transformer runs were still improving at their cap: "hard" may be the budget's doing, so no verdict.
    v = task_verdict("las", direct, mlm, {"direct": "more --epochs (best epoch = last in 3/3 runs)"})
    assert (v.category, v.measured, v.firm) == (UNDECIDED, "hard", False)
    assert v.budget == ("direct: more --epochs (best epoch = last in 3/3 runs)",)
    assert v.possible == ("easy", "hard") and "could overturn" in v.reason
    assert v.to_dict()["measured"] == "hard" and v.to_dict()["category"] == UNDECIDED
    # A still-improving baseline cannot overturn "hard" (more baseline training only widens its lead)...
    v = task_verdict("las", direct, mlm, {"baseline": "more --baseline-epochs"})
    assert (v.category, v.firm, v.budget) == ("hard", True, ())
    # ...but it can overturn "easy"; a still-improving direct run cannot (it would only gain more).
    easy = _vs("direct", 3.0, 1.0, 5.0), _vs("mlm", 4.0, 2.0, 6.0)
    assert task_verdict("las", *easy, {"direct": "x", "mlm": "y"}).category == "easy"
    v = task_verdict("las", *easy, {"baseline": "more --baseline-epochs"})
    assert (v.category, v.measured, v.budget) == (UNDECIDED, "easy", ("baseline: more --baseline-epochs",))
    # intermediate: direct still improving could make it easy; the adapted run's own budget does not matter.
    inter = _vs("direct", -3.0, -5.0, -1.0), _vs("mlm", 2.0, 0.5, 3.5)
    assert task_verdict("las", *inter, {"mlm": "y"}).category == "intermediate"
    assert task_verdict("las", *inter, {"direct": "x"}).category == UNDECIDED


def test_overall_is_undecided_when_a_task_is() -> None:
    firm = task_verdict("upos", _vs("direct", 3.0, 1.0, 5.0), _vs("mlm", 4.0, 2.0, 6.0))
    open_ = task_verdict("las", _vs("direct", -3.0, -5.0, -1.0), _vs("mlm", -1.0, -2.0, -0.2),
                         {"direct": "more --epochs", "mlm": "more --epochs"})
    o = overall_verdict([firm, open_])
    assert (o.category, o.measured, o.firm) == (UNDECIDED, "hard", False)
    assert o.budget == ("direct: more --epochs", "mlm: more --epochs")
    assert o.to_dict()["budget"] == list(o.budget) and o.to_dict()["measured"] == "hard"
    assert overall_verdict([firm]).to_dict()["measured"] == "easy"


def test_best_of() -> None:
    words = np.array([10, 10])
    runs = {"mlm": np.array([[5, 5]]), "mlm+translit": np.array([[6, 6], [7, 7]]), "other": np.array([[6, 7]])}
    assert best_of(runs, words) == "mlm+translit"
    assert best_of({"a": np.array([[5, 5]]), "b": np.array([[5, 5]])}, words) == "a"


@settings(max_examples=60, deadline=None)
@given(
    n_sent=st.integers(2, 12), n_seeds=st.integers(1, 3), seed=st.integers(0, 10_000),
    p=st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.floats(0.05, 0.95)),
)
def test_verdict_follows_from_the_numbers(n_sent: int, n_seeds: int, seed: int, p: tuple[float, float, float]) -> None:
    """Whatever the data, the category is the definition applied to the mean scores, and the point difference
    lies inside its interval's range of possible values."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1, 20, size=n_sent)
    base, direct, adapted = (np.stack([rng.binomial(words, q) for _ in range(n_seeds)]) for q in p)
    d_direct = paired_bootstrap_diff(direct, base, words, n_bootstrap=100, seed=seed)
    d_adapted = paired_bootstrap_diff(adapted, base, words, n_bootstrap=100, seed=seed)
    v = task_verdict("las", d_direct, d_adapted)
    mean = {k: scores_per_seed(r, words).mean() for k, r in (("b", base), ("d", direct), ("a", adapted))}
    expected = "easy" if mean["d"] > mean["b"] else "intermediate" if mean["a"] > mean["b"] else "hard"
    assert v.category == expected == categorize(mean["d"] > mean["b"], mean["a"] > mean["b"])
    assert v.category in v.possible and set(v.possible) <= set(CATEGORIES)
    assert v.firm == (v.possible == (v.category,))  # firm exactly when the noise leaves one category
    assert -100.0 <= d_direct.ci_low <= d_direct.ci_high <= 100.0
