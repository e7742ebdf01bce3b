"""Word and character vocabularies for the from-scratch BiLSTM word encoder (``adaptlang baseline``).

A :class:`Lexicon` maps word forms to ids for a trained word embedding (frequent training words only; the rest share
the unknown token, which word dropout also teaches the model to use) and characters to ids for the character model.
It optionally carries a second word list, the vocabulary of embeddings trained on a raw corpus, so that words never
seen in the treebank still get a vector. It is plain data (JSON via :meth:`Lexicon.to_dict`), stored in a model's
config so that a saved model maps text to ids exactly as it did in training. Torch-free.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from adaptlang.errors import ModelError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
# Character specials: padding, unknown character, and the word-boundary markers that let the character model tell
# a prefix from a suffix.
BOW, EOW = "<w>", "</w>"
BOW_ID, EOW_ID = 2, 3
WORD_SPECIALS = (PAD, UNK)
CHAR_SPECIALS = (PAD, UNK, BOW, EOW)


def normalize_word(form: str, lowercase: bool) -> str:
    """The key a form is looked up under: NFC, optionally lowercased (case is still seen by the character model)."""
    form = unicodedata.normalize("NFC", form)
    return form.lower() if lowercase else form


@dataclass(frozen=True)
class Lexicon:
    """Word and character vocabularies; ids 0 and 1 are padding and unknown in every table."""

    words: tuple[str, ...]
    chars: tuple[str, ...]
    lowercase: bool = True
    max_word_chars: int = 30
    # Vocabulary of the corpus-trained embeddings (same normalisation), empty when none were given.
    pretrained_words: tuple[str, ...] = ()
    _word_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _char_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _pre_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.words[: len(WORD_SPECIALS)] != WORD_SPECIALS or self.chars[: len(CHAR_SPECIALS)] != CHAR_SPECIALS:
            raise ModelError("lexicon: the word and character tables must start with their special tokens")
        if self.pretrained_words and self.pretrained_words[: len(WORD_SPECIALS)] != WORD_SPECIALS:
            raise ModelError("lexicon: the pretrained word table must start with <pad>, <unk>")
        object.__setattr__(self, "_word_index", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_char_index", {c: i for i, c in enumerate(self.chars)})
        object.__setattr__(self, "_pre_index", {w: i for i, w in enumerate(self.pretrained_words)})

    # ---- building -------------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        *,
        min_word_count: int = 2,
        max_words: int = 50_000,
        lowercase: bool = True,
        max_word_chars: int = 30,
        pretrained_words: Sequence[str] = (),
    ) -> "Lexicon":
        """Count the forms of training ``sentences`` (lists of word forms).

        Words seen at least ``min_word_count`` times get their own embedding (at most ``max_words``, most frequent
        first; ties in first-seen order so the result is deterministic). If that leaves fewer than 10 words (a tiny
        treebank), every seen word is kept. All characters seen are kept.
        """
        word_counts: Counter[str] = Counter()
        char_counts: Counter[str] = Counter()
        for sent in sentences:
            for form in sent:
                word_counts[normalize_word(form, lowercase)] += 1
                char_counts.update(unicodedata.normalize("NFC", form))
        frequent = [w for w, c in word_counts.most_common() if c >= min_word_count]
        if len(frequent) < 10:
            frequent = [w for w, _ in word_counts.most_common()]
        words = WORD_SPECIALS + tuple(w for w in frequent[:max_words] if w not in WORD_SPECIALS)
        chars = CHAR_SPECIALS + tuple(c for c, _ in char_counts.most_common() if c not in CHAR_SPECIALS)
        pre = tuple(pretrained_words)
        if pre and pre[: len(WORD_SPECIALS)] != WORD_SPECIALS:
            pre = WORD_SPECIALS + tuple(w for w in pre if w not in WORD_SPECIALS)
        return cls(words, chars, lowercase, max_word_chars, pre)

    # ---- lookup ---------------------------------------------------------------------------------------------
    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_chars(self) -> int:
        return len(self.chars)

    @property
    def n_pretrained(self) -> int:
        return len(self.pretrained_words)

    def word_id(self, form: str) -> int:
        return self._word_index.get(normalize_word(form, self.lowercase), UNK_ID)

    def pretrained_id(self, form: str) -> int:
        return self._pre_index.get(normalize_word(form, self.lowercase), UNK_ID)

    def char_ids(self, form: str) -> list[int]:
        """``<w> c1 .. cn </w>``; long words keep their first and last characters (prefixes and suffixes)."""
        chars = unicodedata.normalize("NFC", form)
        if len(chars) > self.max_word_chars:
            half = self.max_word_chars // 2
            chars = chars[:half] + chars[-(self.max_word_chars - half):]
        return [BOW_ID] + [self._char_index.get(c, UNK_ID) for c in chars] + [EOW_ID]

    def coverage(self, sentences: Iterable[Sequence[str]]) -> dict[str, float]:
        """Share of running words with a trained / pretrained embedding (for reports)."""
        n = n_word = n_pre = 0
        for sent in sentences:
            for form in sent:
                n += 1
                n_word += self.word_id(form) != UNK_ID
                n_pre += bool(self.pretrained_words) and self.pretrained_id(form) != UNK_ID
        return {"words": n, "word_known": n_word / n if n else 0.0, "pretrained_known": n_pre / n if n else 0.0}

    # ---- persistence ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "words": list(self.words),
            "chars": list(self.chars),
            "lowercase": self.lowercase,
            "max_word_chars": self.max_word_chars,
            "pretrained_words": list(self.pretrained_words),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Lexicon":
        try:
            return cls(
                tuple(d["words"]),
                tuple(d["chars"]),
                bool(d.get("lowercase", True)),
                int(d.get("max_word_chars", 30)),
                tuple(d.get("pretrained_words", ())),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"lexicon: malformed saved lexicon ({e}); retrain the model") from None
