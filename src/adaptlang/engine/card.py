"""A Hugging Face-style ``README.md`` model card in every model directory: what the model is, what it was made
from (base model, data files with their SHA-256), how well it did, and the command that made it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from adaptlang.fileio import file_sha256, write_text_atomic


def invoking_command() -> str:
    """The command line that started this process, as a user would type it again."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("adaptlang", "__main__.py"):
        argv[0] = "adaptlang"
    else:
        return "(library call: " + " ".join(shlex.quote(a) for a in argv) + ")"
    return " ".join(shlex.quote(a) for a in argv)


def write_model_card(directory: Path, *, title: str, summary: str, base_model: str | None,
                     data: dict[str, str | None], scores: dict[str, Any], settings: dict[str, Any],
                     tags: tuple[str, ...] = ()) -> None:
    """Write ``directory/README.md``: front matter (base_model, tags, library) and the sections a reader expects."""
    lines = ["---", "library_name: adaptlang"]
    if base_model:
        lines.append(f"base_model: {base_model}")
    if tags:
        lines += ["tags:"] + [f"- {t}" for t in tags]
    lines += ["---", "", f"# {title}", "", summary, "", "## Data", "", "| role | file | SHA-256 |", "| --- | --- | --- |"]
    for role, path in data.items():
        if path:
            lines.append(f"| {role} | `{path}` | `{file_sha256(path) if Path(path).is_file() else 'not a file'}` |")
    lines += ["", "## Scores", ""]
    if scores:
        lines += ["| metric | value |", "| --- | ---: |"]
        lines += [f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in scores.items()]
    else:
        lines.append("No scores were measured.")
    lines += ["", "## Settings", "", "| option | value |", "| --- | --- |"]
    lines += [f"| {k} | `{v}` |" for k, v in settings.items()]
    lines += ["", "## Made with", "", "```sh", invoking_command(), "```", ""]
    write_text_atomic(directory / "README.md", "\n".join(lines))
