"""Table variants (``# extends: <table>``) and the schemes the assess what-if measures."""

from __future__ import annotations

import pytest

from adaptlang.assess.tokenizer import load_tokenizer
from adaptlang.errors import InputError
from adaptlang.translit.base import candidate_schemes
from adaptlang.translit.table import TableTransliterator, load_tables

BASE = """# name: base
# source_script: Cyrl
# target_script: Latn
# reference: a test table
# reversible: no
# vowels: а
source\ttarget\tcontext
а\ta
б\tb
ь\tʹ
ь\t\tfinal
"""
VARIANT = """# name: base-plain
# source_script: Cyrl
# target_script: Latn
# reference: a test variant
# reversible: no
# extends: base
source\ttarget\tcontext
ь\t'
"""


def _tables(tmp_path, monkeypatch, files):
    for name, text in files.items():
        (tmp_path / f"{name}.tsv").write_text(text, encoding="utf-8")
    monkeypatch.setenv("ADAPTLANG_TRANSLIT_TABLES", str(tmp_path))
    return load_tables()


def test_variant_replaces_only_its_rules(tmp_path, monkeypatch):
    tables = _tables(tmp_path, monkeypatch, {"base": BASE, "base-plain": VARIANT})
    v = tables["base-plain"]
    assert v.info.variant_of == "table:base" and tables["base"].info.variant_of == ""
    assert v.vowels == frozenset("а")  # inherited: the variant lists none
    t = TableTransliterator(v)
    # the context-free ь is redefined; the base's word-final rule (another context) is kept
    assert t.transliterate("бьа бь аб") == "b'a b ab"
    assert TableTransliterator(tables["base"]).transliterate("бьа") == "bʹa"


@pytest.mark.parametrize("extends,why", [("nope", "is not a table here"), ("base-plain", "is itself a variant")])
def test_variant_of_a_missing_table_or_a_variant_is_an_error(tmp_path, monkeypatch, extends, why):
    bad = VARIANT.replace("# name: base-plain", "# name: other").replace("# extends: base", f"# extends: {extends}")
    with pytest.raises(InputError, match=why) as e:
        _tables(tmp_path, monkeypatch, {"base": BASE, "base-plain": VARIANT, "other": bad})
    assert "other.tsv" in str(e.value)


def test_candidate_schemes_list_the_preferred_table_the_generic_one_and_their_variants():
    assert candidate_schemes("Cyrl", "kpv") == ["table:cyrl-iso9", "table:cyrl-iso9-plain"]
    assert candidate_schemes("Arab", "sd") == ["table:sd-turner", "table:sd-turner-plain", "table:ar-alalc"]
    assert candidate_schemes("Arab", None) == ["table:ar-alalc"]
    assert candidate_schemes("Latn", "en") == []


@pytest.mark.parametrize("name", ["cyrl-iso9-plain", "sd-turner-plain"])
def test_plain_variants_write_only_what_the_mbert_vocabulary_knows(name):
    """The point of a plain variant: no output letter is unknown to the (embedded) mBERT vocabulary."""
    tok = load_tokenizer(None)
    t = TableTransliterator(load_tables()[name])
    cased = t.table.case == "auto"  # upper-case forms are written only by tables with case: auto
    outs = sorted({o for r in t.table.rules for o in (r.target, r.target[:1].upper() + r.target[1:] if cased else "")
                   if o})
    unknown = [o for o in outs if tok.unk_id in tok.backend.encode(o, add_special_tokens=False).ids]
    assert not unknown, unknown
