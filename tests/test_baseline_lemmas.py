"""``adaptlang baseline --lemmas``: the LEMMA head's mode, as ``train --lemmas`` (auto, rules, copy, none)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from adaptlang.baseline import BaselineConfig

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = [("xale", "xale", "NOUN"), ("xaleyi", "xale", "NOUN"), ("gis", "gis", "VERB"), ("gisna", "gis", "VERB"),
         ("téere", "téere", "NOUN"), ("téereyi", "téere", "NOUN")]


def _treebank(path: Path, n: int = 20) -> Path:
    """Three-word sentences NOUN VERB NOUN with lemmas (suffixes -yi, -na), so that edit-script rules apply."""
    rng = random.Random(3)
    blocks = []
    for i in range(n):
        words = [rng.choice(WORDS[:2] + WORDS[4:]), rng.choice(WORDS[2:4]), rng.choice(WORDS[:2] + WORDS[4:])]
        rows = [f"{k}\t{f}\t{lem}\t{u}\t_\t_\t{h}\t{d}\t_\t_"
                for k, ((f, lem, u), h, d) in enumerate(zip(words, (2, 0, 2), ("nsubj", "root", "obj")), 1)]
        blocks.append(f"# sent_id = s{i}\n# text = {' '.join(w[0] for w in words)}\n" + "\n".join(rows) + "\n")
    path.write_text("\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_baseline_config_passes_lemmas_to_the_training_config() -> None:
    assert BaselineConfig(train="t", out="o").train_config().lemmas == "auto"
    assert BaselineConfig(train="t", out="o", lemmas="copy").train_config().lemmas == "copy"


@pytest.mark.parametrize("mode", ["rules", "none"])
def test_cli_baseline_lemmas(tmp_path: Path, run_cli, mode: str) -> None:
    train = _treebank(tmp_path / "train.conllu")
    out = tmp_path / "m"
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--epochs", "1", "--hidden", "8", "--layers",
                "1", "--device", "cpu", "--quiet", "--threads", "1", "--lemmas", mode)
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["tags"]["lemmas"] == mode and ("lemma" in config["tags"]["heads"]) == (mode == "rules")


def test_cli_baseline_refuses_an_unknown_lemma_mode(tmp_path: Path, run_cli) -> None:
    train = _treebank(tmp_path / "train.conllu")
    r = run_cli("baseline", "--train", str(train), "-o", str(tmp_path / "m"), "--lemmas", "maybe", "--device",
                "cpu", "--quiet")
    assert r.returncode != 0 and "--lemmas 'maybe'; valid: auto, rules, copy, none" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
