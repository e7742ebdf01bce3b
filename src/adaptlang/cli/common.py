"""Helpers shared by command modules: one console, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(stderr=False)
err_console = Console(stderr=True)


def emit_json(obj: Any, path: str | None) -> None:
    """Write a command's JSON result: ``-`` prints it on stdout, a path writes it atomically."""
    if path is None:
        return
    from adaptlang.fileio import _jsonable, write_json_atomic

    if path == "-":
        sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n")
    else:
        write_json_atomic(Path(path), obj)
