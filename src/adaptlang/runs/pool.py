"""Queued stages on worker processes (``categorize --jobs N``): each stage runs as soon as the stages it builds on are
done and a worker is free.

Workers are started with ``spawn`` (no state inherited from the parent: torch, CUDA and thread pools start clean),
each with ``threads`` torch threads. A stage runs in a worker exactly as in the parent
(:func:`adaptlang.runs.stages.execute`: it writes its own ``stage.json``), and the jobs' progress events come back
through a queue and are passed on, in the parent's main thread, to the runner's progress callable.

A failure or an interruption (Ctrl-C in the parent, the terminal's SIGINT to every worker) stops the run: no new
stage starts, the running ones get SIGINT (the training core saves a checkpoint and stops), and after a grace
period whatever still runs is terminated. Finished stages keep their ``stage.json``; a rerun resumes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from adaptlang.errors import AdaptlangError
from adaptlang.events import Event, Progress

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.runs.stages import QueuedStage

RunStage = Callable[["QueuedStage", Progress], tuple[dict[str, Any], float]]  # stages.execute

GRACE_SECONDS = 60.0  # how long stopped stages get to save a checkpoint before they are terminated


class StageFailed(AdaptlangError):
    """A stage failed in a worker process: its one-line message and exit status (130: interrupted), as the worker
    saw them."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------------------------------------------
# Worker side

_events: Any = None
_state = {"busy": False, "interrupted": False, "stopped": False, "sending": False, "deferred": False}


def _init_worker(events: Any, threads: int) -> None:
    """Once per worker: the event queue, torch's threads, and a SIGINT that interrupts a running stage (once) but
    never an idle worker (that would break the pool): an idle worker notes it and starts no further stage. SIGINT
    arrives blocked (see :func:`_launching`): one sent while the worker started is delivered here, to the handler,
    instead of killing the interpreter half-way through its start-up."""
    global _events
    _events = events
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # torch reads them when a stage first imports it
        os.environ[name] = str(max(1, threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, threads))
    signal.signal(signal.SIGINT, _on_sigint)
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _send(("pid", os.getpid()))


def _on_sigint(signum: int, frame: Any) -> None:
    _state["stopped"] = True
    if _state["busy"] and not _state["interrupted"]:
        _state["interrupted"] = True
        if _state["sending"]:
            _state["deferred"] = True
        else:
            raise KeyboardInterrupt


def _send(item: Any) -> None:
    """Put ``item`` on the event queue; a SIGINT meanwhile interrupts the stage after the put, not inside it (raised
    half-way through a write, KeyboardInterrupt would leave a partial message in the pipe, or a queue's lock or
    condition in a state that hangs the next user)."""
    _state["sending"] = True
    try:
        _events.put(item)
    finally:
        _state["sending"] = False
    if _state["deferred"]:
        _state["deferred"] = False
        raise KeyboardInterrupt


def _work(run_stage: RunStage, stage: "QueuedStage") -> tuple[str, Any, Any]:
    """Run one stage in a worker: ("ok", result, seconds), ("interrupted", message, 130) or ("error", message,
    exit status). Exceptions travel as text: the library's own do not all pickle. A worker told to stop while idle
    (a stage handed to it as the run was stopping) does not start the stage."""
    if _state["stopped"]:
        return "interrupted", f"{stage.name}: interrupted", 130
    _state.update(busy=True, interrupted=False, deferred=False)
    try:
        result, seconds = run_stage(stage, _send)
        return "ok", result, seconds
    except KeyboardInterrupt:
        return "interrupted", f"{stage.name}: interrupted", 130
    except AdaptlangError as e:
        return ("interrupted" if e.exit_code == 130 else "error"), f"{stage.name}: {e}", e.exit_code
    except Exception as e:  # a bug or a system error: the parent reports it with the worker's traceback
        return "bug", f"{stage.name}: {type(e).__name__}: {e}", traceback.format_exc()
    finally:
        _state["busy"] = False


# ---------------------------------------------------------------------------------------------------------------
# Parent side


def run_in_pool(stages: list["QueuedStage"], run_stage: RunStage, jobs: int, threads: int, progress: Progress,
                on_done: Callable[["QueuedStage", float], None]) -> dict[Path, dict[str, Any]]:
    """Run ``stages`` with ``run_stage`` (a module-level function) on ``jobs`` processes, each as soon as the
    stages it builds on are done; results by directory. Raises the first failure (:class:`StageFailed`, or
    RuntimeError for a bug) once the running stages have stopped."""
    context = multiprocessing.get_context("spawn")
    events = context.SimpleQueue()  # no feeder thread: nothing left to flush when a worker exits
    pids: set[int] = set()
    results: dict[Path, dict[str, Any]] = {}
    pending = list(stages)
    running: dict[Future, "QueuedStage"] = {}
    pool = ProcessPoolExecutor(min(jobs, len(stages)), mp_context=context, initializer=_init_worker,
                               initargs=(events, threads))
    try:
        with _sigterm_interrupts():
            while pending or running:
                for stage in [s for s in pending if all(d in results for d in s.after)][:jobs - len(running)]:
                    pending.remove(stage)
                    with _launching():  # submit starts the worker processes
                        running[pool.submit(_work, run_stage, stage)] = stage
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(events, progress, pids)
                for future in done:
                    stage = running.pop(future)
                    status, value, extra = future.result()
                    if status != "ok":
                        raise _failure(status, value, extra)
                    results[stage.directory] = value
                    on_done(stage, extra)
    except BaseException:
        # the pool's own list covers workers still starting (their pid not yet sent)
        pids.update(getattr(pool, "_processes", None) or ())
        _stop(running, events, progress, pids)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _drain(events, progress, pids)
    return results


@contextlib.contextmanager
def _launching() -> Iterator[None]:
    """SIGINT blocked while worker processes may be started: they inherit the blocked signal and unblock it once
    their handler is in place (:func:`_init_worker`). A Ctrl-C meanwhile waits, pending, and then reaches the parent
    as usual."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: workers start as they do
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the parent as Ctrl-C does (the workers are stopped, not orphaned); main thread only."""
    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        before = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _failure(status: str, message: str, extra: Any) -> BaseException:
    if status in ("interrupted", "error"):
        return StageFailed(message, int(extra))
    return RuntimeError(f"{message}\n{extra}")


def _drain(events: Any, progress: Progress, pids: set[int]) -> None:
    """Pass on every event the workers have sent so far (and note the workers' process ids)."""
    while not events.empty():
        item = events.get()
        if isinstance(item, Event):
            progress(item)
        elif isinstance(item, tuple) and item[0] == "pid":
            pids.add(item[1])


def _stop(running: dict[Future, "QueuedStage"], events: Any, progress: Progress, pids: set[int]) -> None:
    """Stop the running stages: SIGINT (a checkpoint is saved), then, after the grace period, SIGTERM. Events are
    passed on meanwhile: a worker whose sends fill the pipe would otherwise wait on the parent while it waits."""
    for future in running:
        future.cancel()
    _signal(pids, signal.SIGINT)
    deadline = time.monotonic() + GRACE_SECONDS
    try:
        while not all(f.done() for f in running) and time.monotonic() < deadline:
            wait(running, timeout=0.2)
            _drain(events, progress, pids)
    except KeyboardInterrupt:  # a second Ctrl-C: do not wait
        pass
    _drain(events, progress, pids)
    if not all(f.done() for f in running):
        _signal(pids, signal.SIGTERM)


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:  # already gone
            pass
