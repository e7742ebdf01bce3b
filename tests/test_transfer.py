"""analyze transfer: Spearman with an exact p-value, the gap and correlation table, the command end to end on a tiny
BERT (train, score, CKA, resume, --parser), and one-line errors before any work."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr as scipy_spearmanr

from adaptlang.pipeline.transfer import TransferConfig, spearman, transfer_table
from adaptlang.runs import ScoredRun, TrainSummary
from adaptlang.runs import TestScores as Scores
from conftest import toy_sentence

pytestmark = pytest.mark.usefixtures("one_thread")


def test_spearman_exact_p_matches_enumeration() -> None:
    x = [0.9, 0.7, 0.5, 0.2]
    rho, p = spearman(x, [1.0, 3.0, 6.0, 9.0])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 24)  # 2 of the 24 pairings reach |rho| = 1
    y = [2.0, 1.0, 4.0, 3.0, 5.0]
    rho, p = spearman(list(range(5)), y)
    observed = scipy_spearmanr(range(5), y).statistic
    brute = np.mean([abs(scipy_spearmanr(range(5), perm).statistic) >= abs(observed) - 1e-12
                     for perm in itertools.permutations(y)])
    assert rho == pytest.approx(observed) and p == pytest.approx(brute)
    many = np.random.default_rng(0).normal(size=(2, 12))
    assert spearman(many[0], many[1]) == pytest.approx(tuple(scipy_spearmanr(many[0], many[1])))  # t approximation
    assert all(math.isnan(v) for v in spearman([1, 2], [3, 4]))  # too few points
    assert all(math.isnan(v) for v in spearman([1, 1, 1], [3, 4, 5]))  # constant input


def test_transfer_table_gaps_and_correlations() -> None:
    def scores(las: float, upos: float) -> Scores:
        return Scores("t", {"las": las, "upos": upos, "uas": las}, [])

    config = TransferConfig(output="o", source_test="en.conllu", targets=("a.conllu", "b.conllu", "c.conllu"),
                            parser="p")
    run = ScoredRun(TrainSummary(None, None, None, None, False, None),
                    (scores(80, 90), scores(70, 85), scores(40, 60), scores(60, 80)))
    cka = [[0.9, 0.8], [0.3, 0.7], [0.6, 0.9]]  # layer 0 tracks the gap (inversely), layer 1 does not
    r = transfer_table(config, run, cka)
    assert [t["gap"]["las"] for t in r["targets"]] == [10, 40, 20]
    assert [t["gap"]["upos"] for t in r["targets"]] == [5, 30, 10]
    assert r["correlation"]["las"][0]["rho"] == pytest.approx(-1.0)
    assert r["correlation"]["las"][1]["rho"] == pytest.approx(scipy_spearmanr([0.8, 0.7, 0.9], [10, 40, 20])[0])
    assert r["n_targets"] == 3 and r["min_p"] == pytest.approx(2 / 6)


# Parallel toy "languages": the same sentences (same sent_ids) with each word mapped.
MAPS = {
    "same": {},
    "de": {"the": "die", "a": "ein", "cat": "katze", "dog": "hund", "on": "auf", "in": "im", "sat": "sitzt",
           "runs": "läuft", "park": "park", "mat": "matte"},
    "tr": {"the": "bu", "a": "bir", "cat": "kedi", "dog": "köpek", "on": "üstünde", "in": "içinde",
           "sat": "oturdu", "runs": "koşuyor", "park": "parkta", "mat": "paspas"},
}


@pytest.fixture(scope="module")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("parallel")
    rng = random.Random(11)
    files = {"train": d / "train.conllu", "source": d / "en_toy-ud-test.conllu"}
    files["train"].write_text("".join(toy_sentence(rng, f"tr-{k}") for k in range(24)), encoding="utf-8")
    source = "".join(toy_sentence(rng, f"s-{k}") for k in range(12))
    files["source"].write_text(source, encoding="utf-8")
    for lang, mapping in MAPS.items():
        lines = []
        for line in source.splitlines():
            if line.startswith("# text = "):
                line = "# text = " + " ".join(mapping.get(w, w) for w in line[9:].split())
            elif line and not line.startswith("#"):
                cols = line.split("\t")
                cols[1] = mapping.get(cols[1], cols[1])
                line = "\t".join(cols)
            lines.append(line)
        files[lang] = d / f"{lang}_toy-ud-test.conllu"
        files[lang].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def test_cli_end_to_end_resume_and_parser(tmp_path: Path, tiny_bert_dir: Path, parallel: dict[str, Path],
                                          run_cli) -> None:
    out = tmp_path / "run"
    targets = [a for lang in MAPS for a in ("--target", str(parallel[lang]))]
    common = ["--source-test", str(parallel["source"]), *targets, "--device", "cpu", "--threads", "1"]
    r = run_cli("analyze", "transfer", "--model", str(tiny_bert_dir), "--source-train", str(parallel["train"]),
                "-o", str(out), "--epochs", "1", "--json", "-", *common)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n_targets"] == 3 and [t["label"] for t in result["targets"]] == ["same_toy", "de_toy", "tr_toy"]
    same = result["targets"][0]
    assert same["gap"]["las"] == pytest.approx(0.0)  # the same sentences as the source test set
    assert same["cka"] == pytest.approx([1.0] * 3)  # identical sentences: CKA 1 at every layer
    for t in result["targets"]:
        assert t["gap"]["las"] == pytest.approx(result["source"]["scores"]["las"] - t["scores"]["las"], abs=1e-3)
    assert len(result["correlation"]["las"]) == len(result["correlation"]["upos"]) == 3  # embeddings + 2 layers
    assert all(row["p"] is None or 0 < row["p"] <= 1 for row in result["correlation"]["las"])
    assert {p.name for p in out.iterdir()} >= {"transfer.json", "transfer.tsv", "transfer.png", "stages", "run.json"}
    assert "rho(CKA, gap)" in r.stderr and "smallest possible p" in r.stderr

    r = run_cli("analyze", "transfer", "--model", str(tiny_bert_dir), "--source-train", str(parallel["train"]),
                "-o", str(out), "--epochs", "1", *common)  # a rerun reuses every stage
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("reused") == 3

    parser = next((out / "stages").glob("source_parser-*")) / "model"
    r = run_cli("analyze", "transfer", "--parser", str(parser), "-o", str(tmp_path / "run2"), "--json", "-", *common)
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert [t["scores"] for t in again["targets"]] == [t["scores"] for t in result["targets"]]
    assert again["targets"][0]["cka"] == pytest.approx([1.0] * 3)  # CKA on the parser's fine-tuned encoder


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, tiny_bert_dir: Path, parallel: dict[str, Path],
                                                  run_cli) -> None:
    out = tmp_path / "run"
    src = ["--source-test", str(parallel["source"])]
    model = ["--model", str(tiny_bert_dir), "--source-train", str(parallel["train"])]
    two = ["--target", str(parallel["de"]), "--target", str(parallel["tr"])]
    cases = [
        ([*src, *model, "--target", str(parallel["de"])], "at least 2 --target"),
        ([*src, "--target", str(parallel["de"]), "--target", str(parallel["tr"])], "--parser DIR"),
        ([*src, *model, *two, "--parser", str(tmp_path)], "--parser skips training"),
        ([*src, *model, *two, "--cka-target", str(parallel["de"])], "one --cka-target per --target"),
        ([*src, *model, *two, "--kernel", "cosine"], "unknown kernel"),
        ([*src, *model, *two, "--epochs", "0"], "--epochs must be"),
        ([*src, *model, "--target", str(parallel["de"]), "--target", str(tmp_path / "missing.conllu")],
         "missing.conllu"),
        (["--source-test", str(parallel["de"]), *model, *two], "must all be different"),
    ]
    for args, words in cases:
        r = run_cli("analyze", "transfer", *args, "-o", str(out))
        assert r.returncode != 0 and words in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()


def test_cka_of_a_parser_over_language_adapters_needs_cka_model(tmp_path: Path) -> None:
    from adaptlang.errors import UsageError
    from adaptlang.pipeline.transfer import check_config

    parser = tmp_path / "parser"
    parser.mkdir()
    (parser / "config.json").write_text(json.dumps({"kind": "adaptlang-parser", "encoder": {
        "kind": "transformer", "model": "m", "language_adapters": ["/la-en"]}}), encoding="utf-8")
    config = TransferConfig(output=str(tmp_path / "o"), source_test="en", targets=("de", "tr"), parser=str(parser))
    with pytest.raises(UsageError, match="--cka-model"):
        check_config(config)
    assert check_config(dataclasses.replace(config, cka_model="base")).cka_model == "base"
