"""The one reading of --translit: sentinels, scheme names, latin and auto."""

from __future__ import annotations

import pytest

from adaptlang.errors import UsageError
from adaptlang.translit.choice import Resolved, TranslitChoice, resolve_translit


@pytest.mark.parametrize("value", [None, "", "  ", "none", "None", "NONE"])
def test_none_sentinels(value):
    r = resolve_translit(value, script="Arab", lang="ug")
    assert r == Resolved(None, "not requested (--translit none)")
    assert TranslitChoice.parse(value).value is None


@pytest.mark.parametrize("value", ["latin", "Latin", "latn", "Latn"])
def test_latin_picks_the_language_table(value):
    r = resolve_translit(value, script="Arab", lang="ug")
    assert r.scheme == "table:ug-uly"
    assert r.reason == "table:ug-uly (--translit latin, for Arab script)"
    assert TranslitChoice.parse(value).value == "latin"


def test_latin_on_latin_text_is_nothing():
    r = resolve_translit("latin", script="Latn", lang="wo")
    assert r.scheme is None and "already in Latin script" in r.reason
    assert resolve_translit("latin", script=None, lang=None).scheme is None


def test_latin_without_language_table_falls_back_to_a_generic_scheme():
    assert resolve_translit("latin", script="Cyrl", lang="myv").scheme == "table:cyrl-iso9"
    assert resolve_translit("latin", script="Olck", lang=None).scheme == "uroman"


def test_scheme_name_is_checked_and_made_canonical():
    r = resolve_translit("uroman", script=None, lang="ug")
    assert r == Resolved("uroman:uig", "uroman:uig (asked with --translit)")
    assert resolve_translit(" table:ug-uly ", script="Arab", lang=None).scheme == "table:ug-uly"


def test_unknown_scheme_lists_valid_names_and_sentinels():
    with pytest.raises(UsageError) as e:
        resolve_translit("bogus", script="Arab", lang=None)
    message = str(e.value)
    assert "bogus" in message and "table:ug-uly" in message and "none, auto, latin" in message
    assert "\n" not in message


def test_auto_follows_the_what_if():
    helps = {"scheme": "table:ug-uly", "helps": True}
    assert resolve_translit("auto", script="Arab", lang="ug", what_if=helps).scheme == "table:ug-uly"
    no_help = resolve_translit("auto", script="Arab", lang="ug", what_if={"scheme": "uroman", "helps": False})
    assert no_help.scheme is None and "does not help" in no_help.reason
    needless = resolve_translit("auto", script="Latn", lang="wo", what_if={"scheme": None, "note": "Latin already"})
    assert needless == Resolved(None, "not run: assess needs none (Latin already)")
    assert resolve_translit("auto", script="Arab", lang=None).scheme is None


def test_parse_keeps_scheme_spelling():
    assert TranslitChoice.parse("table:cyrl-iso9:reverse") == TranslitChoice("scheme", "table:cyrl-iso9:reverse")
    assert TranslitChoice.parse("AUTO").kind == "auto"


def test_recorded_scheme_takes_names_only():
    from adaptlang.translit.choice import recorded_scheme

    assert recorded_scheme(None) is None and recorded_scheme("none") is None
    assert recorded_scheme("table:ug-uly") == "table:ug-uly"
    for value in ("latin", "auto"):
        with pytest.raises(UsageError, match="scheme name"):
            recorded_scheme(value)
