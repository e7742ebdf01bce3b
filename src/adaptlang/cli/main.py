"""The ``adaptlang`` command. Each command lives in its own module under ``adaptlang.cli`` and exposes
``register(app)``; command modules import heavy libraries (torch, transformers) inside the command function only,
so ``adaptlang --help`` starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys

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
    """Console entry point: library errors become one line on stderr and a non-zero exit, never a traceback."""
    from adaptlang.errors import AdaptlangError

    debug = bool(os.environ.get("ADAPTLANG_DEBUG"))
    try:
        app()
    except AdaptlangError as e:
        if debug:
            raise
        print(f"adaptlang: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("adaptlang: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        if debug:
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"adaptlang: error: {where}{e.strerror or e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # last resort: still one line, with a way to get the traceback
        if debug:
            raise
        print(
            f"adaptlang: internal error: {type(e).__name__}: {e} (rerun with ADAPTLANG_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
