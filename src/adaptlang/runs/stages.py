"""Named, resumable stages under ``RUN/stages/<name>-<key>/``.

A stage's key is a hash of its configuration (file checksums, options, and the keys of the stages it builds on:
see :mod:`adaptlang.runs.rundir`). A stage whose ``stage.json`` exists is reused, not rerun, so an interrupted run
resumes where it stopped and a rerun with more seeds only runs the new stages.

Progress goes out as :class:`adaptlang.events.Event`: ``stage`` (a stage starts), ``skip`` (reused), ``done``
(finished, ``seconds``), each with ``index`` (1-based, >= 1) and ``count`` (0 until the study knows how many
stages it will run; it never shrinks). The jobs a stage runs report through ``tagged(progress, name)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from adaptlang.errors import AdaptlangError
from adaptlang.events import Event, Progress, silent, tagged
from adaptlang.fileio import write_json_atomic

RESUME_HINT = "finished stages are kept: rerun the same command to resume"


class Interrupted(AdaptlangError):
    """The run was interrupted (Ctrl-C, SIGTERM); finished stages are kept and a rerun resumes."""

    exit_code = 130


def config_key(config: dict[str, Any]) -> str:
    """Short stable hash of a JSON-able configuration (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class StageRecord:
    name: str
    key: str
    directory: str
    status: str  # "ran", "reused" or (planning) "pending"
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StageOutput:
    """A stage's result (``None`` while it is pending in a plan), its key (for the stages built on it) and where
    its files are now."""

    key: str
    directory: Path
    result: dict[str, Any] | None


StageFn = Callable[[Path, Progress], dict[str, Any]]  # (stage directory, progress of its jobs) -> JSON-able result


class StageRunner:
    """Runs named stages under ``RUN/stages``; ``dry``: plan only (finished stages are read, none is run)."""

    def __init__(self, run_dir: Path, progress: Progress | None = None, dry: bool = False):
        self.root = run_dir / "stages"
        self.progress = progress or silent
        self.dry = dry
        self.index = 0
        self.count = 0
        self.records: list[StageRecord] = []

    def expect(self, n_more: int) -> None:
        """Say how many stages are still to come: from now on, events carry the total."""
        self.count = self.index + n_more

    def run(self, name: str, config: dict[str, Any], fn: StageFn) -> StageOutput:
        self.index += 1
        key = config_key(config)
        directory = self.root / f"{_safe(name)}-{key}"
        saved = _finished(directory)
        if saved is not None:
            self.progress(Event("skip", name, index=self.index, count=self.count))
            self.records.append(StageRecord(name, key, str(directory), "reused", saved.get("seconds", 0.0)))
            return StageOutput(key, directory, saved["result"])
        if self.dry:
            self.records.append(StageRecord(name, key, str(directory), "pending", 0.0))
            return StageOutput(key, directory, None)
        self.progress(Event("stage", name, index=self.index, count=self.count))
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "config.json", {"stage": name, "key": key, "config": config})
        start = time.monotonic()
        result = fn(directory, tagged(self.progress, name))
        seconds = round(time.monotonic() - start, 2)
        write_json_atomic(directory / "stage.json",
                          {"stage": name, "key": key, "config": config, "seconds": seconds, "result": result})
        self.progress(Event("done", name, index=self.index, count=self.count, seconds=seconds))
        self.records.append(StageRecord(name, key, str(directory), "ran", seconds))
        return StageOutput(key, directory, result)


def _finished(directory: Path) -> dict[str, Any] | None:
    """The saved record of a finished stage, or None (not run, or a damaged record: the stage runs again)."""
    try:
        saved = json.loads((directory / "stage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and "result" in saved else None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("+", "_"))
