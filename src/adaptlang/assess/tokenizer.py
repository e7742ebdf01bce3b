"""Tokenizer loading, the vocabulary profile of a model, and tokenizer metrics on a corpus.

Metrics follow Rust et al. (ACL 2021, "How Good is Your Tokenizer?"), on whitespace-separated words:

* ``fertility``: subword pieces per word;
* ``continued_word_rate``: share of words split into 2 or more pieces;
* ``unk_piece_rate`` / ``unk_word_rate``: share of pieces that are the unknown token / of words with at least one;
* ``char_split_word_rate``: share of words split into 2 or more pieces that are all single characters.

Pieces are counted without their markers: WordPiece's continuation prefix (``##``) is stripped, and SentencePiece's
word-start marker (``▁``) is stripped; a piece that is ONLY the marker (SentencePiece emits it before a word whose
first character does not merge with it) carries no text and is not counted, so it does not inflate fertility.

Loading: a directory holding ``tokenizer.json`` is read with the ``tokenizers`` library directly (fast, no torch);
any other directory or a hub id goes through ``transformers.AutoTokenizer`` and its fast backend.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from adaptlang.assess.scripts import letter_script, script_name
from adaptlang.errors import ModelError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "resources" / "mbert-cased"
DEFAULT_MODEL_NAME = "bert-base-multilingual-cased (embedded vocabulary)"
_BATCH = 4096


@dataclass(frozen=True)
class LoadedTokenizer:
    """A fast tokenizer plus what the metrics need to read its pieces."""

    backend: Any  # tokenizers.Tokenizer
    name: str  # what the user passed (or the embedded default)
    path: str | None  # the directory it was loaded from, if local
    kind: str  # "wordpiece" | "unigram" | "bpe" | "wordlevel"
    vocab_size: int
    unk_id: int | None
    continuation_prefix: str | None  # "##" for WordPiece
    word_start_marker: str | None  # "▁" for SentencePiece-style tokenizers
    byte_level: bool  # GPT-2 style byte-level pieces
    special_ids: frozenset[int]

    def surface(self, piece: str) -> str:
        """The text a piece stands for, without its markers."""
        if self.continuation_prefix and piece.startswith(self.continuation_prefix):
            piece = piece[len(self.continuation_prefix):]
        if self.word_start_marker and piece.startswith(self.word_start_marker):
            piece = piece[len(self.word_start_marker):]
        if self.byte_level:
            piece = _byte_level_decode(piece).strip()  # "Ġ" (a space byte) marks a word start
        return piece

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "unk_id": self.unk_id,
            "continuation_prefix": self.continuation_prefix,
            "word_start_marker": self.word_start_marker,
            "byte_level": self.byte_level,
        }


def load_tokenizer(name_or_path: str | os.PathLike | None = None) -> LoadedTokenizer:
    """Load a Hugging Face tokenizer from a local directory (default: the embedded mBERT vocabulary) or a hub id.

    Raises ModelError (one line) when the path is not a tokenizer or the hub id cannot be loaded.
    """
    if name_or_path is None:
        return _load_dir(DEFAULT_MODEL_DIR, DEFAULT_MODEL_NAME)
    name = str(name_or_path)
    p = Path(name).expanduser()
    if p.is_file():
        if p.name == "tokenizer.json":
            return _load_json(p, name, str(p.parent))
        raise ModelError(f"--model {name}: is a file; give a tokenizer or model directory (with tokenizer.json) or a hub id")
    from adaptlang.specs import resolve_model

    spec = resolve_model(name, purpose="tokenizer")  # adapters and adapted models: where their tokenizer is
    if spec.kind == "hub":
        return _load_auto(name, None)
    if spec.tokenizer is None:
        raise ModelError(f"--model {name}: no tokenizer files in it (tokenizer.json, vocab.txt, sentencepiece model)")
    return _load_dir(Path(spec.tokenizer), name)


def _load_dir(p: Path, name: str) -> LoadedTokenizer:
    tj = p / "tokenizer.json"
    if tj.is_file():
        return _load_json(tj, name, str(p))
    known = ("vocab.txt", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model", "vocab.json")
    if not any((p / f).is_file() for f in known):
        raise ModelError(
            f"--model {name}: not a tokenizer directory (no tokenizer.json, vocab.txt or sentencepiece model in it)"
        )
    return _load_auto(str(p), str(p))


_JSON_CACHE: dict[tuple[str, str, float, int], LoadedTokenizer] = {}


def _load_json(tj: Path, name: str, path: str | None) -> LoadedTokenizer:
    """Read a tokenizer.json; the result is cached per file (path, mtime, size), since large vocabularies take a
    second or more to parse and callers such as ``categorize`` assess several corpora with one model."""
    try:
        st = tj.stat()
        key = (str(tj.resolve()), name, st.st_mtime, st.st_size)
    except OSError as e:
        raise ModelError(f"--model {name}: cannot read {tj.name} ({e.strerror})") from None
    if key in _JSON_CACHE:
        return _JSON_CACHE[key]
    tok = _read_json(tj, name, path)
    if len(_JSON_CACHE) >= 4:
        _JSON_CACHE.clear()
    _JSON_CACHE[key] = tok
    return tok


def _read_json(tj: Path, name: str, path: str | None) -> LoadedTokenizer:
    from tokenizers import Tokenizer

    try:
        text = tj.read_text(encoding="utf-8")
        spec = json.loads(text)
        backend = Tokenizer.from_str(text)
    except (OSError, ValueError, Exception) as e:  # tokenizers raises plain Exception on a bad file
        raise ModelError(f"--model {name}: cannot read {tj.name} as a tokenizer ({type(e).__name__}: {str(e)[:120]})") from None
    return _describe(backend, spec, name, path)


def _load_auto(name: str, path: str | None) -> LoadedTokenizer:
    from adaptlang.specs import quiet_transformers, resolve_model

    quiet_transformers()  # the hub client logs each failed request; the one-line error below says it all
    spec = resolve_model(name, purpose="tokenizer")
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(name, **spec.pretrained_kwargs())
    except Exception as e:
        if spec.kind == "hub":
            raise spec.load_error(e, "tokenizer") from None
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ModelError(f"--model {name}: cannot load a tokenizer ({first})") from None
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"--model {name}: only fast (Rust) tokenizers are supported; this one is {type(tok).__name__}")
    return _describe(backend, json.loads(backend.to_str()), name, path)


def _find(spec: Any, type_name: str) -> dict | None:
    """First component of the given type in a (possibly nested Sequence) pre_tokenizer / decoder spec."""
    if isinstance(spec, dict):
        if spec.get("type") == type_name:
            return spec
        for key in ("pretokenizers", "decoders", "normalizers"):
            for sub in spec.get(key) or []:
                found = _find(sub, type_name)
                if found:
                    return found
    return None


def _describe(backend: Any, spec: dict, name: str, path: str | None) -> LoadedTokenizer:
    model = spec.get("model") or {}
    mtype = str(model.get("type") or "").lower()
    if not mtype:  # WordPiece files written by old versions have no "type"
        mtype = "wordpiece" if "continuing_subword_prefix" in model and "merges" not in model else "bpe"
    vocab = backend.get_vocab(with_added_tokens=True)
    unk_id: int | None = None
    if mtype == "unigram":
        unk_id = model.get("unk_id")
    elif model.get("unk_token") is not None:
        unk_id = vocab.get(model["unk_token"])
    prefix = model.get("continuing_subword_prefix") or None
    if mtype != "wordpiece" and prefix == "":
        prefix = None
    meta = _find(spec.get("pre_tokenizer"), "Metaspace") or _find(spec.get("decoder"), "Metaspace")
    marker = meta.get("replacement", "▁") if meta else None
    byte_level = bool(_find(spec.get("pre_tokenizer"), "ByteLevel") or _find(spec.get("decoder"), "ByteLevel"))
    special = frozenset(t["id"] for t in spec.get("added_tokens") or [] if t.get("special"))
    if len(vocab) == 0:
        raise ModelError(f"--model {name}: the tokenizer has an empty vocabulary")
    return LoadedTokenizer(
        backend=backend,
        name=name,
        path=path,
        kind={"wordpiece": "wordpiece", "unigram": "unigram", "bpe": "bpe", "wordlevel": "wordlevel"}.get(mtype, mtype),
        vocab_size=backend.get_vocab_size(with_added_tokens=True),
        unk_id=unk_id,
        continuation_prefix=prefix if mtype in ("wordpiece", "bpe") else None,
        word_start_marker=marker,
        byte_level=byte_level,
        special_ids=special,
    )


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    # GPT-2's reversible byte <-> printable character map.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _byte_level_decode(piece: str) -> str:
    dec = _byte_decoder()
    try:
        return bytes(dec[c] for c in piece).decode("utf-8", errors="replace")
    except KeyError:
        return piece


# --------------------------------------------------------------------------------------------------------------------
# Tokenizer metrics


@dataclass(frozen=True)
class WordExample:
    word: str
    count: int
    pieces: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "count": self.count, "pieces": list(self.pieces)}


@dataclass(frozen=True)
class TokenizerMetrics:
    n_words: int
    n_distinct_words: int
    n_pieces: int
    fertility: float
    continued_word_rate: float
    unk_piece_rate: float
    unk_word_rate: float
    char_split_word_rate: float
    examples: tuple[WordExample, ...]  # the most frequent words of 4+ letters and how they are split

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            "n_words", "n_distinct_words", "n_pieces", "fertility", "continued_word_rate", "unk_piece_rate",
            "unk_word_rate", "char_split_word_rate")}
        d["examples"] = [e.to_dict() for e in self.examples]
        return d


def tokenize_words(tok: LoadedTokenizer, words: list[str]) -> list[tuple[list[int], list[str]]]:
    """Ids and pieces of each word encoded alone, without special tokens; standalone word-start markers dropped."""
    out: list[tuple[list[int], list[str]]] = []
    marker = tok.word_start_marker
    for i in range(0, len(words), _BATCH):
        for enc in tok.backend.encode_batch(words[i:i + _BATCH], add_special_tokens=False):
            ids, pieces = enc.ids, enc.tokens
            if marker is not None and marker in pieces:
                keep = [j for j, p in enumerate(pieces) if p != marker]
                ids = [ids[j] for j in keep]
                pieces = [pieces[j] for j in keep]
            out.append((ids, pieces))
    return out


def tokenizer_metrics(tok: LoadedTokenizer, word_counts: Counter, n_examples: int = 8) -> TokenizerMetrics:
    """Metrics over words weighted by their frequency (each distinct word is tokenized once)."""
    words = list(word_counts)
    encoded = tokenize_words(tok, words)
    unk = tok.unk_id
    n_words = n_pieces = n_continued = n_unk_pieces = n_unk_words = n_char_split = 0
    for word, (ids, pieces) in zip(words, encoded):
        n = word_counts[word]
        k = len(ids)
        n_words += n
        n_pieces += n * k
        if k >= 2:
            n_continued += n
            if all(len(tok.surface(p)) == 1 for p in pieces):
                n_char_split += n
        if unk is not None:
            u = ids.count(unk)
            if u:
                n_unk_pieces += n * u
                n_unk_words += n
    examples = []
    for word, count in word_counts.most_common():
        if len(examples) >= n_examples:
            break
        if sum(1 for ch in word if letter_script(ch)) >= 4:
            pieces = tokenize_words(tok, [word])[0][1]
            if tok.byte_level:  # show text, not byte symbols
                pieces = [tok.surface(p) for p in pieces]
            examples.append(WordExample(word, count, tuple(pieces)))
    return TokenizerMetrics(
        n_words=n_words,
        n_distinct_words=len(words),
        n_pieces=n_pieces,
        fertility=n_pieces / n_words if n_words else 0.0,
        continued_word_rate=n_continued / n_words if n_words else 0.0,
        unk_piece_rate=n_unk_pieces / n_pieces if n_pieces else 0.0,
        unk_word_rate=n_unk_words / n_words if n_words else 0.0,
        char_split_word_rate=n_char_split / n_words if n_words else 0.0,
        examples=tuple(examples),
    )


# --------------------------------------------------------------------------------------------------------------------
# Vocabulary profile


@dataclass(frozen=True)
class ScriptCoverage:
    """How the vocabulary covers one script of the corpus."""

    script: str
    name: str
    corpus_letter_share: float  # share of the corpus's letters in this script
    vocab_pieces: int  # vocabulary pieces whose letters are all in this script
    vocab_share: float  # of all non-special pieces
    letter_coverage: float  # share of the corpus's letters of this script (by frequency) that are not UNK
    n_distinct_letters: int
    uncovered_letters: tuple[str, ...]  # most frequent letters that tokenize to UNK (or to nothing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "script": self.script, "name": self.name, "corpus_letter_share": self.corpus_letter_share,
            "vocab_pieces": self.vocab_pieces, "vocab_share": self.vocab_share,
            "letter_coverage": self.letter_coverage, "n_distinct_letters": self.n_distinct_letters,
            "uncovered_letters": list(self.uncovered_letters),
        }


@dataclass(frozen=True)
class VocabProfile:
    n_pieces: int  # non-special pieces
    pieces_by_script: tuple[tuple[str, int], ...]  # (ISO 15924 code | "mixed" | "none", count), by decreasing count
    char_coverage: float  # share of the corpus's non-space characters (by frequency) that tokenize to a non-UNK piece
    n_unk_chars: int  # occurrences of characters that tokenize to UNK
    n_dropped_chars: int  # occurrences of characters that the tokenizer drops (normalised away)
    corpus_scripts: tuple[ScriptCoverage, ...]

    def share_of(self, script: str) -> float:
        return next((n for s, n in self.pieces_by_script if s == script), 0) / self.n_pieces if self.n_pieces else 0.0

    def coverage_of(self, script: str) -> ScriptCoverage | None:
        return next((c for c in self.corpus_scripts if c.script == script), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_pieces": self.n_pieces,
            "pieces_by_script": [
                {"script": s, "name": script_name(s) if len(s) == 4 else s, "pieces": n,
                 "share": n / self.n_pieces if self.n_pieces else 0.0}
                for s, n in self.pieces_by_script
            ],
            "char_coverage": self.char_coverage,
            "n_unk_chars": self.n_unk_chars,
            "n_dropped_chars": self.n_dropped_chars,
            "corpus_scripts": [c.to_dict() for c in self.corpus_scripts],
        }


def pieces_by_script(tok: LoadedTokenizer) -> Counter:
    """Vocabulary pieces per script of their letters: a code, ``mixed`` (2+ scripts) or ``none`` (no letters).
    Computed once per loaded tokenizer."""
    cached = _PIECES_BY_SCRIPT.get(id(tok.backend))
    if cached is not None and cached[0] is tok.backend:
        return cached[1]
    counts: Counter = Counter()
    for piece, pid in tok.backend.get_vocab(with_added_tokens=True).items():
        if pid in tok.special_ids:
            continue
        scripts = {s for s in map(letter_script, set(tok.surface(piece))) if s is not None}
        counts["none" if not scripts else ("mixed" if len(scripts) > 1 else scripts.pop())] += 1
    _PIECES_BY_SCRIPT.clear()
    _PIECES_BY_SCRIPT[id(tok.backend)] = (tok.backend, counts)
    return counts


_PIECES_BY_SCRIPT: dict[int, tuple[Any, Counter]] = {}


def letter_coverage(tok: LoadedTokenizer, char_counts: Counter, script: str | None = None) -> float:
    """Share of the letters (of ``script``, or of every script when None), by frequency, that tokenize to a known
    piece."""
    letters = Counter({c: n for c, n in char_counts.items()
                       if (letter_script(c) == script if script else letter_script(c) is not None)})
    total = sum(letters.values())
    if not total:
        return 0.0
    verdict = char_coverage(tok, letters)
    return sum(n for c, n in letters.items() if verdict.get(c) == "ok") / total


def char_coverage(tok: LoadedTokenizer, char_counts: Counter) -> dict[str, str]:
    """For each distinct non-space character: ``ok``, ``unk`` (tokenizes to UNK) or ``dropped`` (to nothing)."""
    chars = [c for c in char_counts if not c.isspace()]
    verdict: dict[str, str] = {}
    for ch, (ids, _pieces) in zip(chars, tokenize_words(tok, chars)):
        if not ids:
            verdict[ch] = "dropped"
        elif tok.unk_id is not None and tok.unk_id in ids:
            verdict[ch] = "unk"
        else:
            verdict[ch] = "ok"
    return verdict


def vocab_profile(
    tok: LoadedTokenizer, char_counts: Counter, corpus_script_shares: Iterable[tuple[str, float]],
    min_script_share: float = 0.001,
) -> VocabProfile:
    by_script = pieces_by_script(tok)
    n_pieces = sum(by_script.values())
    verdict = char_coverage(tok, char_counts)
    n_chars = n_unk = n_dropped = 0
    per_script_total: Counter = Counter()
    per_script_ok: Counter = Counter()
    per_script_bad: dict[str, Counter] = {}
    per_script_distinct: Counter = Counter()
    for ch, v in verdict.items():
        n = char_counts[ch]
        n_chars += n
        if v == "unk":
            n_unk += n
        elif v == "dropped":
            n_dropped += n
        s = letter_script(ch)
        if s is None:
            continue
        per_script_total[s] += n
        per_script_distinct[s] += 1
        if v == "ok":
            per_script_ok[s] += n
        else:
            per_script_bad.setdefault(s, Counter())[ch] += n
    coverages = []
    for s, share in corpus_script_shares:
        if share < min_script_share:
            continue
        total = per_script_total[s]
        coverages.append(ScriptCoverage(
            script=s,
            name=script_name(s),
            corpus_letter_share=share,
            vocab_pieces=by_script.get(s, 0),
            vocab_share=by_script.get(s, 0) / n_pieces if n_pieces else 0.0,
            letter_coverage=per_script_ok[s] / total if total else 0.0,
            n_distinct_letters=per_script_distinct[s],
            uncovered_letters=tuple(c for c, _ in per_script_bad.get(s, Counter()).most_common(10)),
        ))
    return VocabProfile(
        n_pieces=n_pieces,
        pieces_by_script=tuple(sorted(by_script.items(), key=lambda kv: -kv[1])),
        char_coverage=(n_chars - n_unk - n_dropped) / n_chars if n_chars else 0.0,
        n_unk_chars=n_unk,
        n_dropped_chars=n_dropped,
        corpus_scripts=tuple(coverages),
    )
