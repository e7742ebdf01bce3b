"""assess on diacritised text: the marks are detected, their cost reported, and --strip-diacritics assesses the
text without them."""

from __future__ import annotations

import json
import sys

from adaptlang.assess import assess_corpus
from adaptlang.assess.diacritics import DIACRITISED_SHARE
from adaptlang.cli.main import main

VOCALISED = ["ذَهَبَ الوَلَدُ إِلَى البَيْتِ", "اَلأَمِيرِكِيِّينَ كِتَابٌ جَمِيلٌ فِي المَدْرَسَةِ",
             "قَرَأَ الطَّالِبُ الكِتَابَ"] * 10
PLAIN = ["ذهب الولد إلى البيت", "الأميركيين كتاب جميل في المدرسة", "قرأ الطالب الكتاب"] * 10


def _write(tmp_path, lines):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_vocalised_text_is_detected_and_costed(tmp_path):
    r = assess_corpus(_write(tmp_path, VOCALISED), lang="ar")
    d = r.diacritics
    assert d.diacritised and d.marks[0].script == "Arab" and d.marks[0].marked_share > DIACRITISED_SHARE
    assert d.with_marks.fertility > 2 * d.without_marks.fertility  # every mark is a piece of its own
    assert r.tokenizer.fertility == d.with_marks.fertility  # not stripped: the main figures are with the marks
    assert any("--strip-diacritics" in reason for reason in r.prediction.reasons)
    assert "diacritics" in r.recommendation.explanation
    assert r.to_dict()["diacritics"]["diacritised"] is True


def test_strip_diacritics_assesses_the_text_without_them(tmp_path):
    stripped = assess_corpus(_write(tmp_path, VOCALISED), lang="ar", strip_diacritics=True)
    plain = assess_corpus(_write(tmp_path, PLAIN), lang="ar")
    assert stripped.tokenizer.fertility == plain.tokenizer.fertility
    assert stripped.diacritics.stripped and "assessed without them" in stripped.diacritics.summary()
    assert not any("--strip-diacritics" in reason for reason in stripped.prediction.reasons)


def test_plain_text_says_nothing(tmp_path):
    r = assess_corpus(_write(tmp_path, PLAIN), lang="ar")
    assert not r.diacritics.diacritised and r.diacritics.summary() == "" and r.diacritics.with_marks is None


def test_cli_shows_the_diacritics_line(monkeypatch, capsys, tmp_path):
    src, js = _write(tmp_path, VOCALISED), tmp_path / "r.json"
    monkeypatch.setattr(sys, "argv", ["adaptlang", "assess", str(src), "--lang", "ar", "--json", str(js)])
    try:
        main()
    except SystemExit as e:
        assert not e.code
    out = " ".join(capsys.readouterr().out.split())
    assert "diacritics:" in out and "--strip-diacritics" in out
    assert json.loads(js.read_text(encoding="utf-8"))["diacritics"]["with_marks"]["fertility"] > 3
