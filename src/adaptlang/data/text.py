"""Streaming, validated reading of UTF-8 text files (or stdin).

Every reader of user text goes through :func:`iter_lines`, so bad input fails the same way everywhere: a missing
file, a directory, a binary file or invalid UTF-8 raise :class:`InputError` naming the file and the byte offset.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from adaptlang.errors import InputError, UsageError

ENCODING_ERRORS = ("strict", "replace", "ignore")
_BINARY_PROBE = 8192


@dataclass
class ReadStats:
    """Filled in while :func:`iter_lines` runs; complete once the iterator is exhausted."""

    n_lines: int = 0
    n_bytes: int = 0
    n_nonblank_lines: int = 0
    had_bom: bool = False
    had_crlf: bool = False
    n_replaced: int = 0


def display_name(path: str | os.PathLike) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` (``-`` = stdin) for binary reading, with one-line errors for the usual mistakes."""
    if str(path) == "-":
        return sys.stdin.buffer
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputError(p, "no such file")
    if os.path.isdir(p):
        raise InputError(p, "is a directory; give a text or CoNLL-U file")
    try:
        return open(p, "rb")
    except OSError as e:
        raise InputError(p, f"cannot open: {e.strerror}") from None


def iter_lines(
    path: str | os.PathLike,
    encoding_errors: str = "strict",
    stats: ReadStats | None = None,
) -> Iterator[str]:
    """Yield the lines of a UTF-8 file without their line ends (LF or CRLF); a leading BOM is dropped.

    Streams in constant memory (one line at a time). ``encoding_errors`` is ``strict`` (invalid UTF-8 raises
    InputError with the byte offset), ``replace`` (U+FFFD) or ``ignore``.
    """
    if encoding_errors not in ENCODING_ERRORS:
        raise UsageError(f"--encoding-errors must be one of {', '.join(ENCODING_ERRORS)}, not {encoding_errors!r}")
    stats = stats if stats is not None else ReadStats()
    name = display_name(path)
    f = open_binary(path)
    buffered = f if isinstance(f, io.BufferedReader) else io.BufferedReader(f)  # type: ignore[arg-type]
    try:
        head = buffered.peek(_BINARY_PROBE)[:_BINARY_PROBE]
        if b"\x00" in head:
            raise InputError(name, "looks like a binary file (NUL bytes); give a UTF-8 text or CoNLL-U file")
        offset = 0
        first = True
        for raw in buffered:
            start = offset
            offset += len(raw)
            if first:
                first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                    stats.had_bom = True
                    start += len(codecs.BOM_UTF8)
            if raw.endswith(b"\n"):
                raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                    stats.had_crlf = True
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if encoding_errors == "strict":
                    raise InputError(
                        name,
                        f"invalid UTF-8 (byte 0x{raw[e.start]:02x}); convert the file to UTF-8 "
                        "or pass --encoding-errors replace",
                        offset=start + e.start,
                    ) from None
                line = raw.decode("utf-8", errors=encoding_errors)
                stats.n_replaced += line.count("\ufffd") if encoding_errors == "replace" else 1
            if "\x00" in line:
                raise InputError(name, "contains NUL bytes (binary data?); give a UTF-8 text file", offset=start)
            stats.n_lines += 1
            stats.n_bytes = offset
            if line.strip():
                stats.n_nonblank_lines += 1
            yield line
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def check_text_file(path: str | os.PathLike, option: str | None = None) -> None:
    """Fail fast, before any output is created, unless ``path`` is a readable, non-empty UTF-8 text file.

    Reads the whole file in large blocks (C-speed decoding, constant memory); on a problem, :func:`iter_lines`
    re-reads it to raise its usual one-line error (file, byte offset). ``-`` (stdin) cannot be read twice and is
    not checked. ``option`` (e.g. ``--corpus``) is named in the error for an empty file.
    """
    if str(path) == "-":
        return
    name = display_name(path)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    n_bytes = 0
    clean = True
    with open_binary(path) as f:
        while clean:
            block = f.read(1 << 20)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError:
                clean = False
            if b"\x00" in block:
                clean = False
            if not block:
                break
            n_bytes += len(block)
    if not clean:
        for _ in iter_lines(path):
            pass
        raise InputError(name, "is not UTF-8 text; give a UTF-8 text file")  # pragma: no cover - iter_lines raises
    if n_bytes == 0:
        raise InputError(name, f"is empty{f' ({option})' if option else ''}; give a text file with some sentences")
