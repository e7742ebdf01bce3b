"""The convergence rule behind "undecided: budget": patience on a smoothed dev curve, on synthetic curves, and as
categorize applies it to the metrics.json of finished runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from adaptlang.pipeline import RunResult
from adaptlang.pipeline.results import dev_curve, still_improving_runs, unconverged_variants
from adaptlang.runs import ScoredRun, TrainSummary
from adaptlang.stats import CONVERGENCE_RULE, MIN_RISE, smoothed_rise, still_improving


def _decayed(n: int, top: float = 75.0) -> list[float]:
    """A run on a schedule that decays the LR to zero: a fast rise, then a plateau creeping up by hundredths, so
    that the last epoch is (barely) the best."""
    return [top - 20.0 * np.exp(-i / 3.0) + 0.01 * i for i in range(n)]


def test_flat_end_with_the_last_epoch_best_has_converged() -> None:
    curve = _decayed(30)
    assert curve[-1] == max(curve)  # the old rule (best epoch = last) would call it still improving
    assert not still_improving(curve)
    assert abs(smoothed_rise(curve)) < MIN_RISE  # type: ignore[arg-type]


def test_a_curve_still_climbing_is_still_improving() -> None:
    climbing = [50.0 + 1.0 * i for i in range(12)]  # a point an epoch
    assert still_improving(climbing) and smoothed_rise(climbing) == 3.0
    noisy_climb = [60, 62, 61, 64, 63, 66, 65, 68, 67, 70]
    assert still_improving(noisy_climb)


def test_noise_and_a_dip_at_the_end() -> None:
    plateau = [70.0, 74.0, 75.0, 75.3, 74.9, 75.2, 75.0, 75.3, 75.1, 75.2]  # noise around a level
    assert not still_improving(plateau)
    dipping = [70, 72, 74, 75, 76, 77, 76.5, 76.0, 75.5]  # best epoch long ago
    assert not still_improving(dipping)


def test_short_and_stopped_runs() -> None:
    assert still_improving([40.0]) and still_improving([40.0, 50.0, 60.0])  # too short to smooth: last = best
    assert not still_improving([40.0, 60.0, 50.0])
    assert not still_improving([50.0 + i for i in range(12)], stopped_early=True)  # patience ended it: converged
    assert not still_improving([])
    assert "moving average" in CONVERGENCE_RULE


def _run(tmp_path: Path, name: str, curve: list[float], stopped: bool = False) -> RunResult:
    model = tmp_path / name / "model"
    model.mkdir(parents=True)
    (model / "metrics.json").write_text(json.dumps(
        {"epochs": [{"epoch": i + 1, "dev": {"las": v, "upos": 90.0}} for i, v in enumerate(curve)],
         "best_epoch": int(np.argmax(curve)) + 1, "select_metric": "las"}))
    best = int(np.argmax(curve)) + 1
    scored = ScoredRun.from_dict({"train": TrainSummary(60.0, best, len(curve), len(curve), stopped, 0).to_dict(),
                                  "tests": [{"test": "t", "scores": {"upos": 1.0, "uas": 1.0, "las": 1.0},
                                             "counts": [[3, 3, 3, 3]]}]})
    return RunResult.of(str(model), scored)


def test_categorize_reads_the_curves_of_finished_runs(tmp_path: Path) -> None:
    from adaptlang.pipeline import CategorizeConfig
    from adaptlang.pipeline.results import VariantResult

    flat = [_run(tmp_path, f"flat{s}", _decayed(30)) for s in range(3)]
    rising = [_run(tmp_path, f"up{s}", [50.0 + i for i in range(12)]) for s in range(3)]
    assert flat[0].dev_curve == tuple(_decayed(30)) and dev_curve(tmp_path / "none") == ()
    assert all(r.train.best_epoch == r.train.epochs_run for r in flat)  # last epoch best, yet converged
    assert still_improving_runs(flat) == 0 and still_improving_runs(rising) == 3
    c = CategorizeConfig(corpus="c", train="t", test="x", model="m", output="o", mode="features",
                         baseline_epochs=30)
    out = unconverged_variants(c, {"baseline": VariantResult.of(flat), "direct": VariantResult.of(rising)})
    assert list(out) == ["direct"]
    assert out["direct"].startswith("smoothed dev curve still rising in 3/3 runs after 12 epochs")
