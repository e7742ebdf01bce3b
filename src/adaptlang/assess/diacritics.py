"""Diacritised text in assess: how many letters carry optional marks, and what the marks cost the tokenizer.

Fully vocalised Arabic or pointed Hebrew splits into many more pieces than the unvocalised text models were
pretrained on (every mark is a piece of its own, often [UNK]), so the tokenizer metrics and the predicted category
are measured twice: with the marks and without them (``assess --strip-diacritics`` assesses the text without).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from adaptlang.assess.scripts import script_name
from adaptlang.assess.tokenizer import LoadedTokenizer, TokenizerMetrics, tokenizer_metrics
from adaptlang.translit.diacritics import MarkCount, count_marks, strip_diacritics

DIACRITISED_SHARE = 0.10  # share of a script's letters carrying an optional mark above which the text is diacritised


@dataclass(frozen=True)
class DiacriticsInfo:
    marks: tuple[MarkCount, ...]  # per script with optional marks, most marked letters first
    stripped: bool  # the assessment ran on the text without them (--strip-diacritics)
    with_marks: TokenizerMetrics | None = None  # computed when the text is diacritised or stripped
    without_marks: TokenizerMetrics | None = None

    @property
    def diacritised(self) -> bool:
        return bool(self.marks) and self.marks[0].marked_share >= DIACRITISED_SHARE

    def summary(self) -> str:
        """One line: how much of the text is marked and what the marks cost; "" when there is nothing to say."""
        if not self.marks or (not self.diacritised and not self.stripped):
            return ""
        m = self.marks[0]
        line = (f"{m.marked_share:.0%} of the {script_name(m.script)} letters carry optional "
                f"{m.to_dict()['marks']}")
        if self.with_marks and self.without_marks:
            line += (f"; fertility {self.with_marks.fertility:.2f} with them, {self.without_marks.fertility:.2f} "
                     f"without; words split into single characters {self.with_marks.char_split_word_rate:.0%} -> "
                     f"{self.without_marks.char_split_word_rate:.0%}")
        if self.stripped:
            return line + "; assessed without them (--strip-diacritics)"
        return line + "; models are pretrained mostly on text without them: rerun with --strip-diacritics, and " \
                      "strip them before training (adaptlang transliterate --strip-diacritics)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "diacritised": self.diacritised,
            "threshold": DIACRITISED_SHARE,
            "stripped": self.stripped,
            "scripts": [m.to_dict() for m in self.marks],
            "with_marks": self.with_marks.to_dict() if self.with_marks else None,
            "without_marks": self.without_marks.to_dict() if self.without_marks else None,
            "summary": self.summary(),
        }


def strip_counts(word_counts: Counter) -> Counter:
    """Word counts of the same sample without optional marks (a word made only of marks disappears)."""
    out: Counter = Counter()
    for word, n in word_counts.items():
        w = strip_diacritics(word)
        if w:
            out[w] += n
    return out


def assess_diacritics(tok: LoadedTokenizer, word_counts: Counter, strip: bool) -> tuple[DiacriticsInfo, Counter]:
    """The diacritics report of a sample, and the word counts the rest of the assessment should use (stripped
    when ``strip``). Tokenizer metrics with and without the marks are computed only when it matters."""
    marks = tuple(count_marks(word_counts))
    info = DiacriticsInfo(marks, strip)
    if not marks or not (info.diacritised or strip):
        return info, word_counts
    stripped = strip_counts(word_counts)
    info = DiacriticsInfo(marks, strip, tokenizer_metrics(tok, word_counts), tokenizer_metrics(tok, stripped))
    return info, stripped if strip else word_counts
