"""categorize --donor: the direct+donor variant (the direct one trained with related treebanks too), its stage key
(the donors' contents, in that variant's key only), its comparisons, and bad donors failing before the run
directory exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.errors import InputError, UsageError
from adaptlang.pipeline import CategorizeConfig, plan_categorize, run_categorize
from adaptlang.pipeline.categorize import _trainer, selected_variants

from conftest import small_categorize_config

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


_config = small_categorize_config


def _stage_dirs(c: CategorizeConfig) -> dict[str, str]:
    return {s.name: Path(s.directory).name for s in plan_categorize(c).stages}


@pytest.mark.parametrize("mode", ["finetune", "features"])
def test_donors_leave_every_other_stage_key_alone(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                                  tmp_path: Path, mode: str) -> None:
    donor = tmp_path / "donor.conllu"
    shutil.copy(toy_treebanks["cross"], donor)
    kw = dict(mode=mode, variants=("baseline", "direct", "mlm"))
    plain = _stage_dirs(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", **kw))
    with_donor = _stage_dirs(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(str(donor),), **kw))
    assert "direct+donor seed 1" not in plain and "baseline seed 1" in plain
    assert {k: v for k, v in with_donor.items() if k != "direct+donor seed 1"} == plain  # the same keys, reused
    assert with_donor["direct+donor seed 1"].startswith("direct_donor_seed_1-")
    # the key follows the donors' contents (not their path) and their transliteration
    moved = tmp_path / "elsewhere.conllu"
    shutil.copy(donor, moved)
    assert _stage_dirs(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(str(moved),), **kw)) \
        == with_donor
    other = tmp_path / "other.conllu"
    shutil.copy(toy_treebanks["dev"], other)
    changed = _stage_dirs(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(str(other),), **kw))
    assert changed["direct+donor seed 1"] != with_donor["direct+donor seed 1"]
    assert {k: v for k, v in changed.items() if k != "direct+donor seed 1"} == plain
    latin = _stage_dirs(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(str(donor),),
                                donor_translit="latin", **kw))
    assert latin["direct+donor seed 1"] != with_donor["direct+donor seed 1"]


def test_variant_selection_and_trainer(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    donor = str(toy_treebanks["cross"])
    c = _config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(donor,), donor_translit="target")
    assert selected_variants(c, None) == ["baseline", "direct", "mlm", "direct+donor"]
    assert selected_variants(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r"), None) == ["baseline", "direct",
                                                                                               "mlm"]
    t = _trainer(c, "direct+donor", None, None, c.train, 1, str(tmp_path / "m"))  # type: ignore[arg-type]
    assert (t.donors, t.donor_translit, t.encoder.model) == ((donor,), "target", str(tiny_bert_dir))
    assert _trainer(c, "direct", None, None, c.train, 1, str(tmp_path / "m")).donors == ()  # type: ignore[arg-type]
    f = _trainer(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", donors=(donor,), mode="features"),
                 "direct+donor", None, None, c.train, 1, str(tmp_path / "m"))  # type: ignore[arg-type]
    assert f.embeddings == str(tiny_bert_dir) and f.transfer["donors"] == (donor,)
    assert f.train_config().donors == (donor,)


def test_bad_donors_fail_before_the_run_directory(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                                  tmp_path: Path) -> None:
    run = tmp_path / "run"
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tword\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.conllu"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, run, donors=(str(bad),)))
    with pytest.raises(UsageError, match="--donor .*missing.conllu: no such file"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, run, donors=(str(tmp_path / "missing.conllu"),)))
    with pytest.raises(UsageError, match=r"--variants direct\+donor needs --donor"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, run, variants=("baseline", "direct+donor")))
    with pytest.raises(UsageError, match="--donor-translit"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, run, donors=(str(toy_treebanks["cross"]),),
                               donor_translit="no-such-scheme"))
    assert not run.exists()


def test_cli_bad_donor_is_one_line(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.conllu"
    empty.write_text("\n", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-c", "from adaptlang.cli.main import main; main()", "categorize",
         "--corpus", str(toy_treebanks["corpus"]), "--train", str(toy_treebanks["train"]),
         "--test", str(toy_treebanks["test"]), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "run"),
         "--donor", str(toy_treebanks["cross"]), "--donor", str(empty)], capture_output=True, text=True, cwd=REPO,
        timeout=300)
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "empty.conllu" in r.stderr and not (tmp_path / "run").exists()


def test_direct_donor_is_scored_and_compared(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                             tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_categorize(_config(toy_treebanks, tiny_bert_dir, run, mode="features",
                                    variants=("baseline", "direct"), donors=(str(toy_treebanks["cross"]),)))
    r = result.to_dict()
    assert list(r["variants"]) == ["baseline", "direct", "direct+donor"]
    assert {"direct+donor - baseline", "direct+donor - direct"} <= set(r["differences"]["las"])
    assert r["verdict"]["missing"] == ["mlm"]  # not a stand-in for any variant of the verdict
    model = Path(r["variants"]["direct+donor"]["runs"][0]["model"])
    assert str(toy_treebanks["cross"]) in (model / "config.json").read_text(encoding="utf-8")  # trained with it
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "direct, trained with the donor treebanks too" in md and "direct+donor - direct" in md
