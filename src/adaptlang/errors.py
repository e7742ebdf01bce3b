"""The library's exceptions. Only the CLI turns them into a one-line message and an exit code."""

from __future__ import annotations


class AdaptlangError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one-line message shown to them."""

    exit_code = 1


class InputError(AdaptlangError):
    """Bad input data: names the file (and line or byte offset where known) and what to do."""

    def __init__(self, path: object, message: str, *, line: int | None = None, offset: int | None = None):
        self.path = str(path)
        self.line = line
        self.offset = offset
        where = self.path
        if line is not None:
            where += f":{line}"
        elif offset is not None:
            where += f" (byte {offset})"
        super().__init__(f"{where}: {message}")


class UsageError(AdaptlangError):
    """A bad option or combination of options."""

    exit_code = 2


class ResumeMismatch(UsageError):
    """``--resume`` found a checkpoint made with other options; a run's stage starts that stage over instead."""


class OutputExistsError(AdaptlangError):
    """The output already exists and ``--force`` (or ``--resume``) was not given."""

    def __init__(self, path: object, hint: str = "pass --force to overwrite"):
        super().__init__(f"{path}: output already exists; {hint}")


class ModelError(AdaptlangError):
    """A model or tokenizer that cannot be loaded or used for the requested job."""


class OutputBusyError(AdaptlangError):
    """Another adaptlang process holds the lock of the same output (see :func:`adaptlang.fileio.output_lock`)."""

    def __init__(self, path: object, pid: int | None):
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"{path} is being written by another adaptlang run ({who}); wait for it or choose "
                         "another -o")


class OutputClosedError(AdaptlangError):
    """The reader of a pipe (stdout or a FIFO) went away before the output was complete.

    Exit status 141 = 128 + SIGPIPE, what a shell reports for standard tools killed by a closed pipe.
    """

    exit_code = 141

    def __init__(self, path: object = "-"):
        where = "stdout" if str(path) == "-" else f"{path}: the reader of this pipe"
        super().__init__(f"{where} closed early: output incomplete")


class OutputWriteError(AdaptlangError):
    """Writing an output failed for a reason the user can fix (disk full, quota, read-only file system, ...)."""


class TrainingInterrupted(AdaptlangError):
    """SIGINT/SIGTERM during a training run (a checkpoint was saved): the base of the engine's ``Interrupted``,
    here so that torch-free callers (a study's stage runner) can catch it and give their own resume hint."""

    exit_code = 130

