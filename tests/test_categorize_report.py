"""categorize's last step on synthetic measured runs: the verdict, the intervals and the report follow from the
numbers (no training here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaptlang.pipeline import CategorizeConfig, RunResult, StageRecord, build_results, config_key, decide_translit
from adaptlang.report import VARIANT_LABELS, categorize_markdown, training_lines, write_categorize_report
from adaptlang.runs import TrainSummary
from adaptlang.translit.choice import Resolved


def _runs(rng: np.random.Generator, words: np.ndarray, rates: dict[str, float], seeds: int,
          last_epoch_best: tuple[str, ...] = ()) -> dict[str, list[RunResult]]:
    runs: dict[str, list[RunResult]] = {}
    for variant, rate in rates.items():
        runs[variant] = []
        for s in range(seeds):
            upos = rng.binomial(words, min(0.99, rate + 0.1))
            uas = rng.binomial(words, rate)
            las = np.minimum(uas, rng.binomial(words, rate - 0.05))
            counts = np.stack([words, upos, uas, las], axis=1)
            scores = {m: 100.0 * counts[:, j].sum() / words.sum() for j, m in enumerate(("upos", "uas", "las"), 1)}
            baseline = variant == "baseline"  # the baseline runs its whole schedule; the others may stop early
            stopped = not baseline and s == 0
            last = 2 if baseline or stopped else 3
            best = last if variant in last_epoch_best and s < 2 else 1
            train = TrainSummary(train_seconds=10.0 + s, best_epoch=best, epochs_run=last,
                                 epochs_planned=2 if baseline else 3, stopped_early=stopped,
                                 patience=0 if baseline else 5)
            runs[variant].append(RunResult(f"{variant}-{s}", scores, counts.tolist(), train))
    return runs


def _results(rates: dict[str, float], seeds: int = 3, scheme: str | None = None, n_sent: int = 300,
             last_epoch_best: tuple[str, ...] = ()) -> dict:
    return _result(rates, seeds, scheme, n_sent, last_epoch_best).to_dict()


def _result(rates: dict[str, float], seeds: int = 3, scheme: str | None = None, n_sent: int = 300,
            last_epoch_best: tuple[str, ...] = ()):  # -> CategorizeResult
    rng = np.random.default_rng(0)
    words = rng.integers(3, 30, size=n_sent)
    c = CategorizeConfig(corpus="c.txt", train="t.conllu", test="x.conllu", model="m", output="run", seeds=seeds,
                         n_bootstrap=500)
    assess = {"prediction": {"category": "intermediate", "rule": "default"},
              "tokenizer": {"fertility": 2.5, "continued_word_rate": 0.6, "unk_word_rate": 0.1,
                            "char_split_word_rate": 0.05},
              "translit": {"scheme": scheme, "helps": bool(scheme), "after": {
                  "fertility": 1.8, "continued_word_rate": 0.5, "unk_word_rate": 0.0, "char_split_word_rate": 0.02}
                  if scheme else None}}
    data = {"train_cut": None, "n_train_sentences": 100, "n_train_sentences_total": 100, "n_train_words": 1000,
            "n_test_sentences": n_sent, "n_test_words": int(words.sum())}
    adaptation = {"none": {"steps": 5, "heldout": {"mlm_loss_before": 5.0, "mlm_loss_after": 4.0},
                           "train_seconds": 3.0}}
    records = [StageRecord("assess", "k", "d", "ran", 1.0)]
    return build_results(c, assess, Resolved(scheme, "reason"), data, adaptation,
                         _runs(rng, words, rates, seeds, last_epoch_best), records)


def test_clear_intermediate_language() -> None:
    r = _results({"baseline": 0.75, "direct": 0.65, "mlm": 0.85})
    v = r["verdict"]
    assert v["category"] == "intermediate" and v["firm"]
    for task in ("upos", "las"):
        t = v["tasks"][task]
        assert t["category"] == "intermediate"
        assert t["direct_vs_baseline"]["ci_high"] < 0 < t["adapted_vs_baseline"]["ci_low"]
    # The verdict rests on exactly the intervals listed among all differences.
    assert v["tasks"]["las"]["direct_vs_baseline"] == r["differences"]["las"]["direct - baseline"]
    assert v["tasks"]["upos"]["adapted_vs_baseline"] == r["differences"]["upos"]["mlm - baseline"]
    assert r["prediction_vs_measured"] == {"predicted": "intermediate", "measured": "intermediate", "agree": True}
    # The reported means are the means of the seeds' own scores.
    las = [run["scores"]["las"] for run in r["variants"]["mlm"]["runs"]]
    assert r["variants"]["mlm"]["las"]["mean"] == pytest.approx(np.mean(las), abs=1e-4)
    assert r["variants"]["mlm"]["las"]["sd"] == pytest.approx(np.std(las, ddof=1), abs=1e-4)
    # Each difference is the difference of those means.
    d = r["differences"]["las"]["mlm - baseline"]["diff"]
    assert d == pytest.approx(r["variants"]["mlm"]["las"]["mean"] - r["variants"]["baseline"]["las"]["mean"], abs=2e-4)


def test_easy_and_hard_and_noise() -> None:
    assert _results({"baseline": 0.6, "direct": 0.8, "mlm": 0.82})["verdict"]["category"] == "easy"
    hard = _results({"baseline": 0.8, "direct": 0.6, "mlm": 0.65})["verdict"]
    assert (hard["category"], hard["firm"]) == ("hard", True)
    # Same accuracy everywhere: differences are noise, so the verdict is flagged and all categories stay possible.
    noisy = _results({"baseline": 0.7, "direct": 0.7, "mlm": 0.7}, n_sent=60)["verdict"]
    assert not noisy["firm"]
    assert set(noisy["possible"]) >= {"easy", "hard"}


def test_translit_variants_and_gain() -> None:
    r = _results({"baseline": 0.7, "direct": 0.6, "mlm": 0.65, "direct+translit": 0.72, "mlm+translit": 0.8},
                 scheme="table:ug-uly")
    assert r["differences"]["las"]["best adapted"] == "mlm+translit"
    gain = r["translit_gain"]["las"]["mlm+translit - mlm"]
    assert gain["diff"] > 0 and not gain["within_noise"]
    assert r["verdict"]["category"] == "intermediate"


def test_report_files(tmp_path: Path) -> None:
    result = _result({"baseline": 0.7, "direct": 0.6, "mlm": 0.65, "direct+translit": 0.72, "mlm+translit": 0.8},
                     scheme="table:ug-uly")
    files = write_categorize_report(tmp_path, result)
    assert files == ["results.json", "report.md", "scores.png", "tokenizer.png"]
    for png in ("scores.png", "tokenizer.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps({**result.to_dict(), "files": files}))
    assert saved["verdict"]["category"] == "intermediate"
    md = (tmp_path / "report.md").read_text()
    assert "**Measured category: intermediate**" in md
    assert "![scores per variant](scores.png)" in md and "table:ug-uly" in md
    assert "| LAS | mlm+translit - mlm |" in md
    # Each variant's row shows the mean ± sd of its seeds' own scores, as saved.
    for name, v in result.variants.items():
        cells = " | ".join(f"{np.mean(vals):.2f} ± {np.std(vals, ddof=1):.2f}"
                           for vals in ([r.scores[m] for r in v.runs] for m in ("upos", "uas", "las")))
        assert f"| {VARIANT_LABELS[name]} | {cells} |" in md
    gain = saved["translit_gain"]["las"]["mlm+translit - mlm"]
    assert f"| LAS | mlm+translit - mlm | {gain['diff']:+.2f} [{gain['ci_low']:+.2f}, {gain['ci_high']:+.2f}]" in md
    assert not list(tmp_path.glob(".*tmp"))  # nothing half-written left behind


def test_report_says_what_training_did() -> None:
    """The report takes early stopping from each run's train.json, never from a default it assumes."""
    r = _results({"baseline": 0.7, "direct": 0.6, "mlm": 0.65})
    lines = training_lines(r)
    assert lines[0] == "baseline: epochs run 2, 2, 2 of 2 planned; early stopping off"
    assert lines[1] == ("direct: epochs run 2, 3, 3 of 3 planned; early stopping on (patience 5), stopped 1 of 3 "
                        "runs early")
    md = categorize_markdown(r)
    assert "- baseline: epochs run 2, 2, 2 of 2 planned; early stopping off" in md
    assert "with early stopping" not in md
    baseline = r["variants"]["baseline"]["runs"][0]
    assert baseline["patience"] == 0 and not baseline["stopped_early"]


