"""Helpers shared by command modules: one console, JSON output."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

console = Console(stderr=False)
err_console = Console(stderr=True)


THREADS_HELP = "CPU threads for torch (default: torch's choice; 1 is often faster on a machine busy with other jobs)."


CPU_BF16_OPT = typer.Option(False, "--cpu-bf16", help="bf16 autocast on the CPU (cores with AVX-512 BF16 or AMX: "
                            "matrix products about twice as fast, LSTMs less); CUDA always uses it.")


def apply_threads(threads: int | None) -> None:
    """The ``--threads`` option of the commands that run a model: torch's intra-op thread count."""
    if threads is not None:
        from adaptlang.engine.runtime import set_threads

        set_threads(threads)


def emit_json(obj: Any, path: str | None) -> None:
    """Write a command's JSON result: ``-`` prints it on stdout, a path writes it atomically (a device or FIFO
    is written into). Check the path with :func:`check_json_path` before any work."""
    if path is None:
        return
    from adaptlang.fileio import write_json_atomic

    write_json_atomic(path, obj)


def check_json_path(path: str | None) -> None:
    """Call first thing in every command with ``--json``: an unwritable path fails before any work."""
    from adaptlang.fileio import check_writable

    check_writable(path, "--json")


class ByteProgress:
    """A transient rich bar on stderr over an input's bytes, started lazily at the first update.

    Used as a context manager; call it with the number of bytes read so far.
    """

    def __init__(self, total: int | None, label: str) -> None:
        self.total = total
        self.label = label
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, n_bytes: int) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                                console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        self.bar.update(self.task, completed=n_bytes)

    def __enter__(self) -> "ByteProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class CountProgress:
    """A transient rich bar on stderr over ``step`` events (``step`` of ``total`` items done), started lazily at
    the first one; nothing when ``quiet``. Used as a context manager and passed as a job's ``progress``."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label, self.quiet = label, quiet
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, event: Any) -> None:
        if self.quiet or getattr(event, "kind", "") != "step":
            return
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=event.total)
        self.bar.update(self.task, completed=event.step)

    def __enter__(self) -> "CountProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
