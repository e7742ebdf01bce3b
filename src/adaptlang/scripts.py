"""The Unicode Script property of characters as ISO 15924 codes (``Arab``, ``Cyrl``, ``Latn`` ...).

One source for every module that asks which script a character is in (assess's script profiles, the
transliteration coverage report, script detection): the Unicode Character Database as shipped by fontTools, not
hand-written ranges. Torch-free and cheap to import.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from fontTools import unicodedata as ucd

COMMON = "Zyyy"  # digits, punctuation, symbols, spaces, modifier letters such as U+02BC
INHERITED = "Zinh"  # combining marks that take the script of their base letter
UNKNOWN = "Zzzz"
NON_SCRIPTS = frozenset({COMMON, INHERITED, UNKNOWN})


@lru_cache(maxsize=None)
def char_script(ch: str) -> str:
    """ISO 15924 code of ``ch``'s Unicode Script property (``Zyyy`` Common, ``Zinh`` Inherited, ``Zzzz`` unknown)."""
    return ucd.script(ch)


@lru_cache(maxsize=None)
def letter_script(ch: str) -> str | None:
    """The script of ``ch`` if it is a letter (or a script-specific mark) of a real script, else None."""
    if unicodedata.category(ch)[0] not in "LM":
        return None
    script = char_script(ch)
    return None if script in NON_SCRIPTS else script


def script_name(code: str) -> str:
    """English name of an ISO 15924 code (``Arab`` -> ``Arabic``)."""
    try:
        return ucd.script_name(code)
    except KeyError:
        return code
