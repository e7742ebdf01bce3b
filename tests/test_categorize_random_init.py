"""``analyze random-init`` (the layer re-initialisation study, part of the categorize/analysis toolkit) end to end on
a tiny in-process BERT and toy treebanks: REF plus one run per range, score changes with intervals, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adaptlang.analysis.randominit import RandomInitConfig, parse_pairs, run_random_init
from adaptlang.errors import UsageError
from adaptlang.evaluate import EXTRA_METRICS

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_parse_pairs() -> None:
    assert parse_pairs("1-2, 3-4") == ("1-2", "3-4")
    assert parse_pairs("5") == ("5",)
    for bad in ("", "0-1", "2-1", "a-b", "1-2,1-2"):
        with pytest.raises(UsageError, match="--pairs"):
            parse_pairs(bad)


def test_random_init_sweep(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ri"
    config = RandomInitConfig(
        train=str(toy_treebanks["train"]), dev=str(toy_treebanks["dev"]), test=str(toy_treebanks["test"]),
        test_cross=(str(toy_treebanks["cross"]),), model=str(tiny_bert_dir), output=str(out), pairs=("1", "2"),
        epochs=1, n_bootstrap=200, device="cpu",
    )
    r = run_random_init(config)
    assert [row["reinit"] for row in r["rows"]] == ["1", "2"]
    assert [t["role"] for t in r["tests"]] == ["same-language", "cross-language"]
    saved = json.loads((out / "random-init.json").read_text(encoding="utf-8"))
    assert saved["rows"] == r["rows"]
    assert (out / "random-init.png").read_bytes()[:4] == b"\x89PNG"
    for row in r["rows"]:
        for test in (config.test, config.test_cross[0]):
            for metric in ("upos", "las"):
                cell = row["tests"][test][metric]
                # Each change is the run's score minus REF's, on the same test set.
                assert cell["diff"] == pytest.approx(cell["score"] - r["ref"][test][metric], abs=1e-3)
                assert cell["ci_low"] <= cell["diff"] <= cell["ci_high"] or np.isclose(cell["ci_low"], cell["ci_high"])
            other = row["tests"][test]["other"]  # the other CoNLL 2018 metrics: reported beside UPOS and LAS
            assert set(other) == set(EXTRA_METRICS)
            assert other["mlas"]["diff"] == pytest.approx(other["mlas"]["score"] - r["ref"][test]["mlas"])
    # Re-initialising a layer changes the model: at least one score moves.
    assert any(row["tests"][t][m]["diff"] != 0 for row in r["rows"] for t in row["tests"] for m in ("upos", "las"))

    again = run_random_init(config)
    assert {s["status"] for s in again["stages"]} == {"reused"}
    assert again["rows"] == r["rows"]

    with pytest.raises(UsageError, match="beyond the model's 2"):
        run_random_init(RandomInitConfig(**{**config.__dict__, "pairs": ("3-4",), "output": str(tmp_path / "x")}))


def test_cli_random_init_bad_pairs(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", "from adaptlang.cli.main import main; main()", "analyze", "random-init",
         "--train", str(toy_treebanks["train"]), "--test", str(toy_treebanks["test"]), "--model", str(tiny_bert_dir),
         "--pairs", "2-1", "-o", str(tmp_path / "ri")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--pairs" in r.stderr
    assert not (tmp_path / "ri").exists()
