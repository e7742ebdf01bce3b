"""--lang: one check for every command, and macrolanguage members matched to the pretraining lists' codes."""

from __future__ import annotations

import shlex

import pytest

from adaptlang.assess.languages import language_knowledge, normalize_lang, scripts_in_model
from adaptlang.errors import UsageError
from adaptlang.langs import check_lang, same_language


@pytest.mark.parametrize("code,expected", [("ug", "ug"), ("uig", "ug"), ("EN", "en"), ("en_US", "en"),
                                           ("arb", "arb"), ("tl", "fil"), ("gsw", "gsw")])
def test_check_lang_standard_form(code, expected):
    assert check_lang(code) == expected


@pytest.mark.parametrize("code", ["zzz", "xx", "und", "", "a b", "12"])
def test_check_lang_rejects_unknown_codes_in_one_line(code):
    with pytest.raises(UsageError) as e:
        check_lang(code)
    assert "--lang" in str(e.value) and "\n" not in str(e.value)


def test_same_language_follows_macrolanguages_not_relatives():
    assert same_language("arb", "ar") and same_language("zsm", "ms") and same_language("pes", "fa")
    assert same_language("nb", "no") and same_language("cmn", "zh") and same_language("tl", "fil")
    # distinct members of a macrolanguage, and mere relatives, stay apart
    assert not same_language("apc", "ar") and not same_language("yue", "zh") and not same_language("ckb", "ku")
    assert not same_language("gsw", "de")


def test_member_codes_map_to_the_pretraining_lists():
    assert normalize_lang("arb") == "ar" and normalize_lang("uig") == "ug" and normalize_lang("mhr") == "mhr"
    assert scripts_in_model("arb", "mbert") == ("Arab",)
    assert scripts_in_model("zsm", "xlmr") == ("Latn",)
    assert scripts_in_model("nb", "xlmr") == ("Latn",)
    assert scripts_in_model("apc", "mbert") == ()


def test_arb_gets_the_knowledge_of_ar():
    ar = language_knowledge(normalize_lang("ar"), "mbert")
    arb = language_knowledge(normalize_lang("arb"), "mbert")
    assert arb == ar and arb.in_model


def test_assess_prediction_same_for_arb_and_ar(tmp_path):
    from adaptlang.assess import assess_corpus

    p = tmp_path / "ar.txt"
    p.write_text("مرحبا بالعالم\nهذه جملة قصيرة باللغة العربية\n" * 5, encoding="utf-8")
    ar = assess_corpus(p, lang="ar", translit="none")
    arb = assess_corpus(p, lang="arb", translit="none")
    assert arb.language.lang == "ar"
    assert arb.prediction.to_dict() == ar.prediction.to_dict()
    with pytest.raises(UsageError, match="--lang 'zzz'"):
        assess_corpus(p, lang="zzz")


def test_recommendation_without_model_names_a_placeholder(tmp_path):
    from adaptlang.assess import assess_corpus

    p = tmp_path / "my corpus.txt"
    p.write_text("qanday yaxshi kün\nbu bir jümle\n" * 5, encoding="utf-8")
    rec = assess_corpus(p, translit="none").recommendation
    argv = shlex.split(rec.command)
    assert argv[argv.index("--model") + 1] == "MBERT_DIR" and "MBERT_DIR" in rec.explanation
    assert "bert-base-multilingual-cased" not in argv
    if argv[1] == "adapt":
        assert argv[2] == str(p)  # the path with a space survives the shell as one argument


def test_cli_rejects_unknown_lang_everywhere(tmp_path, run_cli):
    p = tmp_path / "c.txt"
    p.write_text("salam dunya\nyaxshi kün\n", encoding="utf-8")
    for args in (["assess", str(p)], ["adapt", str(p), "--model", "m", "-o", str(tmp_path / "o")],
                 ["transliterate", str(p), "-o", str(tmp_path / "t.txt"), "--to", "latin"]):
        r = run_cli(*args, "--lang", "zzz")
        assert r.returncode == 2, (args, r.stderr)
        assert "--lang 'zzz'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "t.txt").exists()
