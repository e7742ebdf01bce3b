"""The Unicode Script property of characters as ISO 15924 codes (``Arab``, ``Cyrl``, ``Latn`` ...), and the dominant
script of a text.

The one place that says which script a character or a text is in: assess's script profiles, the transliteration
coverage report and scheme picking, and adapt's ``--translit latin`` all ask here, so Ol Chiki is ``Olck`` everywhere.
The source is the Unicode Character Database as shipped by fontTools, not hand-written ranges. Only letters (and
script-specific marks) count towards a text's script; digits, punctuation, symbols and generic marks do not.
Torch-free and cheap to import.

>>> dominant_script(["ᱥᱟᱱᱛᱟᱲᱤ 2024."])
'Olck'
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Iterable

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


def script_counts(text: str) -> Counter[str]:
    """Letters per script in ``text`` (digits, punctuation, symbols, spaces and generic marks are not counted)."""
    counts: Counter[str] = Counter()
    for ch, n in Counter(text).items():
        script = letter_script(ch)
        if script is not None:
            counts[script] += n
    return counts


def dominant_script(texts: Iterable[str] | str, max_chars: int = 2_000_000) -> str | None:
    """The script most letters of ``texts`` are written in (ISO 15924), or None when there are no letters.

    Reads texts until ``max_chars`` characters are seen (the script of a corpus shows in its first pages)."""
    if isinstance(texts, str):
        texts = [texts]
    counts: Counter[str] = Counter()
    seen = 0
    for text in texts:
        counts.update(script_counts(text))
        seen += len(text)
        if seen >= max_chars:
            break
    return counts.most_common(1)[0][0] if counts else None
