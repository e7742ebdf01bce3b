"""Named, resumable stages under ``RUN/stages/<name>-<key>/``.

A stage's key is a hash of its configuration (file checksums, options, and the keys of the stages it builds on:
see :mod:`adaptlang.runs.rundir`). A stage whose ``stage.json`` exists is reused, not rerun, so an interrupted run
resumes where it stopped and a rerun with more seeds only runs the new stages.

Progress goes out as :class:`adaptlang.events.Event`: ``stage`` (a stage starts), ``skip`` (reused), ``done``
(finished, ``seconds``), each with ``index`` (1-based, >= 1) and ``count`` (0 until the study knows how many
stages it will run; it never shrinks). The jobs a stage runs report through ``tagged(progress, name)``.

:meth:`StageRunner.run` runs a stage at once, in this process. :meth:`StageRunner.submit` queues one (its key and
directory are known at once, its result after :meth:`StageRunner.finish`), naming the queued stages it builds on;
``finish`` runs the queue in submission order (``jobs=1``, in this process) or on ``jobs`` worker processes
(:mod:`adaptlang.runs.pool`), each stage as soon as the stages it builds on are done. A stage writes its own
``stage.json`` wherever it runs, so whatever finished before an interruption or a failure is reused by a rerun.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from adaptlang.errors import AdaptlangError, ResumeMismatch, TrainingInterrupted
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


# Fields of a training configuration that say where things are or how the run is carried out, not what is computed:
# left out of a stage's key (its inputs are keyed by content, by the stages they come from)
_NOT_SETTINGS = frozenset({"train", "out", "output", "dev", "test", "corpus", "embeddings", "model", "donors", "force",
                           "resume", "device", "threads", "log_dir", "max_minutes", "gradient_checkpointing"})


# Settings added after stages were keyed, with the value that reproduces what runs did before them: left out of the
# key at that value, so that finished stages stay reused.
_KEYED_WHEN_CHANGED = {"cpu_bf16": False, "feats": "whole"}


def training_settings(config: Any) -> dict[str, Any]:
    """What a training configuration (a dataclass or dict, nested ones too) computes with: every setting but paths
    and run mechanics. A model stage's key holds it, so that a run made with other defaults (an older version's) is
    not reused as if it had been made with today's."""
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    return {k: training_settings(v) if isinstance(v, dict) else v for k, v in d.items()
            if k not in _NOT_SETTINGS and not (k in _KEYED_WHEN_CHANGED and v == _KEYED_WHEN_CHANGED[k])}


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


@dataclass(frozen=True)
class QueuedStage:
    """A submitted stage: what :func:`execute` needs to run it anywhere (``fn`` must pickle when ``jobs > 1``: a
    module-level function or a ``functools.partial`` of one)."""

    name: str
    key: str
    directory: Path
    config: dict[str, Any]
    fn: StageFn
    after: tuple[Path, ...]  # directories of the queued stages it builds on
    index: int
    count: int


def execute(stage: QueuedStage, progress: Progress) -> tuple[dict[str, Any], float]:
    """Run one stage: ``stage`` event, its config.json, the job, its stage.json (atomic: a stage is finished
    exactly when this file exists), ``done`` event. Returns (result, seconds).

    A stage interrupted under an older version may hold a checkpoint whose options its job no longer resumes
    (an option added since, at a new default): that stage starts over, with a note, instead of failing the run."""
    progress(Event("stage", stage.name, index=stage.index, count=stage.count))
    start = time.monotonic()
    try:
        result = _run_job(stage, progress)
    except ResumeMismatch as e:
        why = str(e).removeprefix("--resume: ").split(";")[0]  # the options that differ, not the flag's advice
        progress(Event("note", stage.name, message=f"{why}; the stage starts over"))
        shutil.rmtree(stage.directory)
        start = time.monotonic()
        result = _run_job(stage, progress)
    seconds = round(time.monotonic() - start, 2)
    write_json_atomic(stage.directory / "stage.json", {"stage": stage.name, "key": stage.key, "config": stage.config,
                                                       "seconds": seconds, "result": result})
    progress(Event("done", stage.name, index=stage.index, count=stage.count, seconds=seconds))
    return result, seconds


