"""Lossless CoNLL-U reading and writing, with line-numbered errors.

A :class:`Sentence` keeps its raw lines (comments, multiword-token ranges ``3-4``, empty nodes ``8.1`` and every
column as written), so ``write_conllu(read_conllu(f))`` reproduces a well-formed file byte for byte. Training and
scoring look only at the *syntactic words* (integer ids), as the CoNLL 2018 UD evaluator does; predictions are
written back into the LEMMA / UPOS / XPOS / FEATS / HEAD / DEPREL columns of those lines and nothing else changes.

Field values are parsed with the ``conllu`` package's field parsers (ids, integers); the grouping into sentences and
the checks that give one-line errors with file and line number are ours, because the package neither keeps the raw
lines nor reports line numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from conllu.exceptions import ParseException
from conllu.parser import parse_id_value, parse_int_value

from adaptlang.data.text import display_name, iter_lines
from adaptlang.errors import InputError

N_COLUMNS = 10
ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC = range(N_COLUMNS)


@dataclass
class Sentence:
    """One CoNLL-U sentence: raw lines plus the syntactic words' columns.

    ``lines`` are the sentence's lines without line ends (no trailing blank line). ``word_lines[i]`` is the index in
    ``lines`` of syntactic word ``i + 1``. ``heads`` are integers (0 = root) or ``None`` where the file has ``_``.
    """

    lines: list[str]
    word_lines: list[int]
    forms: list[str]
    upos: list[str]
    heads: list[int | None]
    deprels: list[str]
    first_line: int = 1  # 1-based line number of the sentence's first line in its file
    source: str = ""
    lemmas: list[str] = field(default_factory=list)  # as written (``_`` where the file has none); [] if unknown
    xpos: list[str] = field(default_factory=list)
    feats: list[str] = field(default_factory=list)

    @property
    def n_words(self) -> int:
        return len(self.forms)

    @property
    def sent_id(self) -> str | None:
        return self.comment_value("sent_id")

    @property
    def text(self) -> str | None:
        return self.comment_value("text")

    def comment_value(self, key: str) -> str | None:
        prefix = f"# {key} ="
        for line in self.lines:
            if not line.startswith("#"):
                break
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None

    @property
    def is_annotated(self) -> bool:
        """True when every word has an integer HEAD (a tree to train on or score against)."""
        return all(h is not None for h in self.heads)

    def with_predictions(
        self,
        upos: Sequence[str] | None = None,
        heads: Sequence[int] | None = None,
        deprels: Sequence[str] | None = None,
        *,
        lemmas: Sequence[str] | None = None,
        xpos: Sequence[str] | None = None,
        feats: Sequence[str] | None = None,
    ) -> "Sentence":
        """A copy whose word lines carry the given columns (None: keep the input's); every other byte is kept.

        The enhanced graph (DEPS column and empty nodes ``8.1``) is kept as it is: it is the input's, not a
        prediction. Empty nodes cannot stay without the DEPS that attach them (the UD validator requires a
        connected enhanced graph), and the validator does not require the two graphs to agree.
        """
        lines = list(self.lines)
        new = {LEMMA: lemmas, UPOS: upos, XPOS: xpos, FEATS: feats, HEAD: heads, DEPREL: deprels}
        for i, li in enumerate(self.word_lines):
            cols = lines[li].split("\t")
            for col, values in new.items():
                if values is not None:
                    cols[col] = str(values[i])
            lines[li] = "\t".join(cols)
        return Sentence(
            lines=lines,
            word_lines=list(self.word_lines),
            forms=list(self.forms),
            upos=list(upos) if upos is not None else list(self.upos),
            heads=list(heads) if heads is not None else list(self.heads),
            deprels=list(deprels) if deprels is not None else list(self.deprels),
            first_line=self.first_line,
            source=self.source,
            lemmas=list(lemmas) if lemmas is not None else list(self.lemmas),
            xpos=list(xpos) if xpos is not None else list(self.xpos),
            feats=list(feats) if feats is not None else list(self.feats),
        )

    def to_text(self) -> str:
        return "\n".join(self.lines) + "\n\n"


def _parse_sentence(block: list[tuple[int, str]], path: str, require_tree: bool) -> Sentence:
    lines = [text for _, text in block]
    word_lines: list[int] = []
    forms: list[str] = []
    upos: list[str] = []
    heads: list[int | None] = []
    deprels: list[str] = []
    lemmas: list[str] = []
    xpos: list[str] = []
    feats: list[str] = []
    head_lines: list[int] = []
    expected = 1
    seen_range_end = 0
    in_tokens = False
    for idx, (line_no, text) in enumerate(block):
        if text.startswith("#"):
            if in_tokens:
                raise InputError(path, "comment line inside a sentence's word lines", line=line_no)
            continue
        in_tokens = True
        cols = text.split("\t")
        if len(cols) != N_COLUMNS:
            raise InputError(
                path, f"expected {N_COLUMNS} tab-separated columns, found {len(cols)}", line=line_no
            )
        tid = _parse_id(cols[ID], path, line_no)
        if isinstance(tid, tuple):
            seen_range_end = _check_token_or_empty_node(tid, cols[ID], expected, seen_range_end, path, line_no)
            continue
        if tid != expected:
            what = "duplicate" if tid < expected else "out-of-order"
            raise InputError(path, f"{what} word ID {tid} (expected {expected})", line=line_no)
        expected += 1
        if not cols[FORM]:
            raise InputError(path, "empty FORM", line=line_no)
        word_lines.append(idx)
        forms.append(cols[FORM])
        upos.append(cols[UPOS])
        heads.append(_parse_head(cols[HEAD], path, line_no))
        deprels.append(cols[DEPREL])
        lemmas.append(cols[LEMMA])
        xpos.append(cols[XPOS])
        feats.append(cols[FEATS])
        head_lines.append(line_no)
    first_line = block[0][0]
    if not forms:
        raise InputError(path, "sentence has no words", line=first_line)
    if seen_range_end > len(forms):
        raise InputError(path, f"multiword range reaches word {seen_range_end} beyond the last word", line=first_line)
    _check_heads(heads, head_lines, path, first_line, require_tree)
    return Sentence(lines, word_lines, forms, upos, heads, deprels, first_line=first_line, source=path,
                    lemmas=lemmas, xpos=xpos, feats=feats)


def _parse_id(value: str, path: str, line_no: int) -> int | tuple:
    """A word ID (int), a multiword range ``(3, "-", 4)`` or an empty node ``(8, ".", 1)``."""
    try:
        tid = parse_id_value(value)
    except (ParseException, ValueError):
        tid = None
    if tid is None or value == "_":
        raise InputError(path, f"bad ID {value!r}; expected an integer, a range like 3-4, or 8.1", line=line_no)
    return tid


def _check_token_or_empty_node(tid: tuple, value: str, expected: int, seen_range_end: int, path: str,
                               line_no: int) -> int:
    """Check the place of a multiword range or empty node; return the furthest word a range reaches so far."""
    if tid[1] == "-":
        if tid[0] != expected or tid[2] < tid[0]:
            raise InputError(path, f"multiword range {value} out of order (next word is {expected})", line=line_no)
        return max(seen_range_end, tid[2])
    if tid[1] == "." and tid[0] != expected - 1:
        raise InputError(path, f"empty node {value} out of order (last word is {expected - 1})", line=line_no)
    return seen_range_end


def _parse_head(value: str, path: str, line_no: int) -> int | None:
    """HEAD as an integer, or None for ``_``."""
    if value == "_":
        return None
    try:
        head = parse_int_value(value)
    except (ParseException, ValueError):
        head = None
    if head is None or not value.isdigit():
        raise InputError(path, f"HEAD {value!r} is not a non-negative integer", line=line_no)
    return head


def _check_heads(heads: list[int | None], head_lines: list[int], path: str, first_line: int,
                 require_tree: bool) -> None:
    """HEADs in range and not self-loops; with ``require_tree``, also one root and no cycle."""
    n = len(heads)
    for i, h in enumerate(heads):
        if h is not None and h > n:
            raise InputError(path, f"HEAD {h} is out of range: the sentence has {n} words", line=head_lines[i])
        if h is not None and h == i + 1:
            raise InputError(path, f"word {i + 1} is its own HEAD", line=head_lines[i])
    if not require_tree:
        return
    if any(h is None for h in heads):
        i = heads.index(None)
        raise InputError(path, "HEAD is '_' but a dependency tree is required here", line=head_lines[i])
    roots = [i for i, h in enumerate(heads) if h == 0]
    if not roots:
        raise InputError(path, "sentence has no root (no word with HEAD 0)", line=first_line)
    if len(roots) > 1:
        raise InputError(path, f"sentence has {len(roots)} roots (words {', '.join(str(r + 1) for r in roots)})",
                         line=head_lines[roots[1]])
    cycle = find_cycle([0] + [int(h) for h in heads])  # type: ignore[arg-type]
    if cycle:
        raise InputError(path, f"HEADs form a cycle through words {cycle}", line=head_lines[cycle[0] - 1])


def find_cycle(heads: Sequence[int]) -> list[int] | None:
    """``heads[d]`` is the head of node ``d`` (node 0 = root, ``heads[0]`` ignored); return one cycle or None."""
    n = len(heads)
    state = [0] * n  # 0 unvisited, 1 on current path, 2 done
    state[0] = 2
    for start in range(1, n):
        path = []
        v = start
        while state[v] == 0:
            state[v] = 1
            path.append(v)
            v = heads[v]
            if not 0 <= v < n:
                break
        if 0 <= v < n and state[v] == 1:
            return sorted(path[path.index(v) :])
        for u in path:
            state[u] = 2
    return None


def iter_conllu(path: str | os.PathLike, require_tree: bool = False) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file (``-`` = stdin); malformed input raises :class:`InputError`."""
    name = display_name(path)
    block: list[tuple[int, str]] = []
    line_no = 0
    for line_no, text in enumerate(iter_lines(path), start=1):
        if text.strip() == "":
            if text and block:
                raise InputError(name, "whitespace-only line; sentences are separated by empty lines", line=line_no)
            if block:
                yield _parse_sentence(block, name, require_tree)
                block = []
            continue
        block.append((line_no, text))
    if block:
        yield _parse_sentence(block, name, require_tree)


def read_conllu(path: str | os.PathLike, require_tree: bool = False) -> list[Sentence]:
    """All sentences of a CoNLL-U file. ``require_tree`` demands a full tree (one root, no cycle) per sentence."""
    sents = list(iter_conllu(path, require_tree=require_tree))
    if not sents:
        raise InputError(display_name(path), "no sentences found; is this a CoNLL-U file?")
    return sents


def parse_conllu_text(text: str, require_tree: bool = False, name: str = "<string>") -> list[Sentence]:
    """Parse CoNLL-U given as a string (tests, small inputs)."""
    sents: list[Sentence] = []
    block: list[tuple[int, str]] = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        if line.strip() == "":
            if block:
                sents.append(_parse_sentence(block, name, require_tree))
                block = []
            continue
        block.append((line_no, line))
    if block:
        sents.append(_parse_sentence(block, name, require_tree))
    return sents


def sentences_from_tokens(lines: Iterable[tuple[int, str]], source: str = "") -> list[Sentence]:
    """Build unannotated sentences from pre-tokenised text (one sentence per line, tokens separated by spaces).

    Each gets ``# sent_id`` and ``# text`` comments; the caller fills in predictions with
    :meth:`Sentence.with_predictions`.
    """
    sents: list[Sentence] = []
    for line_no, text in lines:
        tokens = text.split()
        if not tokens:
            continue
        k = len(sents) + 1
        body = [f"# sent_id = {k}", f"# text = {' '.join(tokens)}"]
        word_lines = []
        for i, tok in enumerate(tokens, start=1):
            word_lines.append(len(body))
            body.append("\t".join([str(i), tok, "_", "_", "_", "_", "_", "_", "_", "_"]))
        sents.append(
            Sentence(body, word_lines, tokens, ["_"] * len(tokens), [None] * len(tokens), ["_"] * len(tokens),
                     first_line=line_no, source=source, lemmas=["_"] * len(tokens), xpos=["_"] * len(tokens),
                     feats=["_"] * len(tokens))
        )
    return sents


def conllu_text(sentences: Iterable[Sentence]) -> str:
    return "".join(s.to_text() for s in sentences)


def write_conllu(path: str | os.PathLike, sentences: Iterable[Sentence]) -> None:
    """Write sentences atomically (``-`` = stdout; a device or FIFO is written into, never replaced)."""
    from adaptlang.fileio import write_text_atomic

    write_text_atomic(path, conllu_text(sentences))


def surface_text(rows: Iterable[Sequence[str]]) -> str:
    """A sentence's text rebuilt from its token rows (split columns): multiword tokens instead of their words, no
    empty nodes, a space after each token unless its MISC has ``SpaceAfter=No``."""
    parts: list[str] = []
    covered = 0  # last word id covered by the current multiword token
    for cols in rows:
        wid = cols[0]
        if "." in wid or not wid[:1].isdigit():
            continue
        space = "" if "SpaceAfter=No" in cols[9].split("|") else " "
        if "-" in wid:
            covered = int(wid.partition("-")[2])
            parts.append(cols[1] + space)
        elif int(wid) > covered:
            parts.append(cols[1] + space)
    return "".join(parts).rstrip(" ")