def test_decide_translit_and_keys() -> None:
    def decide(choice: str, assess: dict | None, lang: str | None = None) -> str | None:
        c = CategorizeConfig(corpus="c", train="t", test="x", model="m", output="o", translit=choice, lang=lang)
        return decide_translit(c, assess).scheme

    helps = {"translit": {"scheme": "uroman", "helps": True}}
    assert decide("auto", helps) == "uroman"
    assert decide("none", helps) is None
    assert decide("auto", {"translit": {"scheme": "uroman", "helps": False}}) is None
    assert decide("table:ug-uly", {}) == "table:ug-uly"
    arabic = {"scripts": {"dominant_script": "Arab"}}
    assert decide("latin", arabic, "ug") == "table:ug-uly"
    assert decide("latin", {"scripts": {"dominant_script": "Latn"}}, "wo") is None
    # While assess is pending (a plan), auto and latin are undecided; a named scheme is known already.
    assert decide("auto", None) is None and decide("latin", None, "ug") is None
    assert decide("table:ug-uly", None) == "table:ug-uly"
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_budget_caution_when_most_runs_peak_at_their_last_epoch(tmp_path: Path) -> None:
    result = _result({"baseline": 0.75, "direct": 0.65, "mlm": 0.85}, last_epoch_best=("direct", "mlm"))
    r = result.to_dict()
    assert r["budget"]["best_epoch_is_last"] == {"baseline": {"runs": 0, "of": 3}, "direct": {"runs": 2, "of": 3},
                                                 "mlm": {"runs": 2, "of": 3}}
    assert r["budget"]["still_improving"] == ["direct", "mlm"]
    write_categorize_report(tmp_path, result)
    md = (tmp_path / "report.md").read_text()
    assert "**Budget:** most runs of direct (2/3 runs), mlm (2/3 runs) were still improving" in md
    calm = _results({"baseline": 0.75, "direct": 0.65, "mlm": 0.85})
    assert calm["budget"]["still_improving"] == [] and "**Budget:**" not in categorize_markdown(calm)


