"""Script helpers for transliteration: which letters a scheme left outside its target script, and script names
accepted on the command line. The script of a character and the dominant script of a text come from
:mod:`adaptlang.scripts` (re-exported here), the one script detector of the project.
"""

from __future__ import annotations

import unicodedata

from adaptlang.scripts import COMMON, INHERITED, char_script, dominant_script, script_counts

__all__ = ["TARGET_SCRIPTS", "char_script", "dominant_script", "in_target", "is_letter", "normalize_script",
           "script_counts"]

# Scripts whose letters count as "in the target script" for each target; IPA output uses Latin letters, IPA
# extensions (Latin in Unicode), a few Greek letters and modifier letters.
TARGET_SCRIPTS: dict[str, frozenset[str]] = {
    "Latn": frozenset({"Latn"}),
    "Cyrl": frozenset({"Cyrl"}),
    "Arab": frozenset({"Arab"}),
    "Geor": frozenset({"Geor"}),
    "IPA": frozenset({"Latn", "Grek"}),
}


def is_letter(ch: str) -> bool:
    """Letters and combining marks: the characters that make up words for context rules and coverage."""
    return unicodedata.category(ch)[0] in "LM"


def in_target(ch: str, target_script: str) -> bool:
    """True when ``ch`` is not a letter or is a letter of ``target_script`` (so not a leftover)."""
    s = char_script(ch)
    if s in (COMMON, INHERITED):
        return True
    allowed = TARGET_SCRIPTS.get(target_script, frozenset({target_script}))
    return s in allowed


_SCRIPT_ALIASES = {"latin": "Latn", "cyrillic": "Cyrl", "arabic": "Arab", "georgian": "Geor", "ipa": "IPA"}


def normalize_script(name: str) -> str:
    """``latin`` / ``Latn`` / ``latn`` -> ``Latn``; unknown names raise UsageError listing the accepted ones."""
    from adaptlang.errors import UsageError

    key = name.strip().lower()
    if key in _SCRIPT_ALIASES:
        return _SCRIPT_ALIASES[key]
    if key == "ipa":
        return "IPA"
    if len(key) == 4 and key.isalpha():
        from fontTools import unicodedata as ucd

        code = key.title()
        try:
            ucd.script_name(code)
        except KeyError:
            pass
        else:
            return code
    raise UsageError(f"unknown target script {name!r}; use one of {', '.join(_SCRIPT_ALIASES)} "
                     "or an ISO 15924 code such as Latn, Cyrl, Arab")
