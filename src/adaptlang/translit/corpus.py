"""Transliterate a raw-text or CoNLL-U file (or stdin/stdout with ``-``), streaming, with a coverage report.

Raw text is processed in chunks of lines; with ``workers > 1`` the chunks go to a process pool (one
transliterator per process, rebuilt from the scheme's canonical name) while this process reads and writes in
order, so the output is identical to a single-process run. Every token is transliterated once per process and
cached, so a web corpus with a Zipfian vocabulary costs little more than reading and writing it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from adaptlang.data.text import ReadStats, display_name, iter_lines
from adaptlang.errors import InputError, UsageError
from adaptlang.fileio import check_output, open_output
from adaptlang.translit.base import ChainTransliterator, Transliterator, get_transliterator
from adaptlang.translit.conllu import ConlluTransliterator, iter_sentences, looks_like_conllu
from adaptlang.translit.coverage import Coverage
from adaptlang.translit.scripts import normalize_script

FORMATS = ("auto", "text", "conllu")
UNCOVERED_WARN_SHARE = 0.01  # warn when more than 1% of output letters are outside the target script
CHUNK_CHARS = 1 << 20  # characters of text per chunk sent to a worker
_PARALLEL_MIN_BYTES = 4 << 20  # smaller inputs are not worth starting worker processes for
STRIP = "strip-diacritics"  # the scheme --strip-diacritics adds in front


@dataclass(frozen=True)
class TranslitReport:
    """The result of transliterating one file; ``to_dict()`` is what ``--json`` writes."""

    scheme: str
    backend: str
    source_script: str
    target_script: str
    reference: str
    input: str
    output: str
    format: str
    input_script: str | None
    n_lines: int
    n_bytes_in: int
    n_bytes_out: int
    n_letters_out: int
    n_uncovered: int
    uncovered_share: float
    top_uncovered: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    seconds: float
    mb_per_s: float
    workers: int
    conllu: dict[str, int] | None = None
    picked: str | None = None  # why this scheme was chosen (``--to latin``)
    input_scripts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top_uncovered"] = list(self.top_uncovered)
        d["warnings"] = list(self.warnings)
        return d


# ---------------------------------------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _init_worker(scheme: str) -> None:
    # With the fork start method the parent's instance (and its warm word cache) is already here.
    t = _WORKER.get("t")
    if t is None or t.name != scheme:
        _WORKER["t"] = get_transliterator(scheme)


def _text_chunk(t: Transliterator, cov: Coverage, lines: list[str]) -> str:
    """Transliterate a chunk of lines; counts tokens into ``cov``. Returns the output text ending in a newline."""
    text = "\n".join(lines)
    if hasattr(t, "transliterate_tokens"):
        parts = text.replace("\n", " \n ").split(" ")
        out_parts = t.transliterate_tokens(parts)  # type: ignore[attr-defined]
        out = " ".join(out_parts).replace(" \n ", "\n")
        counts = Counter(parts)
        counts.pop("\n", None)
        counts.pop("", None)
        cov.add(counts, t.transliterate_token)  # type: ignore[attr-defined]
    else:
        out = t.transliterate(text)
        cov.add(Counter(text.split()), t.transliterate)
    return out + "\n"


def _text_block(t: Transliterator, cov: Coverage, block: bytes) -> tuple[bytes, int] | None:
    """Fast path: a block of raw bytes ending at a line end (the last may not). None when the block is not clean
    UTF-8 text (invalid UTF-8, NUL bytes): the caller then lets :func:`iter_lines` raise its usual error."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # as iter_lines: CRLF line ends become LF
    if text.endswith("\n"):
        text = text[:-1]
    n_lines = text.count("\n") + 1
    return _text_chunk(t, cov, [text]).encode("utf-8"), n_lines


def _work_block(block: bytes) -> tuple[bytes, int, dict[str, Any]] | None:
    t = _WORKER["t"]
    cov = _WORKER.get("cov")
    if cov is None:
        cov = _WORKER["cov"] = Coverage(t.target_script)
    cov.reset_counts()
    res = _text_block(t, cov, block)
    if res is None:
        return None
    return res[0], res[1], cov.to_partial()


def _iter_blocks(path: str, block_size: int) -> Iterator[bytes]:
    """Raw blocks of about ``block_size`` bytes, each ending at a line end (except a final unterminated line);
    a leading UTF-8 BOM is dropped."""
    with open(path, "rb") as f:
        rest = b""
        first = True
        while True:
            data = f.read(block_size)
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            if not data:
                if rest:
                    yield rest
                return
            data = rest + data
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            yield data[: cut + 1]
            rest = data[cut + 1:]


