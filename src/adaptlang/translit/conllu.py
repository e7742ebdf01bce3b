"""Transliterate CoNLL-U sentence by sentence, changing nothing but FORM, LEMMA and the ``# text`` line.

- FORM and LEMMA of words, multiword-token ranges and empty nodes are transliterated (a range's FORM is the surface
  token, so ``# text`` stays the concatenation of surface forms, as the UD validator requires).
- The original is kept in MISC as ``OrigForm=`` / ``OrigLemma=`` when it changed (``%`` and ``|`` are written
  ``%25`` and ``%7C``); a MISC that already has them (a file transliterated twice) keeps the first originals.
- ``# text`` is rebuilt from the transliterated surface forms and ``SpaceAfter=No`` whenever the original text equals
  the concatenation of the original surface forms (so text and forms stay consistent); otherwise the text line is
  transliterated on its own. The original text is kept in an ``# orig_text = ...`` comment after it.
- Every other line (comments, IDs, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, existing MISC) is written back verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from adaptlang.errors import InputError

_ID_WORD = re.compile(r"^[1-9][0-9]*$")
_ID_RANGE = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")
_ID_EMPTY = re.compile(r"^(0|[1-9][0-9]*)\.[1-9][0-9]*$")
ORIG_TEXT = "# orig_text = "


def escape_misc(value: str) -> str:
    return value.replace("%", "%25").replace("|", "%7C")


def unescape_misc(value: str) -> str:
    return value.replace("%7C", "|").replace("%25", "%")


@dataclass
class ConlluStats:
    n_sentences: int = 0
    n_words: int = 0
    n_text_rebuilt: int = 0  # "# text" rebuilt from the transliterated forms
    n_text_direct: int = 0  # "# text" transliterated on its own (original text and forms disagreed)
    n_kept_empty: int = 0  # forms/lemmas kept as they were because transliteration would leave them empty


def looks_like_conllu(lines: Iterable[str]) -> bool:
    """True when the first token line has 10 tab-separated columns and a CoNLL-U ID."""
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        return len(cols) == 10 and bool(_ID_WORD.match(cols[0]) or _ID_RANGE.match(cols[0]) or _ID_EMPTY.match(cols[0]))
    return False


def _misc_with(misc: str, key: str, value: str) -> str:
    if misc == "_" or misc == "":
        return f"{key}={value}"
    attrs = misc.split("|")
    if any(a.startswith(key + "=") for a in attrs):
        return misc
    return misc + f"|{key}={value}"


def _surface(rows: list[list[str]]) -> str:
    from adaptlang.data.conllu import surface_text

    return surface_text(rows)


class ConlluTransliterator:
    """Turns one sentence block (lines without terminators) into its transliterated lines."""

    def __init__(self, convert: Callable[[str], str], path: str = "<input>") -> None:
        self.convert = convert
        self.path = path
        self.stats = ConlluStats()
        self.field_counts: Counter[str] = Counter()  # FORM and LEMMA values, for the coverage report

    def _tr(self, value: str) -> str:
        if value == "_" or not value:
            return value
        out = self.convert(value)
        if not out.strip():
            self.stats.n_kept_empty += 1
            return value
        return out

    def sentence(self, lines: list[str], first_lineno: int) -> list[str]:
        rows: list[list[str] | None] = []
        orig_rows: list[list[str]] = []
        new_rows: list[list[str]] = []
        for k, line in enumerate(lines):
            if line.startswith("#"):
                rows.append(None)
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise InputError(self.path, f"expected 10 tab-separated CoNLL-U columns, found {len(cols)}; "
                                 "is this a CoNLL-U file? (use --format text for raw text)", line=first_lineno + k)
            cid = cols[0]
            if not (_ID_WORD.match(cid) or _ID_RANGE.match(cid) or _ID_EMPTY.match(cid)):
                raise InputError(self.path, f"bad CoNLL-U ID {cid!r}", line=first_lineno + k)
            new = list(cols)
            form, lemma = cols[1], cols[2]
            new[1] = self._tr(form)
            self.field_counts[form] += 1
            if not _ID_RANGE.match(cid):
                new[2] = self._tr(lemma)
                self.field_counts[lemma] += 1
            misc = cols[9]
            if new[1] != form:
                misc = _misc_with(misc, "OrigForm", escape_misc(form))
            if new[2] != lemma:
                misc = _misc_with(misc, "OrigLemma", escape_misc(lemma))
            new[9] = misc
            if _ID_WORD.match(cid):
                self.stats.n_words += 1
            rows.append(new)
            orig_rows.append(cols)
            new_rows.append(new)
        self.stats.n_sentences += 1
        out: list[str] = []
        has_orig_text = any(line.startswith(ORIG_TEXT) for line in lines)
        for line, row in zip(lines, rows):
            if row is not None:
                out.append("\t".join(row))
            elif line.startswith("# text = ") or line == "# text =":
                text = line[len("# text = "):] if line.startswith("# text = ") else ""
                if _surface(orig_rows) == text:
                    new_text = _surface(new_rows)
                    self.stats.n_text_rebuilt += 1
                else:
                    new_text = self.convert(text)
                    self.stats.n_text_direct += 1
                out.append(f"# text = {new_text}")
                if new_text != text and not has_orig_text:
                    out.append(ORIG_TEXT + text)
            else:
                out.append(line)
        return out


def iter_sentences(lines: Iterator[str]) -> Iterator[tuple[list[str], int]]:
    """Group lines into sentence blocks; yields (lines, line number of the first). Blank lines end a block."""
    block: list[str] = []
    start = 1
    for lineno, line in enumerate(lines, 1):
        if line.strip() == "":
            if block:
                yield block, start
                block = []
            continue
        if not block:
            start = lineno
        block.append(line)
    if block:
        yield block, start
