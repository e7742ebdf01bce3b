"""Named-entity data: the CoNLL-2003 family of formats, tagging schemes, and NER held in CoNLL-U MISC ``NE=``.

A CoNLL-2003-style file has one token per line, ``TOKEN [EXTRA COLUMNS ...] TAG`` separated by spaces or tabs, a
blank line between sentences, and optional ``-DOCSTART-`` lines between documents. Tags follow one of three
schemes, all read and written here:

- ``iob2`` (the MasakhaNER and CoNLL-2003 release default): every entity starts with ``B-TYPE``, goes on with
  ``I-TYPE``; ``O`` outside;
- ``iob1`` (CoNLL-2003's original files): entities start with ``I-TYPE``; ``B-TYPE`` only where an entity
  directly follows another of the same type;
- ``bioes``: ``S-TYPE`` a one-token entity; ``B-`` ``I-`` ... ``E-TYPE`` a longer one.

In memory, tags are always IOB2 (the scheme the model learns and the scorer reads); the scheme of a file matters
only when reading and writing it. ``-DOCSTART-`` lines are kept and written back. Malformed lines raise one-line
:class:`~adaptlang.errors.InputError` with the file and line number. Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

from adaptlang.data.conllu import Sentence, read_conllu
from adaptlang.data.text import display_name, iter_lines
from adaptlang.errors import InputError, UsageError

SCHEMES = ("iob2", "iob1", "bioes")
READ_SCHEMES = ("auto",) + SCHEMES
FORMATS = ("conll", "conllu")
DOCSTART = "-DOCSTART-"
PREFIXES = {"iob2": "BI", "iob1": "BI", "bioes": "BIES"}

Span = tuple[str, int, int]  # (entity type, first token, last token + 1)


@dataclass
class NERSentence:
    """One sentence: tokens, IOB2 tags, the extra columns between token and tag, where it came from."""

    tokens: list[str]
    tags: list[str]  # IOB2 ("O" everywhere when the input had no tags)
    columns: list[list[str]] = field(default_factory=list)  # per token: the columns between token and tag
    first_line: int = 1
    source: str = ""
    docstart: str | None = None  # the -DOCSTART- line before this sentence, as written
    tag_lines: list[int] = field(default_factory=list)  # line number of each token (for errors)
    conllu: Sentence | None = None  # the CoNLL-U sentence it was read from (MISC NE=), for writing back

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def with_tags(self, tags: Sequence[str]) -> "NERSentence":
        return replace(self, tags=list(tags))


def check_scheme(scheme: str, *, reading: bool = False, option: str = "--scheme") -> str:
    valid = READ_SCHEMES if reading else SCHEMES
    if scheme not in valid:
        raise UsageError(f"{option} {scheme!r}; valid: {', '.join(valid)}")
    return scheme


# ---------------------------------------------------------------------------------------------------------------
# Spans and schemes
# ---------------------------------------------------------------------------------------------------------------


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``. Raises ValueError for anything else."""
    if tag == "O":
        return "O", ""
    prefix, sep, etype = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S") or not etype:
        raise ValueError(tag)
    return prefix, etype


def spans_from_iob2(tags: Sequence[str]) -> list[Span]:
    """Entities of a *valid* IOB2 sequence (see :func:`repair_iob2` for others)."""
    spans: list[Span] = []
    start, etype = -1, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, t = split_tag(tag)
        if start >= 0 and not (prefix == "I" and t == etype):
            spans.append((etype, start, i))
            start = -1
        if prefix == "B" or (prefix == "I" and start < 0):
            start, etype = i, t
    return spans


def tags_from_spans(spans: Iterable[Span], n: int, scheme: str = "iob2") -> list[str]:
    """The tag sequence of ``n`` tokens holding ``spans`` (non-overlapping), in ``scheme``."""
    tags = ["O"] * n
    prev_end, prev_type = -1, ""
    for etype, start, end in sorted(spans, key=lambda s: s[1]):
        if scheme == "iob2":
            tags[start:end] = [f"B-{etype}"] + [f"I-{etype}"] * (end - start - 1)
        elif scheme == "iob1":
            first = "B" if (prev_end == start and prev_type == etype) else "I"
            tags[start:end] = [f"{first}-{etype}"] + [f"I-{etype}"] * (end - start - 1)
        elif end - start == 1:
            tags[start] = f"S-{etype}"
        else:
            tags[start:end] = [f"B-{etype}"] + [f"I-{etype}"] * (end - start - 2) + [f"E-{etype}"]
        prev_end, prev_type = end, etype
    return tags


def convert_tags(tags: Sequence[str], to: str) -> list[str]:
    """IOB2 ``tags`` in scheme ``to``."""
    check_scheme(to)
    return list(tags) if to == "iob2" else tags_from_spans(spans_from_iob2(tags), len(tags), to)


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Make any B/I sequence valid IOB2 as conlleval reads it: an ``I-X`` that does not continue an X entity
    starts one (becomes ``B-X``)."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        prefix, t = split_tag(tag)
        if prefix == "I" and prev not in (f"B-{t}", f"I-{t}"):
            tag = f"B-{t}"
        out.append(tag)
        prev = tag
    return out


def to_iob2(tags: Sequence[str], scheme: str, *, strict: bool, where: tuple[str, Sequence[int]],
            detected: bool = False) -> list[str]:
    """Read ``tags`` written in ``scheme`` as IOB2. ``strict``: an entity continued with a tag that cannot continue
    it (``I-LOC`` after ``B-PER`` or ``O`` in IOB2, an unclosed BIOES entity) is an error; otherwise it is read as
    conlleval reads it (it starts a new entity). ``where``: (file, line of each tag) for errors; ``detected``: the
    scheme was detected from the file (an IOB2 file then is not IOB1: the error suggests only ``--lenient``)."""
    path, lines = where
    for i, tag in enumerate(tags):
        try:
            prefix, _ = split_tag(tag)
        except ValueError:
            raise InputError(path, f"tag {tag!r} is not O or B-/I-{'/E-/S-' if scheme == 'bioes' else ''}TYPE",
                             line=lines[i]) from None
        if prefix not in PREFIXES[scheme] and prefix != "O":
            raise InputError(path, f"tag {tag!r} is not {scheme.upper()}; pass --scheme bioes or fix it", line=lines[i])
    if scheme == "bioes":
        return _bioes_to_iob2(tags, strict, path, lines)
    if scheme == "iob1":
        return repair_iob2(tags)
    prev = "O"
    for i, tag in enumerate(tags):
        prefix, t = split_tag(tag)
        if strict and prefix == "I" and prev[2:] != t:
            what = "O" if prev == "O" else prev
            fix = "" if detected else "pass --scheme iob1 if the file is IOB1, or "
            raise InputError(path, f"{tag} follows {what}: an IOB2 entity starts with B-{t} ({fix}pass --lenient to "
                                   f"read it as conlleval and seqeval do: the {tag} then starts a {t} entity)",
                             line=lines[i])
        prev = tag
    return repair_iob2(tags)


def _bioes_to_iob2(tags: Sequence[str], strict: bool, path: str, lines: Sequence[int]) -> list[str]:
    out: list[str] = []
    open_type = ""
    for i, tag in enumerate(tags):
        prefix, t = split_tag(tag)
        inside = prefix in ("I", "E")
        if strict and (open_type != t if inside else bool(open_type)):
            problem = f"{tag} does not continue an entity" if inside else f"{tag} comes before the {open_type} " \
                                                                          f"entity is closed with E-{open_type}"
            raise InputError(path, f"{problem} (BIOES; pass --lenient to read it anyway)", line=lines[i])
        out.append("O" if prefix == "O" else (f"I-{t}" if inside and open_type == t else f"B-{t}"))
        open_type = t if prefix in ("B", "I") else ""
    if strict and open_type:
        raise InputError(path, f"the {open_type} entity is not closed with E-{open_type} (BIOES)", line=lines[-1])
    return out


