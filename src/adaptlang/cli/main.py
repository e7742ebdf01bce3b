"""The ``adaptlang`` command. Each command lives in its own module under ``adaptlang.cli`` and exposes
``register(app)``; command modules import heavy libraries (torch, transformers) inside the command function only,
so ``adaptlang --help`` starts fast.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any

import typer

# One entry per command module; each defines ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "assess",
    "transliterate",
    "analyze",
    "categorize",
    "adapt",
    "train",
    "baseline",
)

app = typer.Typer(
    name="adaptlang",
    help="Adapt multilingual encoders to unseen, low-resource languages: assess, transliterate, adapt, "
    "train, evaluate, predict, baseline, categorize, analyze.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)



def _version(value: bool) -> None:
    if value:
        from adaptlang import __version__

        typer.echo(f"adaptlang {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Adapt multilingual encoders to unseen, low-resource languages."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"adaptlang.cli.{_name}").register(app)


def main() -> None:
    """Console entry point: library errors become one line on stderr and a non-zero exit, never a traceback.

    Only an unexpected exception (a bug) is reported as an internal error; closed pipes, full disks and memory
    exhaustion are the user's to fix and say so.
    """
    from adaptlang.errors import AdaptlangError, OutputClosedError

    debug = bool(os.environ.get("ADAPTLANG_DEBUG"))
    try:
        # click's errors reach us (a bad option is one line, not a framed box); the name is the command's however run
        code = app(prog_name="adaptlang", standalone_mode=False)
        sys.exit(code if type(code) is int else 0)  # a command returning a bool or an object is a success
    except typer.Abort:  # Ctrl-C outside a command's own handling
        _fail("interrupted", 130)
    except SystemExit as e:
        # click turns a write to a closed stdout into a silent exit 1: it must not pass for a finished output
        if isinstance(e.__context__, BrokenPipeError):
            _closed(OutputClosedError())
        raise
    except OutputClosedError as e:
        _closed(e)
    except AdaptlangError as e:
        if debug:
            raise
        _fail(f"error: {e}", e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:
        if _is_click_error(e):
            _click_error(e)
        if debug:
            raise
        message, code = describe_exception(e)
        _fail(message, code)


def _is_click_error(e: Exception) -> bool:
    """click's exceptions (typer's own copy of click in recent versions, click itself in older ones): a bad
    command line, told by their interface rather than a class that moved between the two."""
    return callable(getattr(e, "format_message", None)) and isinstance(getattr(e, "exit_code", None), int)


def _click_error(e: Any) -> None:
    """An unknown command or option, a bad value, a missing option: one line naming it and where the help is.
    A command given no arguments prints its help, as click's standalone mode does."""
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
        text = ctx.get_help()  # typer's rich help prints itself (and returns ""); plain click returns the text
        if text:
            print(text)
        sys.exit(2)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    _fail(f"error: {e.format_message()}{where}", e.exit_code)


def describe_exception(e: Exception) -> tuple[str, int]:
    """The one line (without the ``adaptlang:`` prefix) and exit status for an exception that is not an
    AdaptlangError: system errors, a full disk, memory exhaustion, and last of all real bugs."""
    import errno

    from adaptlang.fileio import DISK_ERRNOS, disk_errno

    code = disk_errno(e)
    if code is not None:
        label, todo = DISK_ERRNOS[code]
        return f"error: {label} ({os.strerror(code)}); the output is incomplete; {todo} and rerun", 1
    if isinstance(e, BrokenPipeError) or (isinstance(e, OSError) and e.errno == errno.EPIPE):
        return "stdout closed early: output incomplete", 141
    if isinstance(e, OSError):
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return f"error: {where}{e.strerror or e}", 1
    if type(e).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch here
        return "error: out of GPU memory; lower --batch-size (or --max-tokens), or use --device cpu", 1
    if isinstance(e, MemoryError):
        return "error: out of memory; lower --batch-size or use a machine with more memory", 1
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""  # one line, however long the original
    return (f"internal error: {type(e).__name__}: {text} (please report it; rerun with ADAPTLANG_DEBUG=1 for "
            "the traceback)", 3)


def _fail(message: str, code: int) -> None:
    with contextlib.suppress(OSError):
        print(f"adaptlang: {message}", file=sys.stderr)
    sys.exit(code)


def _closed(e: Exception) -> None:
    """A closed stdout: silence the interpreter's final flush, say so in one line, exit 141 (128 + SIGPIPE)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    _fail(str(e), 141)


if __name__ == "__main__":
    main()
