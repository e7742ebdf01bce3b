"""Optional diacritics: the library function, the ``strip-diacritics`` scheme (alone and chained with ``+``), and
``adaptlang transliterate --strip-diacritics``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adaptlang.errors import UsageError
from adaptlang.translit import get_transliterator, strip_diacritics
from adaptlang.translit.corpus import transliterate_file
from adaptlang.translit.diacritics import count_marks

VOCALISED = "اَلأَمِيرِكِيِّينَ كِتَابٌ"


@pytest.mark.parametrize("text,script,expected", [
    (VOCALISED, None, "الأميركيين كتاب"),
    (VOCALISED, "Arab", "الأميركيين كتاب"),
    (VOCALISED, "Hebr", VOCALISED),  # only the marks of the script asked for
    ("שָׁלוֹם", None, "שלום"),
    ("Москва́ и́ли", "Cyrl", "Москва или"),
    ("ёж йод", None, "ёж йод"),  # the diaeresis and breve are parts of the letters: kept, also decomposed
    ("е\u0308ж и\u0306од", None, "е\u0308ж и\u0306од"),
    ("café résumé", None, "café résumé"),  # Latin diacritics are letters of their own
    ("آ أ إ ؤ", None, "آ أ إ ؤ"),  # maddah and hamza are parts of the letters
    ("ا\u0653 ا\u0654", None, "ا\u0653 ا\u0654"),  # ... also when decomposed
])
def test_strip_diacritics(text, script, expected):
    assert strip_diacritics(text, script) == expected


def test_unknown_script_is_a_usage_error():
    with pytest.raises(UsageError, match="valid: Arab, Cyrl, Hebr, Syrc"):
        strip_diacritics("x", "Latn")


def test_count_marks_counts_letters_that_carry_a_mark():
    (arab,) = count_marks({"كِتَاب": 2, "كتاب": 1})
    assert (arab.script, arab.n_letters, arab.n_marked, arab.n_marks) == ("Arab", 12, 4, 4)
    assert arab.marked_share == pytest.approx(4 / 12)


def test_scheme_alone_and_chained():
    t = get_transliterator("strip-diacritics")
    assert t.transliterate(VOCALISED) == "الأميركيين كتاب" and t.target_script == "*"
    chain = get_transliterator("strip-diacritics+table:ar-alalc")
    assert chain.name == "strip-diacritics+table:ar-alalc"  # the canonical name is accepted back
    assert get_transliterator(chain.name).transliterate(VOCALISED) == "al-ʼmīrkīīn ktāb"
    assert (chain.info.source_script, chain.target_script) == ("Arab", "Latn")
    with pytest.raises(UsageError, match="empty part"):
        get_transliterator("strip-diacritics+")


def test_transliterate_file_strips_alone_or_before_a_scheme(tmp_path):
    src = tmp_path / "v.txt"
    src.write_text(VOCALISED + "\n", encoding="utf-8")
    r = transliterate_file(str(src), str(tmp_path / "a.txt"), strip_diacritics=True)
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "الأميركيين كتاب\n"
    assert r.scheme == "strip-diacritics" and r.n_uncovered == 0 and not r.warnings
    r = transliterate_file(str(src), str(tmp_path / "b.txt"), to="Latn", lang="ar", strip_diacritics=True)
    assert r.scheme == "strip-diacritics+table:ar-alalc"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "al-ʼmīrkīīn ktāb\n"


def test_cli_strip_diacritics_conllu(tmp_path):
    src = tmp_path / "v.conllu"
    src.write_text("# text = كِتَابٌ جَمِيلٌ\n1\tكِتَابٌ\tكِتَاب\tNOUN\t_\t_\t0\troot\t_\t_\n"
                   "2\tجَمِيلٌ\tجَمِيل\tADJ\t_\t_\t1\tamod\t_\t_\n\n", encoding="utf-8")
    out = tmp_path / "out.conllu"
    code = "from adaptlang.cli.main import main; main()"
    res = subprocess.run([sys.executable, "-c", code, "transliterate", str(src), "--strip-diacritics", "-o", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert "1\tكتاب\tكتاب\tNOUN" in text and "# text = كتاب جميل" in text


@pytest.mark.parametrize("scheme,needle", [("strip-diacritics:Latn", "valid: Arab, Cyrl, Hebr, Syrc"),
                                           ("strip-diacritics+", "empty part")])
def test_cli_bad_scheme_is_one_line(tmp_path, scheme, needle):
    src = tmp_path / "v.txt"
    src.write_text(VOCALISED + "\n", encoding="utf-8")
    code = "from adaptlang.cli.main import main; main()"
    res = subprocess.run([sys.executable, "-c", code, "transliterate", str(src), "-s", scheme, "-o", "-"],
                         capture_output=True, text=True)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode != 0 and len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr
