"""Outputs: nothing half-written is ever left at the final path, special files are never replaced, two runs never
write the same output, and write failures are one line naming the output.

- :func:`atomic_path` / :func:`write_text_atomic` / :func:`write_json_atomic`: a temporary path beside the target,
  renamed into place on success. ``-`` (stdout), character devices (``/dev/null``) and FIFOs are never renamed
  over: the finished file is copied into them. Block devices and sockets are refused.
- :func:`open_output`: a streaming writer with the same rules (writes into stdout / devices / FIFOs directly).
- :func:`output_lock`: an exclusive lock per output, so a second run on the same ``-o`` fails at once.
- :func:`disk_errors`: disk full / quota / read-only file system while saving -> one line naming the output.
- :func:`check_writable`: a ``--json`` (or other late output) path checked before any work starts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from adaptlang.errors import (
    AdaptlangError, OutputBusyError, OutputClosedError, OutputExistsError, OutputWriteError, UsageError,
)

STDOUT = "-"
IN_PLACE = ("stdout", "character device", "FIFO")  # written into, never replaced
_REFUSED = ("block device", "socket")


def special_kind(path: str | os.PathLike) -> str | None:
    """What kind of non-regular output ``path`` is: ``stdout`` for ``-``, ``character device``, ``FIFO``,
    ``block device`` or ``socket``; None for regular files, directories and paths that do not exist."""
    if str(path) == STDOUT:
        return "stdout"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISCHR, "character device"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return None


def _refuse(path: str | os.PathLike, kind: str | None, directory: bool = False) -> None:
    if kind in _REFUSED:
        raise UsageError(f"{path} is a {kind}; adaptlang does not write to it: give a file path")
    if kind is not None and directory:
        where = "stdout" if kind == "stdout" else f"{path} (a {kind})"
        raise UsageError(f"this output is a directory and cannot be written to {where}; give a directory path")


def check_output(path: str | os.PathLike, force: bool, hint: str = "pass --force to overwrite",
                 directory: bool = False) -> Path:
    """Refuse to overwrite an existing output unless ``force``.

    ``-``, character devices and FIFOs are accepted without ``force`` (they are written into, never replaced);
    with ``directory=True`` (the output is a directory) they are refused, as are block devices and sockets always.
    """
    p = Path(path)
    kind = special_kind(path)
    _refuse(path, kind, directory)
    if kind is None and p.exists() and not force:
        raise OutputExistsError(p, hint)
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it into place, on error remove it.

    Works for files and directories (whatever the caller creates at the temporary path). For ``-``, a character
    device or a FIFO the temporary path is in the system's temporary directory and the finished file is copied
    into the target, which is never replaced or removed.
    """
    final = Path(path)
    kind = special_kind(path)
    _refuse(path, kind)
    if kind is not None:
        with _spooled(final) as tmp:
            yield tmp
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    tmp.rmdir()
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp.exists() or tmp.is_symlink():
        tmp.unlink()


@contextlib.contextmanager
def _spooled(final: Path) -> Iterator[Path]:
    """A temporary file path whose content goes into ``final`` (stdout, a device, a FIFO) on success."""
    spool = Path(tempfile.mkdtemp(prefix=".adaptlang-out.", suffix=".tmp"))
    keep = False
    try:
        tmp = spool / "out"
        yield tmp
        if tmp.is_dir():
            keep = True
            raise UsageError(f"{final} cannot receive a directory; the result was left in {tmp}")
        with open(tmp, "rb") as src, open_output(final, binary=True) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    finally:
        if not keep:
            shutil.rmtree(spool, ignore_errors=True)