def detect_scheme(tags: Iterable[str]) -> str:
    """``bioes`` when E-/S- tags occur; ``iob1`` when entities start with I- and B- only follows the same type;
    ``iob2`` otherwise (also for a malformed IOB2 file, whose errors the strict reader then reports)."""
    prev = "O"
    i_starts = b_after_other = 0
    for tag in tags:
        try:
            prefix, t = split_tag(tag)
        except ValueError:
            prefix, t = "O", ""  # reported by the reader
        if prefix in ("E", "S"):
            return "bioes"
        continues = prev != "O" and prev[2:] == t
        i_starts += prefix == "I" and not continues
        b_after_other += prefix == "B" and not continues
        prev = tag if prefix != "O" else "O"
    return "iob1" if i_starts and not b_after_other else "iob2"


# ---------------------------------------------------------------------------------------------------------------
# CoNLL-2003 files
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Block:
    first_line: int
    docstart: str | None
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def _blocks(path: str | os.PathLike) -> Iterator[_Block]:
    name = display_name(path)
    block: _Block | None = None
    docstart: str | None = None
    for line_no, text in enumerate(iter_lines(path), start=1):
        fields = text.split()
        if not fields:
            if block is not None:
                yield block
                block = None
            continue
        if fields[0] == DOCSTART:
            if block is not None:
                raise InputError(name, f"{DOCSTART} inside a sentence; put a blank line before it", line=line_no)
            docstart = text
            continue
        if block is None:
            block, docstart = _Block(line_no, docstart), None
        block.rows.append((line_no, fields))
    if block is not None:
        yield block


def read_ner(path: str | os.PathLike, *, scheme: str = "auto", strict: bool = True, tags: bool = True,
             fmt: str = "conll") -> list[NERSentence]:
    """The sentences of a CoNLL-2003-style file (``fmt="conll"``) or of a CoNLL-U file with ``NE=`` tags in MISC
    (``fmt="conllu"``), their tags read as ``scheme`` (``auto``: :func:`detect_scheme`) and held as IOB2.

    ``tags=False`` (text to label): a line is the token alone, or the token and its columns (any last column is
    then kept as a column, not read as a tag)."""
    check_scheme(scheme, reading=True)
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}; valid: {', '.join(FORMATS)}")
    name = display_name(path)
    if fmt == "conllu":
        return read_conllu_ner(path, scheme=scheme, strict=strict, tags=tags)
    sents: list[NERSentence] = []
    width = 0
    for block in _blocks(path):
        for line_no, fields in block.rows:
            if tags and len(fields) < 2:
                raise InputError(name, f"token {fields[0]!r} has no tag; a line is 'TOKEN [COLUMNS ...] TAG'",
                                 line=line_no)
            width = width or len(fields)
            if len(fields) != width:
                raise InputError(name, f"{len(fields)} columns where the file's first line has {width}",
                                 line=line_no)
        rows = block.rows
        cut = -1 if tags else len(rows[0][1])
        sents.append(NERSentence([f[0] for _, f in rows], [f[-1] if tags else "O" for _, f in rows],
                                 [f[1:cut] for _, f in rows], block.first_line, name, block.docstart,
                                 [n for n, _ in rows]))
    if not sents:
        raise InputError(name, "no sentences found; expected 'TOKEN [COLUMNS ...] TAG' lines")
    return _tags_to_iob2(sents, scheme, strict, name) if tags else sents


def _tags_to_iob2(sents: list[NERSentence], scheme: str, strict: bool, name: str) -> list[NERSentence]:
    detected = scheme == "auto"
    if detected:
        scheme = detect_scheme(t for s in sents for t in s.tags + ["O"])
    return [s.with_tags(to_iob2(s.tags, scheme, strict=strict, where=(name, s.tag_lines), detected=detected))
            for s in sents]


