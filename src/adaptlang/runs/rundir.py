"""The run directory: a marker file that says what kind of run lives there, and content fingerprints for stage keys.

A stage's key is taken over what it reads (file checksums, model fingerprints) and over the keys of the stages it
builds on, never over paths: a run directory that is moved, copied or named another way (``-o run`` or
``-o /abs/run``) reuses every finished stage.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from adaptlang.errors import OutputExistsError
from adaptlang.fileio import file_sha256, write_json_atomic

RUN_MARKER = "run.json"  # written at the top of RUN when it is created, so --force never deletes a stranger


def model_fingerprint(model: str) -> str:
    """What identifies a model for a stage key: for a local directory, a checksum over its files (names and
    contents, so that the same model reached by another path gives the same key); for a hub id, the id."""
    root = Path(model)
    if not root.is_dir():
        return model
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode("utf-8") + b"\0" + file_sha256(p).encode("ascii") + b"\0")
    return "sha256:" + h.hexdigest()


def check_run_dir(run: Path, kind: str) -> None:
    """Refuse a path that is a file, or a non-empty directory that is not a ``kind`` run."""
    marker = run / RUN_MARKER
    if run.exists():
        if not run.is_dir():
            raise OutputExistsError(run, "it is not a directory; choose another -o")
        try:
            existing = json.loads(marker.read_text(encoding="utf-8")).get("kind") if marker.is_file() else None
        except ValueError:
            existing = None
        if existing != kind and any(run.iterdir()):
            raise OutputExistsError(run, f"it is not a {kind} run directory; choose another -o")


def prepare_dir(run: Path, kind: str, config: dict[str, Any], force: bool) -> Path:
    """Create a run directory (or reuse it to resume); ``force`` wipes the stages of an earlier run of the same kind
    there. A non-empty directory that is not such a run is never touched. Call it after every input is checked:
    a run that fails its checks leaves nothing behind."""
    check_run_dir(run, kind)
    if run.exists() and force:
        shutil.rmtree(run / "stages", ignore_errors=True)
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run / RUN_MARKER, {"kind": kind, "config": config})
    return run
