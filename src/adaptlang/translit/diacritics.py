"""Optional diacritics: the combining marks a script may write or leave out (Arabic harakat, Hebrew niqqud, ...).

Most text in these scripts is written without them, and so is the text multilingual models were pretrained on;
fully vocalised text (Quran, poetry, children's books, some treebanks) splits into many more pieces. Stripping
the marks gives the everyday spelling back:

>>> strip_diacritics("اَلأَمِيرِكِيِّينَ")
'الأميركيين'
>>> strip_diacritics("שָׁלוֹם", script="Hebr")
'שלום'

The marks that are part of a letter are kept: the maddah and hamza above/below of Arabic (آ, أ decomposed), the
Cyrillic breve and diaeresis (й, ё), and every Latin diacritic (é is a letter of its own in the languages that use
it). ``strip-diacritics`` is also a scheme (:func:`adaptlang.translit.get_transliterator`), alone or chained
before another (``strip-diacritics+table:ar-alalc``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from adaptlang.errors import UsageError
from adaptlang.translit.base import SchemeInfo, WordCachedTransliterator, register_backend

# script -> character class of the marks it writes optionally, and which marks they are (for messages).
OPTIONAL_MARKS: dict[str, tuple[str, str]] = {
    # Quranic honorific signs, tanwin, fatha, damma, kasra, shadda, sukun, other vowel signs, superscript
    # (dagger) alif, Quranic annotation signs; not the maddah or hamza above/below (U+0653-0655), parts of letters.
    "Arab": ("\u0610-\u061A\u064B-\u0652\u0656-\u065F\u0670\u06D6-\u06DC\u06DF-\u06E4\u06E7\u06E8\u06EA-\u06ED",
             "harakat (vowel marks, shadda, sukun, tanwin)"),
    # cantillation marks, niqqud (vowel points, dagesh, rafe), the shin and sin dots.
    "Hebr": ("\u0591-\u05BD\u05BF\u05C1\u05C2\u05C4\u05C5\u05C7", "niqqud (vowel points, dagesh, shin/sin dots)"),
    "Syrc": ("\u0730-\u074A", "vowel and other marks"),
    # the stress mark of dictionaries and textbooks, only after a Cyrillic letter (it is part of Latin letters).
    "Cyrl": ("\u0301", "stress marks"),
}
_LETTERS = {"Arab": "\u0620-\u064A\u066E-\u06D3\u06D5\u06EE-\u06FF", "Hebr": "\u05D0-\u05EA\u05EF-\u05F2",
            "Syrc": "\u0710-\u072F\u074D-\u074F", "Cyrl": "\u0400-\u04FF\u0500-\u052F"}


def diacritic_scripts() -> list[str]:
    return sorted(OPTIONAL_MARKS)


@lru_cache(maxsize=None)
def _pattern(script: str | None) -> re.Pattern[str]:
    scripts = diacritic_scripts() if script is None else [script]
    parts = []
    for s in scripts:
        marks = OPTIONAL_MARKS[s][0]
        # a mark counts only after a letter of its script, or after another such mark
        parts.append(f"(?<=[{_LETTERS[s]}{marks}])[{marks}]+" if s == "Cyrl" else f"[{marks}]+")
    return re.compile("|".join(parts))


def _check_script(script: str | None) -> None:
    if script is not None and script not in OPTIONAL_MARKS:
        raise UsageError(f"no optional diacritics known for script {script!r}; valid: {', '.join(diacritic_scripts())}")


def strip_diacritics(text: str, script: str | None = None) -> str:
    """``text`` without the optional marks of ``script`` (ISO 15924: Arab, Hebr, Syrc, Cyrl), or of every script
    in :data:`OPTIONAL_MARKS` when None. Everything else is kept as it is."""
    _check_script(script)
    return _pattern(script).sub("", text)


@dataclass(frozen=True)
class MarkCount:
    """How many letters of one script carry an optional mark, over words weighted by their counts."""

    script: str
    n_letters: int
    n_marked: int  # letters followed by at least one optional mark
    n_marks: int

    @property
    def marked_share(self) -> float:
        return self.n_marked / self.n_letters if self.n_letters else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "n_letters": self.n_letters, "n_marked": self.n_marked,
                "n_marks": self.n_marks, "marked_share": self.marked_share, "marks": OPTIONAL_MARKS[self.script][1]}


def count_marks(word_counts: Mapping[str, int]) -> list[MarkCount]:
    """Letters and optionally marked letters per script (most marked letters first; scripts without marks left
    out)."""
    letters = {s: re.compile(f"[{chars}]") for s, chars in _LETTERS.items()}
    marked = {s: re.compile(f"[{_LETTERS[s]}][{OPTIONAL_MARKS[s][0]}]") for s in _LETTERS}
    marks = {s: re.compile(f"[{OPTIONAL_MARKS[s][0]}]") for s in _LETTERS}
    totals: dict[str, Counter] = {s: Counter() for s in _LETTERS}
    for word, n in word_counts.items():
        if word.isascii():
            continue
        for s in _LETTERS:
            n_letters = len(letters[s].findall(word))
            if n_letters:
                totals[s]["letters"] += n_letters * n
                totals[s]["marked"] += len(marked[s].findall(word)) * n
                totals[s]["marks"] += len(marks[s].findall(word)) * n
    out = [MarkCount(s, c["letters"], c["marked"], c["marks"]) for s, c in totals.items() if c["marked"]]
    return sorted(out, key=lambda m: -m.n_marked)


class DiacriticStripper(WordCachedTransliterator):
    """The ``strip-diacritics[:<script>]`` scheme: removes the optional marks and changes nothing else."""

    def __init__(self, script: str | None = None) -> None:
        super().__init__()
        _check_script(script)
        self._script = script
        self.name = "strip-diacritics" + (f":{script}" if script else "")
        self.target_script = "*"  # the input's own script
        self.info = SchemeInfo(
            name=self.name, backend="strip-diacritics", source_script=script or "*", target_script="*",
            reference="the optional marks listed in adaptlang.translit.diacritics.OPTIONAL_MARKS",
            description="remove optional diacritics (Arabic harakat, Hebrew niqqud, Syriac vowels, Cyrillic "
                        "stress marks); chain before another scheme with +, e.g. strip-diacritics+table:ar-alalc",
        )

    def _convert(self, token: str) -> str:
        return _pattern(self._script).sub("", token)


def _make(arg: str | None, lang: str | None) -> DiacriticStripper:
    return DiacriticStripper(arg)


def _list() -> list[SchemeInfo]:
    return [DiacriticStripper().info]


register_backend("strip-diacritics", _make, _list, needs_argument=False,
                 usage="strip-diacritics or strip-diacritics:<script> (" + ", ".join(diacritic_scripts()) + ")")