def test_no_verdict_from_runs_still_improving(tmp_path: Path) -> None:
    from rich.console import Console

    from adaptlang.cli.categorize import print_verdict

    # Both transformer variants trail the baseline, but most of their runs peaked at their last epoch: "hard" would
    # measure the budget, so the verdict is undecided and says what it would take.
    result = _result({"baseline": 0.80, "direct": 0.60, "mlm": 0.62}, last_epoch_best=("direct", "mlm"))
    r = result.to_dict()
    v = r["verdict"]
    assert (v["category"], v["measured"], v["firm"]) == ("undecided: budget", "hard", False)
    assert v["budget"] == ["direct: best dev epoch = last in 2/3 runs after 3 epochs (0.2 min a run); rerun with "
                           "--epochs 20 or more",
                           "mlm: best dev epoch = last in 2/3 runs after 3 epochs (0.2 min a run); rerun with "
                           "--epochs 20 or more"]
    md = categorize_markdown(r)
    head = md.split("## Verdict per task")[0]
    assert "**Measured category: undecided: budget**\n\nThe point estimates say hard" in head
    assert "- direct: best dev epoch = last in 2/3 runs" in head and "within noise" not in head
    assert "Mode: **finetune**: each pretrained variant is the model fine-tuned" in head
    console = Console(record=True, width=200)
    print_verdict(r, console)
    assert console.export_text().startswith("The point estimates say hard, but runs still improving")
    # A still-improving baseline cannot overturn "hard": the verdict stands.
    firm = _results({"baseline": 0.80, "direct": 0.60, "mlm": 0.62}, last_epoch_best=("baseline",))
    assert firm["verdict"]["category"] == "hard" and firm["verdict"]["budget"] == []
    assert "The point estimates say" not in categorize_markdown(firm)