class StageRunner:
    """Runs named stages under ``RUN/stages``; ``dry``: plan only (finished stages are read, none is run).
    ``jobs``: how many queued stages run at once (worker processes when above 1, ``threads`` torch threads each)."""

    def __init__(self, run_dir: Path, progress: Progress | None = None, dry: bool = False, jobs: int = 1,
                 threads: int = 1):
        self.root = run_dir / "stages"
        self.progress = progress or silent
        self.dry = dry
        self.jobs = jobs
        self.threads = threads
        self.index = 0
        self.count = 0
        self.records: list[StageRecord] = []
        self.queue: list[QueuedStage] = []
        self.results: dict[Path, dict[str, Any]] = {}  # finished queued stages' results, by directory

    def expect(self, n_more: int) -> None:
        """Say how many stages are still to come: from now on, events carry the total."""
        self.count = self.index + n_more

    def run(self, name: str, config: dict[str, Any], fn: StageFn) -> StageOutput:
        """Run a stage now, in this process (or reuse it)."""
        out = self.submit(name, config, fn)
        if out.result is not None or self.dry:
            return out
        stage = self.queue.pop()
        result, seconds = execute(stage, self.progress)
        self._record(stage, seconds)
        return StageOutput(out.key, out.directory, result)

    def submit(self, name: str, config: dict[str, Any], fn: StageFn,
               after: tuple[StageOutput, ...] = ()) -> StageOutput:
        """Queue a stage (or reuse it: then its result is there at once); ``after``: the stages it builds on."""
        self.index += 1
        key = config_key(config)
        directory = self.root / f"{_safe(name)}-{key}"
        saved = _finished(directory)
        if saved is not None:
            self.progress(Event("skip", name, index=self.index, count=self.count))
            self.records.append(StageRecord(name, key, str(directory), "reused", saved.get("seconds", 0.0)))
            return StageOutput(key, directory, saved["result"])
        self.records.append(StageRecord(name, key, str(directory), "pending", 0.0))
        if not self.dry:
            queued = {q.directory for q in self.queue}
            self.queue.append(QueuedStage(name, key, directory, config, fn,
                                          tuple(a.directory for a in after if a.directory in queued),
                                          self.index, self.count))
        return StageOutput(key, directory, None)

    def finish(self) -> dict[Path, dict[str, Any]]:
        """Run every queued stage (each after the stages it builds on) and return the results by directory. On a
        failure or an interruption the running stages are stopped and the error is raised: every stage that
        finished is kept."""
        queue, self.queue = self.queue, []
        if self.jobs > 1 and len(queue) > 1:
            from adaptlang.runs.pool import StageFailed, run_in_pool

            try:
                done = run_in_pool(queue, execute, self.jobs, self.threads, self.progress, self._record)
            except StageFailed as e:
                if e.exit_code == 130:
                    raise Interrupted(f"{e}; {RESUME_HINT}") from None
                raise
        else:
            done = {}
            for stage in queue:
                try:
                    result, seconds = execute(stage, self.progress)
                except TrainingInterrupted:  # its checkpoint is kept; the hint is this command's, not --resume
                    raise Interrupted(f"interrupted during {stage.name} (checkpoint saved); {RESUME_HINT}") from None
                self._record(stage, seconds)
                done[stage.directory] = result
        self.results.update(done)
        return dict(self.results)

    def _record(self, stage: QueuedStage, seconds: float) -> None:
        at = next(i for i, r in enumerate(self.records) if r.directory == str(stage.directory))
        self.records[at] = StageRecord(stage.name, stage.key, str(stage.directory), "ran", seconds)


def _run_job(stage: QueuedStage, progress: Progress) -> dict[str, Any]:
    stage.directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stage.directory / "config.json", {"stage": stage.name, "key": stage.key, "config": stage.config})
    return stage.fn(stage.directory, tagged(progress, stage.name))


def _finished(directory: Path) -> dict[str, Any] | None:
    """The saved record of a finished stage, or None (not run, or a damaged record: the stage runs again)."""
    try:
        saved = json.loads((directory / "stage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and "result" in saved else None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("+", "_"))
