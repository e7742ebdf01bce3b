"""CoNLL-U transliteration: only FORM, LEMMA and # text change; originals stay recoverable; the UD validator
(level 2) accepts the output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.errors import InputError
from adaptlang.translit.conllu import unescape_misc
from adaptlang.translit.corpus import transliterate_file

# Multiword token (2-3), empty node (3.1), SpaceAfter=No, a comment the tool must not touch, existing MISC.
SAMPLE = """# newdoc id = d1
# sent_id = s1
# text = ئۇ كىتابنى ئوقۇدى، ماڭا بەردى.
# note = kept as is
1	ئۇ	ئۇ	PRON	P	Case=Nom	4	nsubj	4:nsubj	_
2-3	كىتابنى	_	_	_	_	_	_	_	_
2	كىتاب	كىتاب	NOUN	N	Case=Acc	4	obj	4:obj	Gloss=book
3	نى	نى	ADP	N	_	2	case	2:case	_
3.1	ئوقۇ	ئوقۇ	VERB	V	_	_	_	4:conj	_
4	ئوقۇدى	ئوقۇ	VERB	V	Tense=Past	0	root	0:root	SpaceAfter=No
5	،	،	PUNCT	Y	_	4	punct	4:punct	_
6	ماڭا	مەن	PRON	P	Case=Dat	7	obl	7:obl	_
7	بەردى	بەر	VERB	V	_	4	conj	4:conj	SpaceAfter=No
8	.	.	PUNCT	Y	_	4	punct	4:punct	_

"""


def _run(tmp_path: Path, scheme: str = "table:ug-uly", content: str = SAMPLE,
         name: str = "out") -> tuple[list[str], list[str], dict]:
    src = tmp_path / "in.conllu"
    src.write_text(content, encoding="utf-8")
    out = tmp_path / f"{name}.conllu"
    report = transliterate_file(str(src), str(out), scheme)
    return content.splitlines(), out.read_text(encoding="utf-8").splitlines(), report.to_dict()


def test_only_form_lemma_and_text_change(tmp_path):
    before, after, report = _run(tmp_path)
    assert report["format"] == "conllu"
    assert report["conllu"]["n_sentences"] == 1 and report["conllu"]["n_words"] == 8
    comments_before = [x for x in before if x.startswith("#") and not x.startswith("# text =")]
    comments_after = [x for x in after if x.startswith("#") and not x.startswith(("# text =", "# orig_text ="))]
    assert comments_before == comments_after
    rows_before = [x.split("\t") for x in before if x and not x.startswith("#")]
    rows_after = [x.split("\t") for x in after if x and not x.startswith("#")]
    assert len(rows_before) == len(rows_after)
    for b, a in zip(rows_before, rows_after):
        assert a[0] == b[0] and a[3:9] == b[3:9]  # ID, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS untouched
        assert all(attr in a[9].split("|") for attr in b[9].split("|") if b[9] != "_")
        misc = dict(x.split("=", 1) for x in a[9].split("|")) if a[9] != "_" else {}
        if a[1] != b[1]:
            assert unescape_misc(misc["OrigForm"]) == b[1]
        if a[2] != b[2]:
            assert unescape_misc(misc["OrigLemma"]) == b[2]
    forms = {r[0]: r[1] for r in rows_after}
    assert forms["2-3"] == "kitabni" and forms["3.1"] == "oqu" and forms["5"] == ","
    assert "# text = u kitabni oqudi, manga berdi." in after
    assert "# orig_text = ئۇ كىتابنى ئوقۇدى، ماڭا بەردى." in after


def test_twice_keeps_the_first_originals(tmp_path):
    _, first, _ = _run(tmp_path)
    _, second, _ = _run(tmp_path, "table:ug-uly", "\n".join(first) + "\n", name="second")
    assert second == first


def test_text_line_that_disagrees_with_forms_is_transliterated_directly(tmp_path):
    content = SAMPLE.replace("# text = ئۇ كىتابنى", "# text = ئۇ  كىتابنى")
    _, after, report = _run(tmp_path, content=content)
    assert report["conllu"]["n_text_direct"] == 1
    assert "# text = u  kitabni oqudi, manga berdi." in after


def test_bad_column_count_names_the_line(tmp_path):
    bad = SAMPLE.replace("6\tماڭا\tمەن\tPRON", "6\tماڭا\tمەن PRON")
    with pytest.raises(InputError, match=r"in.conllu:12: expected 10 tab-separated"):
        _run(tmp_path, content=bad)
    assert not (tmp_path / "out.conllu").exists()


def udvalidate(path: Path, lang: str = "ud") -> subprocess.CompletedProcess:
    code = "import sys; from udtools.cli import main; sys.argv[0] = 'udvalidate'; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, "--lang", lang, "--level", "2", str(path)],
                          capture_output=True, text=True)


def test_sample_passes_udvalidate_level2(tmp_path):
    pytest.importorskip("udtools")
    _run(tmp_path)
    res = udvalidate(tmp_path / "out.conllu")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("treebank,file,scheme", [
    ("UD_Uyghur-UDT", "ug_udt-ud-dev.conllu", "table:ug-uly"),
    pytest.param("UD_Uyghur-UDT", "ug_udt-ud-dev.conllu", "table:ug-turkish", marks=pytest.mark.slow),
    pytest.param("UD_Erzya-JR", "myv_jr-ud-test.conllu", "table:cyrl-iso9", marks=pytest.mark.slow),
    pytest.param("UD_Buryat-BDT", "bxr_bdt-ud-test.conllu", "table:cyrl-iso9", marks=pytest.mark.slow),
])
def test_real_treebanks_stay_valid(shared_ud, tmp_path, treebank, file, scheme):
    pytest.importorskip("udtools")
    out = tmp_path / "out.conllu"
    report = transliterate_file(str(shared_ud / treebank / file), str(out), scheme)
    assert report.uncovered_share < 0.001, report.top_uncovered
    assert report.conllu["n_text_direct"] == 0
    res = udvalidate(out)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
