"""tokenizer.png (categorize): readable x labels, and transliteration named only when the what-if ran."""

from __future__ import annotations

import pytest

from adaptlang import report

TOK = {"fertility": 2.5, "continued_word_rate": 0.6, "unk_word_rate": 0.1, "char_split_word_rate": 0.05}


def _plot(monkeypatch, tmp_path, assess):
    seen = {}

    def capture(groups, series, path, *, ylabel, title):
        seen.update(groups=list(groups), names=[s[0] for s in series], title=title)

    monkeypatch.setattr(report, "plot_bars", capture)
    report.plot_tokenizer_metrics({"assess": assess}, tmp_path / "tokenizer.png")
    return seen


def test_without_what_if_nothing_says_transliteration(monkeypatch, tmp_path):
    seen = _plot(monkeypatch, tmp_path, {"tokenizer": TOK, "translit_what_if": {"status": "not-needed"}})
    assert seen["names"] == ["corpus"]
    assert "translit" not in seen["title"].lower()


def test_with_what_if_both_series_are_named(monkeypatch, tmp_path):
    seen = _plot(monkeypatch, tmp_path, {"tokenizer": TOK,
                                         "translit_what_if": {"scheme": "table:ug-uly", "after": TOK}})
    assert seen["names"] == ["original script", "transliterated (table:ug-uly)"]
    assert "transliterated" in seen["title"]


def test_x_labels_are_wrapped_short(monkeypatch, tmp_path):
    seen = _plot(monkeypatch, tmp_path, {"tokenizer": TOK})
    assert all(len(line) <= 11 for label in seen["groups"] for line in label.splitlines())


def test_the_png_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    report.plot_tokenizer_metrics({"assess": {"tokenizer": TOK}}, tmp_path / "tokenizer.png")
    assert (tmp_path / "tokenizer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
