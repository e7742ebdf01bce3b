"""A raw corpus as a stream of sentences, from a plain text file (one sentence or paragraph per line) or a CoNLL-U
file (the ``# text =`` line of each sentence, else its FORMs joined by spaces).

The format is detected from the content, not the file name: a file is CoNLL-U when its first non-blank line that is
not a ``#`` comment has 10 tab-separated columns and an integer (or range / decimal) ID. Reading streams through
:func:`adaptlang.data.text.iter_lines`, so bad bytes fail with a byte offset everywhere.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from typing import Iterator

from adaptlang.data.text import ReadStats, iter_lines

_ID = re.compile(r"^\d+([-.]\d+)?$")
_DETECT_LINES = 50


@dataclass
class CorpusStats(ReadStats):
    """Reading statistics plus the detected format and the number of sentences yielded."""

    format: str = "text"  # "text" or "conllu"
    n_sentences: int = 0


def _is_token_line(line: str) -> bool:
    cols = line.split("\t")
    return len(cols) == 10 and bool(_ID.match(cols[0]))


def detect_format(lines: list[str]) -> str:
    """``conllu`` or ``text`` from the first lines of a file."""
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("#"):
            continue
        return "conllu" if _is_token_line(line) else "text"
    # only comments / blank lines seen: CoNLL-U if a ``# text =`` comment is there
    return "conllu" if any(ln.startswith("# text") for ln in lines) else "text"


def iter_sentences(
    path: str | os.PathLike,
    encoding_errors: str = "strict",
    stats: CorpusStats | None = None,
    format: str = "auto",
) -> Iterator[str]:
    """Yield the sentences of a text or CoNLL-U corpus (non-blank, stripped), streaming in constant memory."""
    stats = stats if stats is not None else CorpusStats()
    lines = iter_lines(path, encoding_errors=encoding_errors, stats=stats)
    head = list(itertools.islice(lines, _DETECT_LINES))
    fmt = detect_format(head) if format == "auto" else format
    stats.format = fmt
    all_lines = itertools.chain(head, lines)
    if fmt == "conllu":
        yield from _conllu_sentences(all_lines, stats)
    else:
        for line in all_lines:
            text = line.strip()
            if text:
                stats.n_sentences += 1
                yield text


def _conllu_sentences(lines: Iterator[str], stats: CorpusStats) -> Iterator[str]:
    text: str | None = None
    forms: list[str] = []
    skip_until = 0  # last word id covered by a multiword token range

    def flush() -> Iterator[str]:
        sentence = text if text is not None else " ".join(forms)
        sentence = sentence.strip()
        if sentence:
            stats.n_sentences += 1
            yield sentence

    for line in lines:
        if not line.strip():
            if text is not None or forms:
                yield from flush()
            text, forms, skip_until = None, [], 0
            continue
        if line.startswith("#"):
            if line.startswith("# text =") or line.startswith("# text="):
                text = line.split("=", 1)[1].strip()
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            continue
        tid = cols[0]
        if "." in tid:  # empty node: no surface form
            continue
        if "-" in tid:  # multiword token: its FORM is the surface word; skip the words it covers
            try:
                skip_until = int(tid.split("-", 1)[1])
            except ValueError:
                skip_until = 0
            forms.append(cols[1])
            continue
        try:
            if int(tid) <= skip_until:
                continue
        except ValueError:
            pass
        forms.append(cols[1])
    if text is not None or forms:
        yield from flush()
