"""Unicode script of characters and texts, as ISO 15924 codes (``Arab``, ``Cyrl``, ``Latn`` ...).

Derived from Unicode character names so it needs no data files; good enough to tell which script a corpus is
written in and which output characters a scheme left outside its target script.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Iterable

# First word(s) of a Unicode character name -> ISO 15924 code.
_NAME_PREFIX_TO_SCRIPT: dict[str, str] = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "ARABIC": "Arab", "GEORGIAN": "Geor", "GREEK": "Grek",
    "ARMENIAN": "Armn", "HEBREW": "Hebr", "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru",
    "GUJARATI": "Gujr", "ORIYA": "Orya", "TAMIL": "Taml", "TELUGU": "Telu", "KANNADA": "Knda",
    "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai", "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr",
    "KHMER": "Khmr", "MONGOLIAN": "Mong", "ETHIOPIC": "Ethi", "SYRIAC": "Syrc", "THAANA": "Thaa", "NKO": "Nkoo",
    "TIFINAGH": "Tfng", "CHEROKEE": "Cher", "HANGUL": "Hang", "HIRAGANA": "Hira", "KATAKANA": "Kana",
    "CJK": "Hani", "BOPOMOFO": "Bopo", "CANADIAN": "Cans", "OGHAM": "Ogam", "RUNIC": "Runr", "GOTHIC": "Goth",
    "COPTIC": "Copt", "GLAGOLITIC": "Glag", "VAI": "Vaii", "JAVANESE": "Java", "BALINESE": "Bali",
    "SUNDANESE": "Sund", "TAI": "Tavt", "OL": "Olck", "ADLAM": "Adlm", "MODIFIER": "Latn",
}

# Scripts whose letters count as "in the target script" for each target; IPA output uses Latin letters, IPA
# extensions (Latin in Unicode), a few Greek letters and modifier letters.
TARGET_SCRIPTS: dict[str, frozenset[str]] = {
    "Latn": frozenset({"Latn"}),
    "Cyrl": frozenset({"Cyrl"}),
    "Arab": frozenset({"Arab"}),
    "Geor": frozenset({"Geor"}),
    "IPA": frozenset({"Latn", "Grek"}),
}

COMMON = "Zyyy"  # digits, punctuation, symbols, spaces
INHERITED = "Zinh"  # combining marks that take the script of their base letter


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str:
    """ISO 15924 code of one character; ``Zyyy`` for non-letters, ``Zinh`` for combining marks, ``Zzzz`` unknown."""
    cat = unicodedata.category(ch)
    if cat[0] == "M":
        name = unicodedata.name(ch, "")
        # Script-specific marks (Arabic harakat, Devanagari vowel signs) belong to their script.
        first = name.split(" ", 1)[0]
        return _NAME_PREFIX_TO_SCRIPT.get(first, INHERITED) if first != "COMBINING" else INHERITED
    if cat[0] != "L":
        return COMMON
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in _NAME_PREFIX_TO_SCRIPT:
        return _NAME_PREFIX_TO_SCRIPT[first]
    if "IDEOGRAPH" in name:
        return "Hani"
    return "Zzzz"


def is_letter(ch: str) -> bool:
    """Letters and combining marks: the characters that make up words for context rules and coverage."""
    return unicodedata.category(ch)[0] in "LM"


def script_counts(text: str) -> Counter[str]:
    """Letters per script in ``text`` (marks, digits, punctuation and spaces are not counted)."""
    counts: Counter[str] = Counter()
    for ch, n in Counter(text).items():
        s = char_script(ch)
        if s not in (COMMON, INHERITED):
            counts[s] += n
    return counts


def dominant_script(texts: Iterable[str] | str, max_chars: int = 2_000_000) -> str | None:
    """The script most letters of ``texts`` are written in (ISO 15924), or None when there are no letters."""
    if isinstance(texts, str):
        texts = [texts]
    counts: Counter[str] = Counter()
    seen = 0
    for t in texts:
        counts.update(script_counts(t))
        seen += len(t)
        if seen >= max_chars:
            break
    if not counts:
        return None
    return counts.most_common(1)[0][0]


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
    for code in set(_NAME_PREFIX_TO_SCRIPT.values()) | {"IPA"}:
        if code.lower() == key:
            return code
    raise UsageError(f"unknown target script {name!r}; use one of {', '.join(_SCRIPT_ALIASES)} "
                     "or an ISO 15924 code such as Latn, Cyrl, Arab")
