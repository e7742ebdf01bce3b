"""Training-time noise that helps transfer between related languages (Aepli & Sennrich 2022): character noise in
words (``--char-noise``) and subword-segmentation noise (``--subword-dropout``).

Both draw from a ``random.Random`` the caller seeds from (run seed, epoch, batch), so an epoch's noise is a pure
function of the epoch and a resumed run sees the same noise as an uninterrupted one. Torch-free.

Subword noise: the tokenizers' own sampling (``BPE(dropout=...)``, sentencepiece's ``enable_sampling``) draws from a
generator Python cannot seed (and XLM-R-family fast tokenizers have no sentencepiece model to sample from), so
:class:`PieceSplitter` samples here instead: each piece of a word's usual segmentation is, with probability ``p``,
split in two at a point where both halves are pieces of the vocabulary, and the halves again (BPE-dropout's effect:
finer segmentations of the same word, the word's own pieces most of the time).
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Mapping, Sequence

NOISE_OPS = ("insert", "delete", "swap", "substitute")
_WORD_MARKERS = ("▁", "Ġ")  # SentencePiece and byte-level BPE word-start markers


def alphabet(words: Iterable[str]) -> list[str]:
    """The letters of ``words`` (sorted): what character noise inserts and substitutes."""
    return sorted({c for w in words for c in w if c.isalpha()})


def noise_word(word: str, rng: random.Random, letters: Sequence[str]) -> str:
    """``word`` with one random character operation: insert a letter, delete a character (words of 2 or more),
    swap two neighbours (2 or more) or substitute a letter. Words without letters stay as they are."""
    if not letters or not any(c.isalpha() for c in word):
        return word
    ops = NOISE_OPS if len(word) > 1 else ("insert", "substitute")
    op = rng.choice(ops)
    i = rng.randrange(len(word))
    if op == "insert":
        i = rng.randrange(len(word) + 1)
        return word[:i] + rng.choice(letters) + word[i:]
    if op == "delete":
        return word[:i] + word[i + 1:]
    if op == "swap":
        i = rng.randrange(len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice(letters) + word[i + 1:]


def noise_words(words: Sequence[str], p: float, rng: random.Random, letters: Sequence[str]) -> list[str]:
    """Each word noised with probability ``p`` (one operation); the number of words never changes."""
    return [noise_word(w, rng, letters) if rng.random() < p else w for w in words]


class PieceSplitter:
    """Splits subword pieces into smaller pieces of the same vocabulary, at random (see the module docstring).

    ``vocab`` maps piece strings to ids; ``continuation`` is the prefix of word-internal pieces (``##`` for
    WordPiece, empty for SentencePiece and byte-level BPE, which mark word starts instead); ``skip`` are ids never
    split (special tokens, unknown)."""

    def __init__(self, vocab: Mapping[str, int], continuation: str = "", skip: Iterable[int] = ()):
        self.vocab = dict(vocab)
        self.pieces = {i: s for s, i in self.vocab.items()}
        self.continuation = continuation
        self.skip = set(skip)
        self._options: dict[int, list[tuple[int, int]]] = {}

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> "PieceSplitter":
        """From a Hugging Face (fast) tokenizer: its vocabulary, continuation prefix and special ids."""
        backend = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
        continuation = getattr(backend, "continuing_subword_prefix", None) or ""
        skip = set(getattr(tokenizer, "all_special_ids", ()) or ())
        return cls(tokenizer.get_vocab(), continuation, skip)

    def _parts(self, piece: str) -> tuple[str, str]:
        """(prefix, core): the continuation prefix or word-start marker, and the characters after it."""
        if self.continuation and piece.startswith(self.continuation):
            return self.continuation, piece[len(self.continuation):]
        for marker in _WORD_MARKERS:
            if piece.startswith(marker):
                return marker, piece[len(marker):]
        return "", piece

    def options(self, piece_id: int) -> list[tuple[int, int]]:
        """Every way to write the piece as two pieces of the vocabulary (left keeps the prefix)."""
        cached = self._options.get(piece_id)
        if cached is None:
            cached = []
            piece = self.pieces.get(piece_id)
            if piece is not None and piece_id not in self.skip:
                prefix, core = self._parts(piece)
                for k in range(1, len(core)):
                    left, right = self.vocab.get(prefix + core[:k]), self.vocab.get(self.continuation + core[k:])
                    if left is not None and right is not None and left not in self.skip and right not in self.skip:
                        cached.append((left, right))
            self._options[piece_id] = cached
        return cached

    def split(self, ids: Sequence[int], p: float, rng: random.Random) -> list[int]:
        """The pieces with each one split with probability ``p`` (the halves again, recursively)."""
        out: list[int] = []
        stack = list(reversed(ids))
        while stack:
            i = stack.pop()
            opts = self.options(i)
            if opts and rng.random() < p:
                left, right = opts[rng.randrange(len(opts))]
                stack.extend((right, left))
            else:
                out.append(i)
        return out