def _work_text_chunk(lines: list[str]) -> tuple[bytes, dict[str, Any]]:
    t = _WORKER["t"]
    cov = _WORKER.get("cov")
    if cov is None:
        cov = _WORKER["cov"] = Coverage(t.target_script)
    cov.reset_counts()
    out = _text_chunk(t, cov, lines)
    return out.encode("utf-8"), cov.to_partial()


# ---------------------------------------------------------------------------------------------- main side
def _chunked(lines: Iterator[str], max_chars: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line) + 1
        if size >= max_chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def default_workers(input_path: str) -> int:
    """Two or more processes for large regular files on a multi-core machine, else one."""
    n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if input_path == "-" or n_cpu < 2:
        return 1
    try:
        size = os.path.getsize(input_path)
    except OSError:
        return 1
    return min(n_cpu, 4) if size >= _PARALLEL_MIN_BYTES else 1


class _Peekable:
    """Lets format/script detection look at the first lines of a stream without losing them."""

    def __init__(self, it: Iterator[str], n: int = 200) -> None:
        self._it = it
        self.head: list[str] = []
        for line in it:
            self.head.append(line)
            if len(self.head) >= n:
                break

    def __iter__(self) -> Iterator[str]:
        yield from self.head
        yield from self._it


def transliterate_file(
    input_path: str,
    output: str,
    scheme: str | Transliterator | None = None,
    *,
    to: str | None = None,
    lang: str | None = None,
    fmt: str = "auto",
    force: bool = False,
    workers: int | None = None,
    encoding_errors: str = "strict",
    progress: Callable[[int], None] | None = None,
    strip_diacritics: bool = False,
) -> TranslitReport:
    """Transliterate ``input_path`` into ``output`` (``-`` = stdin / stdout) and report coverage.

    Give ``scheme`` (a name or a transliterator), or ``to`` (an ISO 15924 target such as ``Latn``) to pick the
    best scheme for the detected script and ``lang``. ``progress`` is called with the input bytes read so far.
    ``strip_diacritics`` removes optional marks first (scheme ``strip-diacritics+<scheme>``), or alone when neither
    ``scheme`` nor ``to`` is given.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    t = _given_transliterator(scheme, to, lang, strip_diacritics)  # an unknown scheme is reported before any I/O
    if output != "-":
        check_output(output, force)
        if input_path != "-" and Path(output).resolve() == Path(input_path).resolve():
            raise UsageError(f"{output}: output is the input file; write to another path")
    stats = ReadStats()
    # Typed at a terminal: answer line by line instead of waiting for a full chunk (or 200 lines of look-ahead).
    interactive = input_path == "-" and sys.stdin.isatty()
    lines = _Peekable(iter_lines(input_path, encoding_errors, stats), n=1 if interactive else 200)
    chunk_chars = 1 if interactive else CHUNK_CHARS
    name = display_name(input_path)
    if not lines.head:  # as assess: nothing to transliterate is a mistake, not an empty success
        raise InputError(name, "is empty; give a text or CoNLL-U file with some lines")
    if fmt == "auto":
        fmt = "conllu" if (str(input_path).endswith((".conllu", ".conll")) or looks_like_conllu(lines.head)) \
            else "text"
    picked = None
    if t is None:
        t, picked = _picked_transliterator(lines.head, fmt, name, normalize_script(to), lang,  # type: ignore[arg-type]
                                           strip_diacritics)
    n_workers = workers if workers is not None else default_workers(input_path)
    if fmt == "conllu":
        n_workers = 1  # sentence blocks are small and the word cache already makes this fast
    cov = Coverage(t.target_script)
    start = time.perf_counter()
    conllu_stats: dict[str, int] | None = None
    # Written into place at the end (a regular file), or streamed into stdout, a device or a FIFO; a reader that
    # closes the pipe early ends the run with OutputClosedError, never a success.
    with open_output(output, binary=True, fsync=False) as f:
        if fmt == "conllu":
            n_out, conllu_stats = _write_conllu(lines, f, t, cov, name, stats, progress)
        elif input_path != "-" and encoding_errors == "strict":
            n_out = _text_file_fast(input_path, f, t, cov, n_workers, stats, progress)
        elif n_workers <= 1:
            n_out = _write_text_chunks(lines, f, t, cov, chunk_chars, interactive, stats, progress)
        else:
            n_out = _write_text_pool(lines, f, t, cov, chunk_chars, n_workers, stats, progress)
    seconds = time.perf_counter() - start
    return _report(t, cov, input_path, output, fmt, stats, n_out, seconds, n_workers, conllu_stats, picked)


def _given_transliterator(scheme: str | Transliterator | None, to: str | None, lang: str | None,
                          strip_diacritics: bool) -> Transliterator | None:
    """The transliterator that ``scheme`` (and ``strip_diacritics``) name; None when ``to`` asks to pick one."""
    if strip_diacritics and scheme is None and to is None:
        scheme = STRIP
    elif strip_diacritics and scheme is not None:
        scheme = f"{STRIP}+{scheme}" if isinstance(scheme, str) else ChainTransliterator(
            [get_transliterator(STRIP), scheme])
    if (scheme is None) == (to is None):
        raise UsageError("give either --scheme NAME or --to SCRIPT (e.g. --to latin), or --strip-diacritics alone")
    if scheme is None:
        return None
    return get_transliterator(scheme, lang=lang) if isinstance(scheme, str) else scheme


def _picked_transliterator(head: list[str], fmt: str, name: str, to: str, lang: str | None,
                           strip_diacritics: bool) -> tuple[Transliterator, str]:
    """``--to``: the best scheme for the dominant script of the first lines (FORM only in CoNLL-U: MISC glosses or
    comments may be in another script), and the sentence that says what was picked."""
    from adaptlang.translit.base import pick_scheme
    from adaptlang.translit.scripts import dominant_script

    sample = head
    if fmt == "conllu":
        sample = [ln.split("\t")[1] for ln in head if ln and not ln.startswith("#") and ln.count("\t") == 9]
    script = dominant_script(sample)
    chosen = pick_scheme(script, lang, to)
    if chosen is None:
        raise UsageError(
            f"{name}: no scheme moves {script or 'text without letters'} to {to}"
            + (" (the text is already in that script)" if script == to else "")
            + "; give --scheme (see --list)")
    picked = f"{chosen} (input script {script}, language {lang or 'not given'})"
    return get_transliterator(f"{STRIP}+{chosen}" if strip_diacritics else chosen, lang=lang), picked


def _write_conllu(lines: Iterable[str], f: BinaryIO, t: Transliterator, cov: Coverage, name: str,
                  stats: ReadStats, progress: Callable[[int], None] | None) -> tuple[int, dict[str, int]]:
    """CoNLL-U, sentence by sentence; (bytes written, the transliterator's per-field counts)."""
    ct = ConlluTransliterator(t.transliterate, name)
    n_out = 0
    for block, first in iter_sentences(iter(lines)):
        data = ("\n".join(ct.sentence(block, first)) + "\n\n").encode("utf-8")
        f.write(data)
        n_out += len(data)
        if progress and ct.stats.n_sentences % 200 == 0:
            progress(stats.n_bytes)
    cov.add(ct.field_counts, t.transliterate)
    return n_out, asdict(ct.stats)


def _write_text_chunks(lines: Iterable[str], f: BinaryIO, t: Transliterator, cov: Coverage, chunk_chars: int,
                       interactive: bool, stats: ReadStats, progress: Callable[[int], None] | None) -> int:
    """Text in this process, chunk by chunk (flushed after each chunk when typed at a terminal); bytes written."""
    n_out = 0
    for chunk in _chunked(iter(lines), chunk_chars):
        data = _text_chunk(t, cov, chunk).encode("utf-8")
        f.write(data)
        if interactive:
            f.flush()
        n_out += len(data)
        if progress:
            progress(stats.n_bytes)
    return n_out


def _write_text_pool(lines: Iterable[str], f: BinaryIO, t: Transliterator, cov: Coverage, chunk_chars: int,
                     n_workers: int, stats: ReadStats, progress: Callable[[int], None] | None) -> int:
    """Text on a pool of ``n_workers`` processes, chunks written in input order; bytes written."""
    n_out = 0
    ctx = multiprocessing.get_context()
    with ctx.Pool(n_workers, initializer=_init_worker, initargs=(t.name,)) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunked(iter(lines), chunk_chars):
            pending.append(pool.apply_async(_work_text_chunk, (chunk,)))
            while len(pending) > 2 * n_workers:
                n_out += _drain_one(pending, f, cov)
                if progress:
                    progress(stats.n_bytes)
        while pending:
            n_out += _drain_one(pending, f, cov)
        if progress:
            progress(stats.n_bytes)
    return n_out


def _text_file_fast(path: str, f: BinaryIO, t: Transliterator, cov: Coverage, n_workers: int, stats: ReadStats,
                    progress: Callable[[int], None] | None) -> int:
    """Raw text from a regular file in blocks of bytes (decoded in the workers). Any block that is not clean UTF-8
    text stops the run and :func:`iter_lines` re-reads the file to raise its usual error (file, byte offset)."""
    total = os.path.getsize(path)
    block_size = max(4 * CHUNK_CHARS, 1 << 16)
    n_out = 0
    n_read = 0

    def take(res: tuple[bytes, int, dict[str, Any]] | None, n_in: int) -> None:
        nonlocal n_out, n_read
        if res is None:
            _raise_read_error(path)
        data, n_lines, partial = res
        f.write(data)
        n_out += len(data)
        n_read += n_in
        stats.n_lines += n_lines
        cov.merge(partial)
        if progress:
            progress(min(n_read, total))

    stats.n_lines = 0  # the lines read ahead for format detection are counted again here
    cov_block = Coverage(t.target_script)  # this process's share of the work; it caches each token's figures

    def here(block: bytes) -> tuple[bytes, int, dict[str, Any]] | None:
        cov_block.reset_counts()
        res = _text_block(t, cov_block, block)
        return None if res is None else (res[0], res[1], cov_block.to_partial())

    blocks = _iter_blocks(path, block_size)
    first = next(blocks, None)
    if first is None:
        return 0
    # The first block is done here before any worker starts: forked workers inherit the warm word cache.
    take(here(first), len(first))
    if n_workers <= 1:
        for block in blocks:
            take(here(block), len(block))
    else:
        # This process takes every n-th block itself and n-1 worker processes the others; results are written in
        # input order.
        ctx = multiprocessing.get_context()
        _WORKER["t"] = t
        with ctx.Pool(n_workers - 1, initializer=_init_worker, initargs=(t.name,)) as pool:
            pending: deque[tuple[Any, int]] = deque()
            for i, block in enumerate(blocks):
                if i % n_workers == n_workers - 1:
                    pending.append((here(block), len(block)))
                else:
                    pending.append((pool.apply_async(_work_block, (block,)), len(block)))
                while len(pending) > 2 * n_workers:
                    job, n_in = pending.popleft()
                    take(job.get() if hasattr(job, "get") else job, n_in)
            while pending:
                job, n_in = pending.popleft()
                take(job.get() if hasattr(job, "get") else job, n_in)
    stats.n_bytes = total
    return n_out


def _raise_read_error(path: str) -> None:
    for _ in iter_lines(path, "strict"):
        pass
    raise InputError(path, "could not be read as UTF-8 text")  # pragma: no cover - iter_lines raises first


def _drain_one(pending: deque[Any], f: BinaryIO, cov: Coverage) -> int:
    data, partial = pending.popleft().get()
    f.write(data)
    cov.merge(partial)
    return len(data)


def _report(t: Transliterator, cov: Coverage, input_path: str, output: str, fmt: str, stats: ReadStats,
            n_out: int, seconds: float, workers: int, conllu_stats: dict[str, int] | None,
            picked: str | None) -> TranslitReport:
    info = t.info
    warnings: list[str] = []
    in_script = cov.input_script()
    if info.source_script not in ("*", "") and in_script and in_script != info.source_script:
        warnings.append(f"the input is mostly {in_script} script but {t.name} transliterates "
                        f"{info.source_script}; pick a scheme for {in_script} (see --list)")
    share = cov.uncovered_share
    if share > UNCOVERED_WARN_SHARE:
        top = ", ".join(f"{d['char']} ({d['name'].lower()}) x{d['count']}" for d in cov.top_uncovered(5))
        warnings.append(f"{share:.1%} of output letters were left unchanged because {t.name} does not cover them "
                        f"(most frequent: {top})")
    if t.target_script == "IPA":
        warnings.append(f"{t.name} writes IPA (a phonetic transcription), not a Latin orthography")
    mb = stats.n_bytes / 1e6
    return TranslitReport(
        scheme=t.name, backend=info.backend, source_script=info.source_script, target_script=t.target_script,
        reference=info.reference, input=display_name(input_path), output="<stdout>" if output == "-" else output,
        format=fmt, input_script=in_script, n_lines=stats.n_lines, n_bytes_in=stats.n_bytes, n_bytes_out=n_out,
        n_letters_out=cov.n_out_letters, n_uncovered=cov.n_uncovered, uncovered_share=round(share, 6),
        top_uncovered=tuple(cov.top_uncovered(10)), warnings=tuple(warnings), seconds=round(seconds, 3),
        mb_per_s=round(mb / seconds, 2) if seconds > 0 else 0.0, workers=workers, conllu=conllu_stats,
        picked=picked, input_scripts=dict(cov.in_scripts.most_common()),
    )
