"""Options that would be silently wrong with language adapters are refused in one line: ``analyze cka`` of a parser
trained over language adapters (its saved encoder lacks them), ``--language-adapter`` with an NER model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptlang.analysis.cka import CkaConfig, check_not_over_language_adapters, run_cka
from adaptlang.cli.ner import NER_KIND
from adaptlang.errors import UsageError
from conftest import TINY_CONLLU
from test_language_adapters import _train, make_language_adapter

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def parser_over_adapter(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    d = tmp_path_factory.mktemp("over-adapter")
    adapter = make_language_adapter(d / "lang", tiny_bert_dir, 1)
    return Path(_train(d, tiny_bert_dir, [adapter]).out)


def test_cka_refuses_a_parser_over_language_adapters(parser_over_adapter: Path, tiny_bert_dir: Path,
                                                     tmp_path: Path, run_cli) -> None:
    pud = tmp_path / "src.conllu"
    pud.write_text(TINY_CONLLU, encoding="utf-8")
    with pytest.raises(UsageError, match="trained over language adapters .*--model-after BASE"):
        run_cka(CkaConfig(model=str(tiny_bert_dir), model_after=str(parser_over_adapter), source=str(pud),
                          targets=(str(pud),)))
    check_not_over_language_adapters(str(tiny_bert_dir))  # a plain model directory passes
    r = run_cli("analyze", "cka", "--model", str(parser_over_adapter), "--source", str(pud), "--target", str(pud),
                "-o", str(tmp_path / "cka"))
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--model BASE" in r.stderr and "--model ADAPTER" in r.stderr and not (tmp_path / "cka").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_ner_model_refuses_language_adapter(tmp_path: Path, run_cli, command: str) -> None:
    model = tmp_path / "ner"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"kind": NER_KIND}), encoding="utf-8")
    data = tmp_path / "test.conll"
    data.write_text("Dakar B-LOC\n\n", encoding="utf-8")
    extra = ["-o", str(tmp_path / "out.conll")] if command == "predict" else []
    r = run_cli(command, str(model), str(data), *extra, "--language-adapter", str(tmp_path / "lang"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--language-adapter" in r.stderr and "NER model" in r.stderr and not (tmp_path / "out.conll").exists()