@contextlib.contextmanager
def open_output(path: str | os.PathLike, binary: bool = False, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open an output for streaming: ``-`` is stdout, a character device or FIFO is opened and written in place,
    anything else is written atomically (``fsync``: flushed to disk before the rename). Text is UTF-8.

    A closed pipe raises :class:`OutputClosedError`; disk full and similar failures raise
    :class:`OutputWriteError` naming the output (nothing half-written is left at a regular path).
    """
    kind = special_kind(path)
    _refuse(path, kind)
    with _write_errors(path):
        if kind == "stdout":
            sys.stdout.flush()  # what was printed before comes first
            raw = getattr(sys.stdout, "buffer", None)
            if raw is None:  # a replaced text-only stdout
                yield sys.stdout
                sys.stdout.flush()
                return
            f = WriteAll(raw, binary)
            yield f
            f.flush()
        elif kind is not None:
            with open(path, "wb") as raw:
                yield WriteAll(raw, binary)
        else:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as raw:
                    yield WriteAll(raw, binary)
                    if fsync:
                        raw.flush()
                        os.fsync(raw.fileno())


class WriteAll:
    """A binary file whose ``write`` writes everything or raises.

    ``BufferedWriter.write`` returns a short count when the pipe's reader goes away (or the disk fills) in the
    middle of a large write, and the rest is silently dropped: a truncated output that looked like a success.
    With ``binary=False`` it takes ``str`` and writes UTF-8.
    """

    def __init__(self, f: IO[bytes], binary: bool = True) -> None:
        self._f = f
        self._binary = binary

    def write(self, data: Any) -> int:
        n_total = len(data)
        view = memoryview(data if self._binary else data.encode("utf-8"))
        while view:
            n = self._f.write(view)
            if not n:  # None (would block) or 0: no progress, and none will come
                raise OSError(errno.EIO, "write made no progress")
            view = view[n:]
        return n_total

    def flush(self) -> None:
        self._f.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


@contextlib.contextmanager
def _write_errors(path: str | os.PathLike) -> Iterator[None]:
    """Closed pipes and full disks while writing ``path``, as one-line errors."""
    try:
        yield
    except BrokenPipeError:
        raise OutputClosedError(path) from None
    except OSError as e:
        if e.errno not in DISK_ERRNOS:
            raise
        label, todo = DISK_ERRNOS[e.errno]
        state = "the output is incomplete" if special_kind(path) else "nothing was written there"
        raise OutputWriteError(f"{_name(path)}: {label} while writing ({os.strerror(e.errno)}); {state}; "
                               f"{todo} and rerun") from None


def _name(path: str | os.PathLike) -> str:
    return "<stdout>" if str(path) == STDOUT else str(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (``-`` = stdout; devices and FIFOs are written into)."""
    with open_output(path) as f:
        f.write(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ------------------------------------------------------------------------------------------------ output lock
def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of an output: ``.NAME.lock`` beside it."""
    p = Path(out)
    return p.with_name(f".{p.name}.lock")


@contextlib.contextmanager
def output_lock(out: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``out`` for the whole run; a second holder fails at once with
    :class:`OutputBusyError` (naming the holder's pid). The lock file ``.NAME.lock`` beside ``out`` is removed at
    exit; one left by a killed process is simply reused (the kernel releases ``flock`` locks with the process).
    ``-``, devices and FIFOs are not locked; neither is anything where the platform has no ``flock``."""
    p = Path(out)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield p
        return
    if special_kind(out) is not None:
        yield p
        return
    lock = lock_path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(lock, p, fcntl)
    try:
        with contextlib.suppress(OSError):  # the pid is for the message of a second run only (disk may be full)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield p
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still holding it: a waiting opener then sees a new file (see _acquire)
        os.close(fd)


def _acquire(lock: Path, out: Path, fcntl: Any) -> int:
    """Open and lock ``lock``; retry when the file was removed by its previous holder between open and lock."""
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputWriteError(f"{out}: cannot create the lock file {lock} ({e.strerror}); "
                                   "choose another -o") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise OutputBusyError(out, pid) from None
        except OSError:  # no flock on this file system (some network mounts): run unlocked
            return fd
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise OutputBusyError(out, None)  # pragma: no cover - a lock file that keeps being replaced


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# ------------------------------------------------------------------------------------------------ disk errors
DISK_ERRNOS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("disk full", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space within your quota"),
    errno.EROFS: ("read-only file system", "make it writable or choose another -o"),
    errno.EFBIG: ("file too large for the file system", "choose another -o"),
}
_RUST_OS_ERROR = re.compile(r"os error (\d+)|code: (\d+)")
_LOW_FREE_BYTES = 16 << 20  # below this, an unexplained serialisation failure is taken for a full disk


@contextlib.contextmanager
def disk_errors(out: str | os.PathLike, resume_hint: bool = True, what: str = "saving") -> Iterator[None]:
    """Turn a full disk (or quota, read-only file system) while saving under ``out`` into one
    :class:`OutputWriteError` naming ``out``; other exceptions pass unchanged.

    Recognises ``OSError`` (ENOSPC, EDQUOT, EROFS, EFBIG), safetensors' ``SafetensorError`` ("... (os error 28)")
    and torch serialisation failures when the file system is (nearly) full. With ``resume_hint`` the message says
    that the previous checkpoint is intact and to rerun with ``--resume``; leftover temporary files are named.
    """
    try:
        yield
    except AdaptlangError:
        raise
    except Exception as e:
        code = disk_errno(e, out)
        if code is None:
            raise
        raise OutputWriteError(disk_message(out, code, resume_hint, what)) from e


def disk_errno(e: BaseException, out: str | os.PathLike | None = None) -> int | None:
    """The errno of a disk-full-like failure anywhere in ``e``'s chain, or None."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 5:
        seen += 1
        if isinstance(cur, OSError) and cur.errno in DISK_ERRNOS:
            return cur.errno
        text = str(cur)
        if type(cur).__name__ == "SafetensorError":
            m = _RUST_OS_ERROR.search(text)
            code = int(m.group(1) or m.group(2)) if m else None
            if code in DISK_ERRNOS:
                return code
            for code, msg in ((errno.ENOSPC, "No space left"), (errno.EDQUOT, "quota"),
                              (errno.EROFS, "Read-only file system")):
                if msg in text:
                    return code
        if isinstance(cur, RuntimeError) and ("inline_container" in text or "file write failed" in text) \
                and out is not None and _low_free_space(out):
            return errno.ENOSPC
        cur = cur.__cause__ or cur.__context__
    return None


def _low_free_space(out: str | os.PathLike) -> bool:
    p = Path(out).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free < _LOW_FREE_BYTES
    except OSError:
        return False


def disk_message(out: str | os.PathLike, code: int, resume_hint: bool = True, what: str = "saving") -> str:
    label, todo = DISK_ERRNOS.get(code, ("write failed", "fix it"))
    msg = f"{out}: {label} while {what} ({os.strerror(code)}); "
    if resume_hint:
        msg += f"the previous checkpoint is intact; {todo} and rerun with --resume"
    else:
        msg += f"{todo} and rerun"
    left = leftovers(out)
    if left:
        msg += f" (leftover: {', '.join(str(x) for x in left[:3])}{', ...' if len(left) > 3 else ''})"
    return msg


def leftovers(out: str | os.PathLike) -> list[Path]:
    """Temporary files of an interrupted save: ``.NAME.*.tmp`` beside ``out`` and ``.*.tmp`` / ``*.partial``
    inside it."""
    p = Path(out)
    found: list[Path] = []
    with contextlib.suppress(OSError):
        found += sorted(p.parent.glob(f".{p.name}.*.tmp"))
        if p.is_dir():
            found += sorted(p.glob(".*.tmp")) + sorted(p.glob("*.partial")) + sorted(p.glob(".partial*"))
    return found


# ------------------------------------------------------------------------------------------------ early checks
def check_writable(path: str | os.PathLike | None, option: str = "--json") -> None:
    """Fail before any work when ``path`` could not be written at the end: a directory, a missing parent that
    cannot be created, a parent that is not writable. ``-`` (stdout), devices and FIFOs are fine."""
    if path is None:
        return
    kind = special_kind(path)
    if kind in _REFUSED:
        _refuse(path, kind)
    if kind is not None:
        return
    p = Path(path).absolute()
    if p.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file path")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a directory; give another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in {parent} (permission denied or read-only); "
                         "give another path")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in 1 MB chunks); a missing file or a directory is an InputError."""
    import hashlib

    from adaptlang.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file" if not p.exists() else "is not a regular file")
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
