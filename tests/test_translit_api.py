"""The library API other components build on: scheme names, registry errors, scheme picking."""

from __future__ import annotations

import pytest

from adaptlang.errors import UsageError
from adaptlang.translit import get_transliterator, list_schemes, pick_scheme


def test_table_name_round_trips_through_registry():
    t = get_transliterator("table:ug-uly", lang="ug")
    assert t.name == "table:ug-uly"
    assert t.target_script == "Latn"
    assert get_transliterator(t.name).transliterate("ئۇيغۇر") == "uyghur"


def test_unknown_scheme_lists_valid_names():
    with pytest.raises(UsageError) as e:
        get_transliterator("table:nope")
    assert "table:ug-uly" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UsageError, match="uroman"):
        get_transliterator("klingon")


def test_list_schemes_has_every_backend():
    schemes = list_schemes()
    backends = {s.backend for s in schemes}
    assert backends == {"table", "uroman", "epitran", "strip-diacritics"}
    d = schemes[0].to_dict()
    assert {"name", "source_script", "target_script", "languages", "reference", "reversible"} <= set(d)


def test_pick_scheme_prefers_language_table_then_uroman():
    assert pick_scheme("Arab", "ug") == "table:ug-uly"
    assert pick_scheme("Arab", "uig") == "table:ug-uly"
    assert pick_scheme("Latn", "tr") is None
    assert pick_scheme("Thai", "th") == "uroman:tha"
    assert pick_scheme("Thai", None) == "uroman"


def test_uroman_gets_the_language_code():
    t = get_transliterator("uroman", lang="ug")
    assert t.name == "uroman:uig"
    # Without the language code uroman reads the hamza carrier and vowels wrongly ("yeuyghurtchae").
    assert t.transliterate("ئۇيغۇرچە تىل") == "uyghurche til"
    assert get_transliterator("uroman:uig").transliterate("ئۇيغۇرچە") == "uyghurche"
    with pytest.raises(UsageError):
        get_transliterator("uroman:zz")


def test_epitran_outputs_ipa():
    t = get_transliterator("epitran:uig-Arab")
    assert t.target_script == "IPA"
    assert t.transliterate("تىل") == "til"
    with pytest.raises(UsageError, match="uig-Arab"):
        get_transliterator("epitran:xx-Yyyy")
