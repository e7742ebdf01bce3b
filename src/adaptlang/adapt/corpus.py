"""Raw corpus -> (transliterated) lines -> held-out split -> packed token sequences.

Everything here is deterministic: the same corpus, tokenizer and options give the same tensors, which is what lets
``--resume`` rebuild the exact data of an interrupted run instead of storing it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from adaptlang.data.corpus import iter_sentences
from adaptlang.errors import InputError
from adaptlang.scripts import dominant_script  # noqa: F401  (the one script detector; adapt.run imports it here)

MIN_HELDOUT_LINES = 2
MIN_TRAIN_LINES = 2


def read_corpus(path: str, encoding_errors: str = "strict") -> tuple[list[str], str]:
    """The sentences of a raw corpus and the SHA-256 of them (to recognise the corpus on resume).

    Read by :func:`adaptlang.data.corpus.iter_sentences`, as assess reads it: a text file gives its non-blank lines
    (stripped); a CoNLL-U file gives each sentence's ``# text``, else its FORMs joined by spaces (never its rows).
    """
    digest = hashlib.sha256()
    lines: list[str] = []
    for line in iter_sentences(path, encoding_errors=encoding_errors):
        lines.append(line)
        digest.update(line.encode("utf-8") + b"\n")
    return lines, digest.hexdigest()


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def heldout_stride(fraction: float) -> int:
    return max(2, round(1 / fraction))


MAX_HELDOUT_LINES = 2000  # evaluation cost stays bounded on large corpora


def heldout_indices(n_lines: int, fraction: float) -> range:
    """Line indices held out: every k-th line (k = 1/fraction), thinned to at most MAX_HELDOUT_LINES."""
    k = heldout_stride(fraction)
    n_every_k = n_lines // k
    if n_every_k > MAX_HELDOUT_LINES:
        k = k * math.ceil(n_every_k / MAX_HELDOUT_LINES)
    return range(k - 1, n_lines, k)


def split_heldout(lines: list[str], fraction: float, path: str) -> tuple[list[str], list[str]]:
    """Hold out every k-th line so the slice spans the whole corpus, not just its end."""
    k = heldout_stride(fraction)
    held = heldout_indices(len(lines), fraction)
    held_set = set(held)
    heldout = [lines[i] for i in held]
    train = [line for i, line in enumerate(lines) if i not in held_set]
    if len(heldout) < MIN_HELDOUT_LINES or len(train) < MIN_TRAIN_LINES:
        need = k * MIN_HELDOUT_LINES
        raise InputError(
            path,
            f"corpus too small: {len(lines)} non-blank line(s); holding out every {ordinal(k)} line for evaluation "
            f"needs at least {need} lines (give more text or raise --heldout-fraction)",
        )
    return train, heldout


@dataclass
class Tokenized:
    """A corpus as one token stream: ids, and whether each token starts a whitespace word."""

    ids: np.ndarray  # [n_tokens] int64
    word_start: np.ndarray  # [n_tokens] bool
    line_ends: np.ndarray  # [n_lines] int64, exclusive end offset of each line in the stream
    n_words: int
    n_unk: int

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])

    def stats(self) -> dict[str, Any]:
        return {
            "lines": int(self.line_ends.shape[0]),
            "words": self.n_words,
            "tokens": self.n_tokens,
            "fertility": round(self.n_tokens / max(1, self.n_words), 4),
            "unk_rate": round(self.n_unk / max(1, self.n_tokens), 6),
        }


def tokenize_lines(lines: list[str], tokenizer: Any, batch: int = 1000) -> Tokenized:
    """Tokenize without special tokens; a word is what the tokenizer's pre-tokenizer calls a word."""
    ids: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[int] = []
    n_words = 0
    total = 0
    unk_id = tokenizer.unk_token_id
    n_unk = 0
    for b in range(0, len(lines), batch):
        enc = tokenizer(lines[b : b + batch], add_special_tokens=False)
        for i, line_ids in enumerate(enc["input_ids"]):
            word_ids = enc.word_ids(i)
            arr = np.asarray(line_ids, dtype=np.int64)
            start = np.zeros(len(word_ids), dtype=bool)
            prev = None
            for j, w in enumerate(word_ids):
                start[j] = w is not None and w != prev
                prev = w
            n_words += len({w for w in word_ids if w is not None})
            if unk_id is not None:
                n_unk += int((arr == unk_id).sum())
            ids.append(arr)
            starts.append(start)
            total += len(arr)
            ends.append(total)
    return Tokenized(
        ids=np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
        word_start=np.concatenate(starts) if starts else np.zeros(0, dtype=bool),
        line_ends=np.asarray(ends, dtype=np.int64),
        n_words=n_words,
        n_unk=n_unk,
    )


@dataclass
class Packed:
    """Fixed-length sequences ``[CLS] body [SEP]`` cut from the token stream (lines separated by [SEP])."""

    input_ids: torch.Tensor  # [n_seq, max_seq_len] long
    attention_mask: torch.Tensor  # [n_seq, max_seq_len] long (1 = token, 0 = padding)
    special: torch.Tensor  # [n_seq, max_seq_len] bool (special tokens and padding: never masked)
    word_ids: torch.Tensor  # [n_seq, max_seq_len] long, global word index (-1 on special tokens)

    @property
    def n_seq(self) -> int:
        return int(self.input_ids.shape[0])

    def n_real_tokens(self) -> int:
        return int(self.attention_mask.sum())


