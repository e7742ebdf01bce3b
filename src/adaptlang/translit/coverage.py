"""What a scheme left untouched: letters in the output that are not in the scheme's target script.

A character no rule covers passes through unchanged, so leftovers in the output are exactly the letters the
scheme does not cover (applying the Uyghur table to Cyrillic text leaves every Cyrillic letter in place).
Counting is done once per distinct token and multiplied by its frequency, so it costs little on large corpora.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Callable, Mapping

from adaptlang.translit.scripts import COMMON, INHERITED, TARGET_SCRIPTS, char_script


class Coverage:
    """Accumulates, over tokens and their counts: input letters per script, output letters, leftovers."""

    def __init__(self, target_script: str) -> None:
        self.target_script = target_script
        # "*": the output keeps the input's script (strip-diacritics), so no letter is left over
        self._allowed = None if target_script == "*" else TARGET_SCRIPTS.get(target_script, frozenset({target_script}))
        self.in_scripts: Counter[str] = Counter()
        self.n_out_letters = 0
        self.uncovered: Counter[str] = Counter()
        self._per_token: dict[str, tuple[tuple[tuple[str, int], ...], int, tuple[tuple[str, int], ...]]] = {}

    def _token_stats(self, token: str, out: str) -> tuple[tuple[tuple[str, int], ...], int, tuple[tuple[str, int], ...]]:
        in_scripts: Counter[str] = Counter()
        for ch in token:
            s = char_script(ch)
            if s not in (COMMON, INHERITED):
                in_scripts[s] += 1
        n_letters = 0
        left: Counter[str] = Counter()
        for ch in out:
            s = char_script(ch)
            if s in (COMMON, INHERITED):
                continue
            n_letters += 1
            if self._allowed is not None and s not in self._allowed:
                left[ch] += 1
        return tuple(in_scripts.items()), n_letters, tuple(left.items())

    def add(self, token_counts: Mapping[str, int], convert: Callable[[str], str]) -> None:
        """Count ``token_counts`` (token -> occurrences); ``convert`` gives a token's transliteration."""
        per_token = self._per_token
        for token, n in token_counts.items():
            st = per_token.get(token)
            if st is None:
                st = self._token_stats(token, convert(token))
                if len(per_token) < 2_000_000:
                    per_token[token] = st
            for s, k in st[0]:
                self.in_scripts[s] += k * n
            self.n_out_letters += st[1] * n
            for ch, k in st[2]:
                self.uncovered[ch] += k * n

    def to_partial(self) -> dict[str, Any]:
        return {"in": dict(self.in_scripts), "n": self.n_out_letters, "left": dict(self.uncovered)}

    def merge(self, partial: Mapping[str, Any]) -> None:
        self.in_scripts.update(partial["in"])
        self.n_out_letters += partial["n"]
        self.uncovered.update(partial["left"])

    def reset_counts(self) -> None:
        self.in_scripts.clear()
        self.n_out_letters = 0
        self.uncovered.clear()

    @property
    def n_uncovered(self) -> int:
        return sum(self.uncovered.values())

    @property
    def uncovered_share(self) -> float:
        return self.n_uncovered / self.n_out_letters if self.n_out_letters else 0.0

    def top_uncovered(self, k: int = 10) -> list[dict[str, Any]]:
        return [
            {"char": ch, "codepoint": f"U+{ord(ch):04X}", "name": unicodedata.name(ch, "?"), "count": n,
             "script": char_script(ch)}
            for ch, n in self.uncovered.most_common(k)
        ]

    def input_script(self) -> str | None:
        return self.in_scripts.most_common(1)[0][0] if self.in_scripts else None
