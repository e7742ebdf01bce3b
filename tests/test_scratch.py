"""adaptlang pretrain: a small BERT with its own WordPiece vocabulary trained from scratch by MLM (tiny sizes here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adaptlang.cli.main import app
from tests.test_adapt import UYGHUR

TINY = ["--layers", "1", "--hidden", "32", "--heads", "2", "--vocab-size", "200", "--epochs", "2", "--batch-size",
        "8", "--max-seq-len", "48", "--threads", "1"]


def test_pretrain_writes_a_model_that_resolves(tmp_path: Path) -> None:
    from adaptlang.specs import resolve_model

    out = tmp_path / "m"
    res = CliRunner().invoke(app, ["pretrain", str(UYGHUR), "-o", str(out), *TINY, "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "Writing model shards" not in res.output  # no library progress bar beside the command's own
    meta = json.loads((out / "adaptlang.json").read_text(encoding="utf-8"))
    assert meta["base_model"] is None and meta["from_scratch"]["layers"] == 1 and meta["vocab_size"] <= 200
    r = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert r["head"] == "trained from scratch" and len(r["heldout_curve"]) == 2
    assert r["heldout"]["mlm_loss_after"] < r["heldout"]["mlm_loss_before"]
    assert not (tmp_path / "m.init").exists()  # the initial model is removed
    assert "trained from scratch" in (out / "README.md").read_text(encoding="utf-8")
    spec = resolve_model(str(out), purpose="encoder")
    assert spec.kind == "adapted-model" and not spec.adapter
    # OUT exists: refused before any work
    again = CliRunner().invoke(app, ["pretrain", str(UYGHUR), "-o", str(out), *TINY])
    assert again.exit_code != 0 and "--force" in again.output + str(again.exception)


@pytest.mark.parametrize("args, message", [(["--hidden", "30", "--heads", "4"], "multiple of --heads"),
                                            (["--vocab-size", "10"], "--vocab-size")])
def test_pretrain_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["pretrain", str(UYGHUR), "-o", str(tmp_path / "m"), *args])
    assert res.exit_code != 0 and message in res.output + str(res.exception) and not (tmp_path / "m").exists()