def test_what_unconverged_runs_would_need() -> None:
    from dataclasses import replace

    from adaptlang.pipeline.results import unconverged_variants

    result = _result({"baseline": 0.80, "direct": 0.60, "mlm": 0.62}, last_epoch_best=("baseline", "direct"))
    c = result.config
    needs = unconverged_variants(c, result.variants)
    assert set(needs) == {"baseline", "direct"}  # mlm: best epoch last in 0/3 runs
    assert needs["baseline"].endswith("rerun with --baseline-epochs 160 or more")  # categorize's default, 80
    # Runs that stopped before their epochs because of --max-minutes need minutes, not epochs.
    assert unconverged_variants(replace(c, max_minutes=5.0), result.variants)["direct"].endswith(
        "rerun with --max-minutes 10 or more")
    # In features mode every variant is a baseline run: its epochs are --baseline-epochs.
    assert unconverged_variants(replace(c, mode="features", baseline_epochs=3), result.variants)["direct"].endswith(
        "rerun with --baseline-epochs 6 or more")


def test_an_adaptation_cut_while_its_loss_still_falls_leaves_the_mlm_variant_open() -> None:
    """The MLM variant's standing depends on its adaptation: one ended by its time budget while the held-out MLM loss
    still fell is not the adapted model the verdict is about, so "hard" (mlm below the baseline) is undecided and
    says how many minutes to give; an adaptation stopped by patience, or whose loss had flattened, is converged."""
    from dataclasses import replace

    from adaptlang.pipeline.results import unconverged_adaptation, unconverged_variants

    cut = {"steps": 50, "heldout": {"mlm_loss_before": 12.49}, "heldout_curve": [{"step": 50, "mlm_loss": 7.83}],
           "data": {"stop_reason": "time budget", "epochs": 0.46}}
    assert unconverged_adaptation(cut, 20.0) == (
        "its MLM adaptation ended by its time budget after 50 steps (0.46 passes over the corpus), held-out MLM loss "
        "still falling (12.490 -> 7.830); rerun with --adapt-minutes 40 or more")
    flat = dict(cut, heldout_curve=[{"mlm_loss": 3.0}, {"mlm_loss": 2.99}])
    assert unconverged_adaptation(flat, 20.0) is None  # under 1% lower than the evaluation before
    assert unconverged_adaptation(dict(cut, data={"stop_reason": "patience"}), 20.0) is None
    worse = dict(cut, heldout_curve=[{"mlm_loss": 3.0}, {"mlm_loss": 3.2}])
    assert unconverged_adaptation(worse, 20.0) is None  # its best weights are kept: the last was not the best

    result = _result({"baseline": 0.80, "direct": 0.60, "mlm": 0.62})
    assert result.verdict.category == "hard"
    needs = unconverged_variants(result.config, result.variants, {"none": cut})
    assert set(needs) == {"mlm"} and needs["mlm"].endswith("--adapt-minutes 120 or more")
    rerun = build_results(result.config, result.assess, result.translit, result.data, {"none": cut},
                          {v: list(r.runs) for v, r in result.variants.items()})
    assert rerun.verdict.category == "undecided: budget" and rerun.verdict.measured == "hard"
    budget = rerun.to_dict()["verdict"]["budget"]
    assert any(b.startswith("mlm: its MLM adaptation ended by its time budget") for b in budget)
    md = categorize_markdown(rerun.to_dict())
    assert "| none | 50 (0.46) | time budget | - | 12.490 → — |" in md  # what the adaptation did, in the report
    assert unconverged_variants(replace(result.config, adapt_minutes=None), result.variants,
                                {"none": dict(cut, data={"stop_reason": "completed", "epochs": 40})})["mlm"].endswith(
        "rerun with --adapt-epochs twice as many")


def test_epochs_line_names_the_epochs_of_the_task_that_ran() -> None:
    """A NER-only features-mode run had NER's BiLSTM epochs, not the parsing default (seen on a real report)."""
    from adaptlang.report import _epochs_line

    c = {"mode": "features", "baseline_epochs": None, "bilstm_epochs": {"parse": 80, "ner": 40}}
    assert _epochs_line({**c, "task": "ner"}).startswith("Epochs: 40 for every variant")
    assert _epochs_line({**c, "task": "parse"}).startswith("Epochs: 80 for every variant")
    assert _epochs_line({**c, "task": "both"}).startswith("Epochs: 80 (parsing), 40 (NER) for every variant")
    assert _epochs_line({"mode": "features", "baseline_epochs": 12}).startswith("Epochs: 12 for")  # older results
