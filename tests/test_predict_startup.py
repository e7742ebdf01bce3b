"""``adaptlang predict`` start-up: a baseline parser directory is parsed without importing transformers, and a
transformer parser's saved tokenizer is loaded without transformers parsing tokenizer.json twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_TEXT, make_tiny_bert

pytestmark = pytest.mark.usefixtures("one_thread")


def test_added_tokens_read_from_the_head_equal_the_tokenizers_own(tmp_path: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    from adaptlang.models.transformer import _saved_tokenizer, saved_added_tokens

    d = make_tiny_bert(tmp_path / "bert", TINY_TEXT)
    fast = PreTrainedTokenizerFast.from_pretrained(str(d))
    fast.add_tokens(["<new-word>"])
    fast.save_pretrained(str(d))
    config = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("added_tokens_decoder", None)  # as transformers 5 saves it: the list is only in tokenizer.json
    (d / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")

    added = saved_added_tokens(d)
    assert added is not None
    from tokenizers import Tokenizer

    assert added == Tokenizer.from_file(str(d / "tokenizer.json")).get_added_tokens_decoder()
    assert "<new-word>" in {t.content for t in added.values()}
    ours, theirs = _saved_tokenizer(str(d)), PreTrainedTokenizerFast.from_pretrained(str(d))
    text = ["the cat <new-word> [MASK] sat", "dogs [SEP] read books"]
    assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    assert ours.added_tokens_decoder == theirs.added_tokens_decoder
    for name in ("cls_token_id", "sep_token_id", "pad_token_id", "unk_token_id", "mask_token_id",
                 "model_max_length"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_added_tokens_fall_back_to_transformers_when_not_at_the_head(tmp_path: Path) -> None:
    from adaptlang.models.transformer import saved_added_tokens

    (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": {"vocab": []}}', encoding="utf-8")
    assert saved_added_tokens(tmp_path) is None
    (tmp_path / "tokenizer.json").write_text('{"added_tokens": [{"content": "x"}]}', encoding="utf-8")
    assert saved_added_tokens(tmp_path) is None  # no "id": transformers reads it itself
    (tmp_path / "tokenizer_config.json").write_text('{"added_tokens_decoder": {}}', encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text('{"added_tokens": []}', encoding="utf-8")
    assert saved_added_tokens(tmp_path) is None  # the config lists them: transformers' own path
    (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text('{"added_tokens": [{"id": 0, "content": "<s>"}]}', encoding="utf-8")
    assert saved_added_tokens(tmp_path) is not None
    (tmp_path / "special_tokens_map.json").write_text("{}", encoding="utf-8")
    assert saved_added_tokens(tmp_path) is None  # an older save: transformers merges its files itself


def test_predict_with_a_baseline_parser_does_not_import_transformers(tmp_path: Path, toy_treebanks) -> None:
    from adaptlang.baseline import BaselineConfig, train_baseline

    out = tmp_path / "bl"
    train_baseline(BaselineConfig(train=str(toy_treebanks["train"]), dev=str(toy_treebanks["dev"]), out=str(out),
                                  epochs=1, hidden=8, n_layers=1, word_dim=8, char_dim=8, char_hidden=8, char_out=8,
                                  arc_dim=8, rel_dim=8, device="cpu"))
    code = ("import sys; from adaptlang.cli.main import main\n"
            f"sys.argv = ['adaptlang', 'predict', {str(out)!r}, {str(toy_treebanks['test'])!r}, '-o', "
            f"{str(tmp_path / 'pred.conllu')!r}, '--device', 'cpu', '--threads', '1']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(','.join(m for m in ('transformers', 'peft', 'accelerate', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1:] in ([], [""]), r.stdout
    assert (tmp_path / "pred.conllu").read_text(encoding="utf-8").count("\n\n") == 10
