"""categorize --variants: a subset of the variants (no verdict without baseline, direct and mlm), the scratch
variant (a monolingual BERT pretrained from scratch on the corpus), bad names; the MLM budget settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.errors import UsageError
from adaptlang.pipeline import plan_categorize, run_categorize
from adaptlang.pipeline.categorize import selected_variants

from conftest import small_categorize_config

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


_config = small_categorize_config


def test_variant_names_are_checked_and_ordered(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                               tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--variants: unknown 'mlmm'; valid: baseline, direct, mlm, "
                                         r"direct\+translit, mlm\+translit, scratch"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", variants=("baseline", "mlmm")))
    with pytest.raises(UsageError, match="empty or repeated"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", variants=("direct", "direct")))
    assert not (tmp_path / "r").exists()
    c = _config(toy_treebanks, tiny_bert_dir, tmp_path / "r", variants=("scratch", "mlm+translit", "baseline"))
    assert selected_variants(c, None) == ["baseline", "scratch"]  # translit ones only with a scheme
    assert selected_variants(c, "table:ug-uly") == ["baseline", "mlm+translit", "scratch"]
    assert selected_variants(_config(toy_treebanks, tiny_bert_dir, tmp_path), None) == ["baseline", "direct", "mlm"]
    # the plan lists the stages of the subset only: no adaptation without an mlm variant, a scratch pretraining
    names = [s.name for s in plan_categorize(c).stages]
    assert names == ["assess", "data", "scratch", "baseline seed 1", "scratch seed 1"] or \
        names == ["assess"]  # (assess pending: the rest is listed once it has decided)


def test_cli_unknown_variant_is_one_line(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", "from adaptlang.cli.main import main; main()", "categorize",
         "--corpus", str(toy_treebanks["corpus"]), "--train", str(toy_treebanks["train"]),
         "--test", str(toy_treebanks["test"]), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "run"),
         "--variants", "baseline,drect"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "--variants: unknown 'drect'; valid: baseline, direct, mlm" in r.stderr and not (tmp_path / "run").exists()


def test_subset_with_scratch_gives_no_category(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                               tmp_path: Path) -> None:
    run = tmp_path / "run"
    scratch = {"layers": 1, "hidden": 32, "heads": 2, "vocab_size": 120, "epochs": 2, "batch_size": 8,
               "pppl_tokens": 8}
    result = run_categorize(_config(toy_treebanks, tiny_bert_dir, run, mode="features", scratch_options=scratch,
                                    variants=("baseline", "direct", "scratch")))
    r = result.to_dict()
    assert [s["name"] for s in r["stages"]] == ["assess", "data", "scratch", "baseline seed 1", "direct seed 1",
                                                "scratch seed 1"]
    assert list(r["variants"]) == ["baseline", "direct", "scratch"]
    assert set(r["differences"]["las"]) == {"direct - baseline", "scratch - baseline", "best adapted"}
    v = r["verdict"]
    assert (v["category"], v["missing"], v["tasks"]) == ("no verdict", ["mlm"], {})
    assert r["prediction_vs_measured"]["agree"] is None
    pre = r["adaptation"]["scratch"]
    assert pre["head"] == "trained from scratch" and pre["heldout"]["mlm_loss_after"] < pre["heldout"]["mlm_loss_before"]
    model = Path(r["variants"]["scratch"]["runs"][0]["model"])
    enc = json.loads((model / "config.json").read_text(encoding="utf-8"))["encoder"]
    assert enc["kind"] == "features" and "scratch" in str(enc)  # the baseline reading the scratch model's vectors
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "**Measured category: no verdict**" in md and "this run has no mlm" in md
    assert "monolingual BERT from scratch (extra: not in the verdict)" in md


def test_cpu_bf16_reaches_every_trainer_and_keys_only_when_on(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                                              tmp_path: Path) -> None:
    """categorize --cpu-bf16 is passed to the adaptation and to every training run (parse and NER, both modes); a run
    directory made without it keeps its stage keys (the option is keyed only when on)."""
    from dataclasses import replace

    from adaptlang.pipeline.categorize import _adapt_config, _trainer
    from adaptlang.pipeline.categorize_ner import ner_trainer
    from adaptlang.runs import training_settings

    off = _config(toy_treebanks, tiny_bert_dir, tmp_path / "r")
    on = replace(off, cpu_bf16=True)
    assert _adapt_config(on, None, 16, "o").cpu_bf16 and not _adapt_config(off, None, 16, "o").cpu_bf16
    for mode in ("finetune", "features"):
        for variant in ("baseline", "direct", "mlm"):
            run = _trainer(replace(on, mode=mode), variant, None, "adapted", "t.conllu", 1, "o")
            assert run.cpu_bf16, (mode, variant)
            assert "cpu_bf16" not in training_settings(_trainer(replace(off, mode=mode), variant, None, "adapted",
                                                                "t.conllu", 1, "o"))
            ner, _ = ner_trainer(replace(on, mode=mode), variant, None, "adapted", "t.conll", 1, "o")
            assert ner.cpu_bf16, (mode, variant)
    assert training_settings(_adapt_config(on, None, 16, "o"))["cpu_bf16"] is True
