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


class _LazyBar:
    """A transient rich bar on stderr, started at the first update (nothing is drawn for work that never reports);
    a context manager that stops it."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.task: Any = None

    def _count_column(self) -> Any:  # what the bar counts, beside it
        raise NotImplementedError

    def _update(self, completed: int, total: int | None) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), self._count_column(), TimeElapsedColumn(),
                                console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=completed)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class ByteProgress(_LazyBar):
    """A bar over an input's bytes: call it with the number of bytes read so far."""

    def __init__(self, total: int | None, label: str) -> None:
        super().__init__(label)
        self.total = total

    def _count_column(self) -> Any:
        from rich.progress import DownloadColumn

        return DownloadColumn()

    def __call__(self, n_bytes: int) -> None:
        self._update(n_bytes, self.total)


class CountProgress(_LazyBar):
    """A bar over ``step`` events (``step`` of ``total`` items done), passed as a job's ``progress``; nothing when
    ``quiet``."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        super().__init__(label)
        self.quiet = quiet

    def _count_column(self) -> Any:
        from rich.progress import MofNCompleteColumn

        return MofNCompleteColumn()

    def __call__(self, event: Any) -> None:
        if not self.quiet and getattr(event, "kind", "") == "step":
            self._update(event.step, event.total)