def pack(tok: Tokenized, max_seq_len: int, cls_id: int, sep_id: int, pad_id: int) -> Packed:
    """Pack the stream into sequences of ``max_seq_len``; the last, shorter one is kept (padded), not dropped."""
    body_len = max_seq_len - 2
    n = tok.n_tokens
    # Interleave [SEP] after every line: stream positions shift by the number of earlier line ends.
    n_lines = int(tok.line_ends.shape[0])
    stream_len = n + n_lines
    stream = np.full(stream_len, sep_id, dtype=np.int64)
    is_sep = np.ones(stream_len, dtype=bool)
    words = np.full(stream_len, -1, dtype=np.int64)
    line_of_token = np.searchsorted(tok.line_ends, np.arange(n), side="right")  # [n_tokens]
    pos = np.arange(n) + line_of_token
    stream[pos] = tok.ids
    is_sep[pos] = False
    words[pos] = np.cumsum(tok.word_start) - 1
    # The last line needs no separator: the closing [SEP] of its sequence ends it.
    stream_len = max(1, stream_len - 1) if n else stream_len
    stream, is_sep, words = stream[:stream_len], is_sep[:stream_len], words[:stream_len]
    n_seq = max(1, math.ceil(stream_len / body_len))
    input_ids = np.full((n_seq, max_seq_len), pad_id, dtype=np.int64)
    attention = np.zeros((n_seq, max_seq_len), dtype=np.int64)
    special = np.ones((n_seq, max_seq_len), dtype=bool)
    word_ids = np.full((n_seq, max_seq_len), -1, dtype=np.int64)
    for s in range(n_seq):
        a, b = s * body_len, min(stream_len, (s + 1) * body_len)
        m = b - a
        input_ids[s, 0] = cls_id
        input_ids[s, 1 : 1 + m] = stream[a:b]
        input_ids[s, 1 + m] = sep_id
        attention[s, : m + 2] = 1
        special[s, 1 : 1 + m] = is_sep[a:b]
        word_ids[s, 1 : 1 + m] = words[a:b]
    return Packed(
        input_ids=torch.from_numpy(input_ids),
        attention_mask=torch.from_numpy(attention),
        special=torch.from_numpy(special),
        word_ids=torch.from_numpy(word_ids),
    )


def mask_tokens(
    input_ids: torch.Tensor,  # [B, T]
    special: torch.Tensor,  # [B, T] bool
    word_ids: torch.Tensor,  # [B, T]
    probability: float,
    whole_word: bool,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT masking: choose ``probability`` of the tokens (or of the words, with ``whole_word``); of those, 80%
    become [MASK], 10% a random token, 10% stay. Returns (masked input ids [B, T], selected [B, T] bool,
    labels [n_selected]). At least one token is always selected, so a batch always has a loss."""
    candidates = ~special
    if whole_word:
        first = int(word_ids[candidates].min()) if candidates.any() else 0
        last = int(word_ids[candidates].max()) if candidates.any() else 0
        u_word = torch.rand(last - first + 1, generator=generator)
        u = u_word[(word_ids - first).clamp(min=0)]
    else:
        u = torch.rand(input_ids.shape, generator=generator)
    selected = candidates & (u < probability)
    if not selected.any() and candidates.any():
        # tiny batches: force the candidate with the smallest draw
        u_masked = torch.where(candidates, u, torch.full_like(u, 2.0))
        flat = int(torch.argmin(u_masked))
        selected.view(-1)[flat] = True
    labels = input_ids[selected]
    action = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    masked = input_ids.clone()
    masked[selected & (action < 0.8)] = mask_id
    to_random = selected & (action >= 0.8) & (action < 0.9)
    masked[to_random] = random_ids[to_random]
    return masked, selected, labels


def step_generator(seed: int, *parts: int) -> torch.Generator:
    """A generator whose state depends only on (seed, parts): masks are reproducible without saving RNG state."""
    h = hashlib.sha256(repr((seed,) + parts).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))


def sequence_order(n_seq: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of the training sequences in ``epoch`` (a pure function of seed and epoch)."""
    return torch.randperm(n_seq, generator=step_generator(seed, 7, epoch))


def batch_indices(n_seq: int, seed: int, start: int, count: int) -> list[int]:
    """Sequence indices at stream positions [start, start+count) of the endless shuffled epoch stream: batches
    keep a fixed size, no sequence is dropped, and the position alone fixes the data (for --resume)."""
    out: list[int] = []
    cache: dict[int, torch.Tensor] = {}
    for p in range(start, start + count):
        epoch, i = divmod(p, n_seq)
        if epoch not in cache:
            cache[epoch] = sequence_order(n_seq, seed, epoch)
        out.append(int(cache[epoch][i]))
    return out


TranslitFn = Callable[[str], str]
