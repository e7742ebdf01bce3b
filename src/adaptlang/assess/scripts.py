"""Script profile of a corpus: which Unicode scripts its letters belong to, and which words mix scripts.

The script of a character is its Unicode Script property (ISO 15924 code), read from fontTools' copy of the Unicode
Character Database (``fontTools.unicodedata.script``), not from hand-written ranges. Only letters count: characters
of general category L* (letters) or M* (marks) whose script is a real script; ``Zyyy`` (Common: digits,
punctuation, symbols) and ``Zinh`` (Inherited: generic combining marks) are left out of the shares.

Streaming and fast: callers feed text in chunks; characters are counted with ``collections.Counter`` (C speed) and
only DISTINCT characters and words are classified.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adaptlang.scripts import letter_script, script_name

# Scripts written together as one writing system: a Japanese word mixing kanji and kana, or a Korean word with hanja,
# is not code-mixing.
_WRITING_SYSTEM = {"Hira": "CJK", "Kana": "CJK", "Hani": "CJK", "Hang": "CJK", "Bopo": "CJK"}

_MAX_WORD_CACHE = 200_000


def word_scripts(word: str) -> frozenset[str]:
    """The real scripts of a word's letters."""
    return frozenset(s for s in map(letter_script, set(word)) if s is not None)


def is_mixed_script(word: str) -> bool:
    """True if the word's letters come from two or more writing systems (``Hello``: no; ``Mосква`` with a Latin M:
    yes; Japanese kanji + kana: no)."""
    if word.isascii():
        return False
    systems = {_WRITING_SYSTEM.get(s, s) for s in word_scripts(word)}
    return len(systems) >= 2


@dataclass(frozen=True)
class ScriptShare:
    script: str  # ISO 15924 code
    name: str
    n_letters: int
    share: float  # of all letters

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "name": self.name, "n_letters": self.n_letters, "share": self.share}


@dataclass(frozen=True)
class ScriptProfile:
    """Letters per script over the whole corpus, and the words that mix scripts."""

    n_chars: int  # all characters except whitespace
    n_letters: int
    scripts: tuple[ScriptShare, ...]  # by decreasing share
    dominant_script: str | None
    n_words: int  # whitespace-separated words
    n_mixed_script_words: int
    mixed_script_word_share: float
    mixed_script_examples: tuple[str, ...]  # the most frequent mixed-script words
    letter_digit_word_share: float = 0.0  # words mixing letters and digits (Arabizi-style 3ayla, 7abibi)

    def share_of(self, script: str) -> float:
        return next((s.share for s in self.scripts if s.script == script), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_chars": self.n_chars,
            "n_letters": self.n_letters,
            "scripts": [s.to_dict() for s in self.scripts],
            "dominant_script": self.dominant_script,
            "dominant_script_name": script_name(self.dominant_script) if self.dominant_script else None,
            "n_words": self.n_words,
            "n_mixed_script_words": self.n_mixed_script_words,
            "mixed_script_word_share": self.mixed_script_word_share,
            "mixed_script_examples": list(self.mixed_script_examples),
            "letter_digit_word_share": self.letter_digit_word_share,
        }


@dataclass
class ScriptCounter:
    """Accumulates character and word statistics chunk by chunk in bounded memory.

    ``char_counts`` holds every distinct character (bounded by Unicode); words are counted per chunk and only their
    mixed-script verdicts are kept (a bounded cache of distinct words), so memory does not grow with the corpus.
    """

    char_counts: Counter = field(default_factory=Counter)
    n_words: int = 0
    n_mixed: int = 0
    n_letter_digit: int = 0
    mixed_counts: Counter = field(default_factory=Counter)
    _cache: dict[str, int] = field(default_factory=dict)  # word -> flags (1: mixed scripts, 2: letters + digits)

    def add(self, text: str) -> None:
        """Count one chunk of text (any number of lines joined by whitespace)."""
        self.char_counts.update(text)
        words = Counter(text.split())
        cache = self._cache
        if len(cache) > _MAX_WORD_CACHE:
            cache.clear()
        for word, n in words.items():
            self.n_words += n
            flags = cache.get(word)
            if flags is None:
                flags = cache[word] = word_flags(word)
            if flags & 1:
                self.n_mixed += n
                self.mixed_counts[word] += n
            if flags & 2:
                self.n_letter_digit += n
        if len(self.mixed_counts) > 10_000:  # keep the most frequent examples only
            self.mixed_counts = Counter(dict(self.mixed_counts.most_common(1_000)))

    def profile(self) -> ScriptProfile:
        return script_profile_from_counts(
            self.char_counts, self.n_words, self.n_mixed, self.mixed_counts, self.n_letter_digit
        )


def word_flags(word: str) -> int:
    """1 if the word mixes scripts, plus 2 if it mixes letters and digits (Arabizi writes ع ح ق as 3 7 9)."""
    flags = 1 if is_mixed_script(word) else 0
    if not word.isalpha() and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
        flags |= 2
    return flags


def script_profile_from_counts(
    char_counts: Counter, n_words: int, n_mixed: int, mixed_counts: Counter | None = None, n_letter_digit: int = 0
) -> ScriptProfile:
    by_script: Counter = Counter()
    n_chars = 0
    for ch, n in char_counts.items():
        if ch.isspace():
            continue
        n_chars += n
        script = letter_script(ch)
        if script is not None:
            by_script[script] += n
    n_letters = sum(by_script.values())
    shares = tuple(
        ScriptShare(s, script_name(s), n, n / n_letters) for s, n in sorted(by_script.items(), key=lambda kv: -kv[1])
    )
    examples = tuple(w for w, _ in (mixed_counts or Counter()).most_common(5))
    return ScriptProfile(
        n_chars=n_chars,
        n_letters=n_letters,
        scripts=shares,
        dominant_script=shares[0].script if shares else None,
        n_words=n_words,
        n_mixed_script_words=n_mixed,
        mixed_script_word_share=n_mixed / n_words if n_words else 0.0,
        mixed_script_examples=examples,
        letter_digit_word_share=n_letter_digit / n_words if n_words else 0.0,
    )


def script_profile(text: str) -> ScriptProfile:
    """Profile of one string (convenience for small inputs and tests)."""
    counter = ScriptCounter()
    counter.add(text)
    return counter.profile()