def ner_text(sents: Iterable[NERSentence], scheme: str = "iob2", sep: str = " ") -> str:
    """CoNLL-2003-style text: ``TOKEN [COLUMNS ...] TAG`` per line, a blank line after each sentence."""
    check_scheme(scheme)
    out: list[str] = []
    for s in sents:
        if s.docstart is not None:
            out += [s.docstart, ""]
        tags = convert_tags(s.tags, scheme)
        cols = s.columns or [[] for _ in s.tokens]
        out += [sep.join([tok, *c, tag]) for tok, c, tag in zip(s.tokens, cols, tags)]
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def write_ner(path: str | os.PathLike, sents: Iterable[NERSentence], scheme: str = "iob2", sep: str = " ") -> None:
    """Write sentences atomically (``-`` = stdout)."""
    from adaptlang.fileio import write_text_atomic

    write_text_atomic(path, ner_text(sents, scheme, sep))


def sentences_from_token_lines(path: str | os.PathLike) -> list[NERSentence]:
    """Pre-tokenised text to label: one sentence per line, tokens separated by spaces."""
    name = display_name(path)
    sents = [NERSentence(line.split(), ["O"] * len(line.split()), [], n, name, None, [n] * len(line.split()))
             for n, line in enumerate(iter_lines(path), start=1) if line.split()]
    if not sents:
        raise InputError(name, "no sentences found; give one pre-tokenised sentence per line")
    return sents


# ---------------------------------------------------------------------------------------------------------------
# CoNLL-U MISC NE=
# ---------------------------------------------------------------------------------------------------------------

MISC = 9


def _misc_ne(misc: str) -> str | None:
    for item in misc.split("|"):
        if item.startswith("NE="):
            return item[3:]
    return None


def read_conllu_ner(path: str | os.PathLike, *, scheme: str = "auto", strict: bool = True,
                    tags: bool = True) -> list[NERSentence]:
    """NER held in CoNLL-U MISC as ``NE=B-PER`` on syntactic words; a word without ``NE=`` is ``O``. The CoNLL-U
    sentence is kept (``columns`` is empty; :func:`conllu_with_tags` writes predictions back into MISC)."""
    name = display_name(path)
    sents: list[NERSentence] = []
    found = False
    for s in read_conllu(path):
        misc = [s.lines[i].split("\t")[MISC] for i in s.word_lines]
        ne = [_misc_ne(m) for m in misc]
        found = found or any(t is not None for t in ne)
        lines = [s.first_line + i for i in s.word_lines]
        sents.append(NERSentence(list(s.forms), [t or "O" for t in ne], [], s.first_line, name, None, lines, s))
    if tags and not found:
        raise InputError(name, "no NE= tags in the MISC column; give NER as MISC NE=B-PER|... or use --format conll")
    return _tags_to_iob2(sents, scheme, strict, name) if tags else sents


def conllu_with_tags(sent: NERSentence, scheme: str = "iob2") -> str:
    """The CoNLL-U text of a sentence read by :func:`read_conllu_ner`, MISC ``NE=`` set to its tags."""
    s = sent.conllu
    if s is None:
        raise ValueError("not a sentence read from CoNLL-U")
    lines = list(s.lines)
    for li, tag in zip(s.word_lines, convert_tags(sent.tags, scheme)):
        cols = lines[li].split("\t")
        items = [m for m in cols[MISC].split("|") if m and m != "_"]
        at = next((k for k, m in enumerate(items) if m.startswith("NE=")), None)
        if at is None:
            items.append(f"NE={tag}")
        else:
            items[at] = f"NE={tag}"
        cols[MISC] = "|".join(items)
        lines[li] = "\t".join(cols)
    return "\n".join(lines) + "\n\n"
