"""adaptlang.runs: content-keyed stages (resume, moved run directories, stage counts) and train_and_score (train,
then score several test sets in memory, with the per-sentence counts)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from adaptlang.errors import OutputExistsError
from adaptlang.events import Event, Progress
from adaptlang.runs import (RUN_MARKER, StageRunner, cut_treebank, file_sha256, model_fingerprint, prepare_dir,
                            train_and_score, training_treebank)
from adaptlang.runs.stages import config_key

TREEBANK = "".join(
    f"# sent_id = {k}\n1\tw{k}\t_\tNOUN\t_\t_\t2\tnsubj\t_\t_\n2\tv{k}\t_\tVERB\t_\t_\t0\troot\t_\t_\n\n"
    for k in range(1, 6)
)


def _study(run: Path, train: Path, ran: list[str], progress: Progress | None = None) -> dict[str, Any]:
    """A tiny categorize-like sequence: cut the treebank, 'train' on the cut (a stage built on the data stage, keyed
    by its key), then 'score' the model (built on the training stage)."""
    stages = StageRunner(run, progress)
    stages.expect(3)
    sha = file_sha256(train)

    def fake_train(directory: Path, _: Progress) -> dict[str, Any]:
        ran.append("train")
        (directory / "model.txt").write_text(Path(cut_path).read_text(encoding="utf-8").upper(), encoding="utf-8")
        return {"words": Path(cut_path).read_text(encoding="utf-8").count("\tNOUN\t")}

    def fake_score(directory: Path, _: Progress) -> dict[str, Any]:
        ran.append("score")
        return {"chars": len((trained.directory / "model.txt").read_text(encoding="utf-8"))}

    def cut(directory: Path, _: Progress) -> dict[str, Any]:
        ran.append("data")
        return cut_treebank(directory, str(train), 3)

    data = stages.run("data", {"train": sha, "max": 3}, cut)
    cut_path = training_treebank(data.directory, data.result, str(train))
    trained = stages.run("train", {"data": data.key, "epochs": 1}, fake_train)
    scored = stages.run("score", {"model": trained.key}, fake_score)
    return {"cut": cut_path, "words": trained.result["words"], "chars": scored.result["chars"],  # type: ignore[index]
            "status": [r.status for r in stages.records]}


def test_stages_resume_and_survive_a_moved_run_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = tmp_path / "train.conllu"
    train.write_text(TREEBANK, encoding="utf-8")
    ran: list[str] = []
    first = _study(tmp_path / "run", train, ran)
    assert ran == ["data", "train", "score"] and first["status"] == ["ran"] * 3 and first["words"] == 3
    assert _study(tmp_path / "run", train, ran)["status"] == ["reused"] * 3 and len(ran) == 3

    # Copied elsewhere (and named by an absolute path, or a relative one): every stage is reused, and what the
    # stages built on points into the copy.
    copy = (tmp_path / "other" / "run2").absolute()
    shutil.copytree(tmp_path / "run", copy)
    shutil.rmtree(tmp_path / "run")
    moved = _study(copy, train, ran)
    assert moved["status"] == ["reused"] * 3 and len(ran) == 3
    assert Path(moved["cut"]).parent.parent.parent == copy and Path(moved["cut"]).is_file()
    monkeypatch.chdir(tmp_path / "other")
    assert _study(Path("run2"), train, ran)["status"] == ["reused"] * 3 and len(ran) == 3

    # Other content upstream: the stages built on it rerun too.
    train.write_text(TREEBANK.replace("w1", "x1"), encoding="utf-8")
    assert _study(copy, train, ran)["status"] == ["ran"] * 3 and ran[3:] == ["data", "train", "score"]


def test_stage_events_and_a_damaged_record(tmp_path: Path) -> None:
    train = tmp_path / "train.conllu"
    train.write_text(TREEBANK, encoding="utf-8")
    events: list[Event] = []
    _study(tmp_path / "run", train, [], events.append)
    assert [(e.kind, e.stage, e.index, e.count) for e in events] == [
        ("stage", "data", 1, 3), ("done", "data", 1, 3), ("stage", "train", 2, 3), ("done", "train", 2, 3),
        ("stage", "score", 3, 3), ("done", "score", 3, 3)]
    [record] = (tmp_path / "run" / "stages").glob("score-*/stage.json")
    record.write_text("{not json", encoding="utf-8")  # e.g. a disk that filled up
    ran: list[str] = []
    assert _study(tmp_path / "run", train, ran)["status"] == ["reused", "reused", "ran"] and ran == ["score"]


def test_prepare_dir_and_fingerprints(tmp_path: Path) -> None:
    run = prepare_dir(tmp_path / "run", "study", {"a": 1}, force=False)
    assert json.loads((run / RUN_MARKER).read_text(encoding="utf-8"))["kind"] == "study"
    (run / "stages" / "x").mkdir(parents=True)
    prepare_dir(run, "study", {"a": 1}, force=True)
    assert not (run / "stages").exists()
    with pytest.raises(OutputExistsError, match="not a other run directory"):
        prepare_dir(run, "other", {}, force=True)
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    twin = tmp_path / "twin"
    shutil.copytree(model, twin)
    assert model_fingerprint(str(model)) == model_fingerprint(str(twin)) != model_fingerprint("bert-base-cased")
    (twin / "config.json").write_text('{"a": 1}', encoding="utf-8")
    assert model_fingerprint(str(model)) != model_fingerprint(str(twin))


@pytest.mark.usefixtures("one_thread")
def test_train_and_score_in_memory(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    from adaptlang.tasks import TrainConfig, evaluate_model

    t = toy_treebanks
    config = TrainConfig(train=str(t["train"]), dev=str(t["dev"]), out=str(tmp_path / "model"), epochs=1,
                         encoder={"kind": "transformer", "model": str(tiny_bert_dir)}, device="cpu", resume=True)
    events: list[Event] = []
    run = train_and_score(config, [str(t["test"]), str(t["cross"])], events.append)
    assert {"start", "step"} <= {e.kind for e in events}
    assert [s.test for s in run.tests] == [str(t["test"]), str(t["cross"])]
    assert run.train.epochs_run == 1 and run.train.epochs_planned == 1 and run.train.stopped_early is False
    for scored, path in zip(run.tests, (t["test"], t["cross"])):
        on_disk = evaluate_model(str(tmp_path / "model"), str(path), n_bootstrap=0, device="cpu").scores
        # The same scores as evaluating the saved model from disk; the counts add up to them.
        for j, metric in enumerate(("upos", "uas", "las"), start=1):
            assert scored.scores[metric] == pytest.approx(getattr(on_disk, metric))
            total = [sum(row[0] for row in scored.counts), sum(row[j] for row in scored.counts)]
            assert 100.0 * total[1] / total[0] == pytest.approx(scored.scores[metric])
        assert len(scored.counts) == on_disk.n_sentences
    trained_at = (tmp_path / "model" / "train.json").stat().st_mtime_ns
    again = train_and_score(config, [str(t["test"])])  # a finished model is scored, not trained again
    assert again.tests[0] == run.tests[0]
    assert (tmp_path / "model" / "train.json").stat().st_mtime_ns == trained_at
    assert not list(tmp_path.rglob("*.pred.conllu"))  # no predictions written to disk


# Stage jobs for worker processes (module level: a spawned worker imports them by name).
def _write_stage(directory: Path, progress: Progress, *, text: str, needs: str | None = None) -> dict[str, Any]:
    from adaptlang.events import Event as E

    upstream = (Path(needs) / "out.txt").read_text(encoding="utf-8") if needs else ""
    progress(E("note", message=f"writing {text}"))
    (directory / "out.txt").write_text(upstream + text, encoding="utf-8")
    return {"text": upstream + text}


def _failing_stage(directory: Path, progress: Progress) -> dict[str, Any]:
    from adaptlang.errors import InputError

    raise InputError("corpus.txt", "no text", line=3)


def test_stages_on_worker_processes(tmp_path: Path) -> None:
    """jobs=2: queued stages run in two spawned processes, a stage after the one it builds on; the workers' events
    reach the parent; a failure in a worker is one line with its exit status, and what finished is kept."""
    from functools import partial

    from adaptlang.runs.pool import StageFailed

    events: list[Event] = []
    stages = StageRunner(tmp_path / "run", events.append, jobs=2)
    stages.expect(3)
    a = stages.submit("a", {"n": 1}, partial(_write_stage, text="a"))
    b = stages.submit("b", {"n": 2}, partial(_write_stage, text="b"))
    c = stages.submit("c", {"after": a.key}, partial(_write_stage, text="c", needs=str(a.directory)), after=(a,))
    assert a.result is None and not a.directory.exists()  # queued, not run yet
    done = stages.finish()
    assert [done[s.directory]["text"] for s in (a, b, c)] == ["a", "b", "ac"]
    assert [r.status for r in stages.records] == ["ran"] * 3
    starts = {e.stage: i for i, e in enumerate(events) if e.kind == "stage"}
    finishes = {e.stage: i for i, e in enumerate(events) if e.kind == "done"}
    assert finishes["a"] < starts["c"] and ("note", "b", "writing b") in [(e.kind, e.stage, e.message) for e in events]

    again = StageRunner(tmp_path / "run", jobs=2)
    assert again.submit("c", {"after": a.key}, _failing_stage).result == {"text": "ac"}  # reused, not run

    failing = StageRunner(tmp_path / "run", jobs=2)
    failing.submit("bad", {"n": 3}, _failing_stage)
    d = failing.submit("d", {"n": 4}, partial(_write_stage, text="d"))
    with pytest.raises(StageFailed, match=r"^bad: corpus.txt:3: no text$") as info:
        failing.finish()
    assert info.value.exit_code == 1
    assert not list((tmp_path / "run" / "stages").glob("bad-*/stage.json"))
    # d ran beside the failing stage, was stopped part-way, or never started: it counts as done only with its
    # output written
    assert not (d.directory / "stage.json").is_file() or (d.directory / "out.txt").is_file()


def _chatty_stage(directory: Path, progress: Progress, *, seconds: float) -> dict[str, Any]:
    """Sends events as fast as it can for ``seconds``: stopped, it is interrupted in or between sends."""
    import time

    from adaptlang.events import Event as E

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        progress(E("note", message="step"))
    (directory / "out.txt").write_text("chatty", encoding="utf-8")
    return {"text": "chatty"}


def _late_failing_stage(directory: Path, progress: Progress) -> dict[str, Any]:
    import time

    time.sleep(0.3)
    _failing_stage(directory, progress)
    return {}


_STOP_WHILE_SENDING = """
import sys
from functools import partial
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_runs import _chatty_stage, _late_failing_stage
from adaptlang.runs import StageRunner
from adaptlang.runs.pool import StageFailed
if __name__ == "__main__":
    for i in range(3):
        root = Path({root!r}) / str(i)
        failing = StageRunner(root, jobs=2)
        failing.submit("bad", {{"n": 1}}, _late_failing_stage)
        failing.submit("chatty", {{"n": 2}}, partial(_chatty_stage, seconds=3.0))
        try:
            failing.finish()
        except StageFailed as e:
            print("failed:", e)
        rerun = StageRunner(root, jobs=2)
        rerun.submit("chatty", {{"n": 2}}, partial(_chatty_stage, seconds=0.5))
        print("rerun:", rerun.finish())
"""


def test_a_stage_stopped_while_sending_events_neither_hangs_the_run_nor_its_rerun(tmp_path: Path) -> None:
    """A worker stopped (SIGINT) while it floods the event queue: the failed run returns, its workers exit and a
    rerun in the same process finishes. (Before: KeyboardInterrupt raised inside Queue.put, or a worker at exit
    flushing events the parent no longer read, hung both processes on the first of three tries.) Run in a child
    process with a timeout, so that a regression fails instead of hanging the suite."""
    import os
    import signal
    import subprocess
    import sys

    script = _STOP_WHILE_SENDING.format(tests=str(Path(__file__).parent), root=str(tmp_path / "runs"))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the child and its workers
        child.communicate()
        pytest.fail("a run stopped while a stage sent events hung")
    assert child.returncode == 0, stderr
    assert stdout.count("failed: bad: corpus.txt:3: no text") == 3
    assert stdout.count("rerun: {") == 3
    assert "Traceback" not in stderr  # no worker died half-way through its start-up


def test_a_stage_whose_checkpoint_no_longer_resumes_starts_over(tmp_path: Path) -> None:
    """A stage interrupted under an older version left a checkpoint saved with other options (an option added
    since, at its new default): the rerun starts that stage over, with a note, instead of failing the whole run."""
    from adaptlang.engine.loop import check_resumable

    runs: list[dict[str, Any]] = []

    def job(directory: Path, _: Progress) -> dict[str, Any]:
        saved = directory / "checkpoint.json"
        current = {"epochs": 2, "tag_weight": 0.25}
        if saved.exists():
            check_resumable(json.loads(saved.read_text(encoding="utf-8")), current)
        runs.append(current)
        return {"resumed_from": sorted(p.name for p in directory.iterdir())}

    stages = StageRunner(tmp_path / "run")
    old = stages.root / f"train-{config_key({'e': 2})}"
    old.mkdir(parents=True)
    (old / "checkpoint.json").write_text(json.dumps({"epochs": 2}), encoding="utf-8")  # before tag_weight existed
    events: list[Event] = []
    out = StageRunner(tmp_path / "run", events.append).run("train", {"e": 2}, job)
    assert out.directory == old and len(runs) == 1
    assert out.result == {"resumed_from": ["config.json"]}  # the old checkpoint is gone
    [note] = [e for e in events if e.kind == "note"]
    assert note.stage == "train"  # the CLI prefixes the stage's name
    assert note.message == "options differ from the interrupted run (--tag-weight); the stage starts over"
    assert (old / "stage.json").is_file()

    # The same options: a checkpoint that matches resumes (no note, nothing removed).
    fresh = StageRunner(tmp_path / "run2")
    same = fresh.root / f"train-{old.name.split('-')[1]}"
    same.mkdir(parents=True)
    (same / "checkpoint.json").write_text(json.dumps({"epochs": 2, "tag_weight": 0.25}), encoding="utf-8")
    events.clear()
    again = StageRunner(tmp_path / "run2", events.append).run("train", {"e": 2}, job)
    assert again.result == {"resumed_from": ["checkpoint.json", "config.json"]} and not [e for e in events
                                                                                        if e.kind == "note"]


def test_training_settings_leave_out_paths_and_run_mechanics() -> None:
    """A model stage's key holds the trainer's settings: another default (an older version's tag_weight) is another
    key, while where the files are and how the run is carried out are not part of it."""
    from adaptlang.baseline import BaselineConfig
    from adaptlang.runs import training_settings

    a = BaselineConfig(train="/a/train.conllu", out="/a/stages/x/model", corpus="/a/raw.txt", device="cpu",
                       embeddings="/a/stages/adapt/model", transfer={"donors": ("/d.conllu",), "char_noise": 0.1})
    b = BaselineConfig(train="/b/t.conllu", out="", corpus="/b/raw.txt", device="cuda", resume=True, max_minutes=3,
                       embeddings="/b/model", transfer={"donors": ("/e.conllu",), "char_noise": 0.1})
    assert config_key(training_settings(a)) == config_key(training_settings(b))
    settings = training_settings(a)
    assert settings["tag_weight"] == 0.25 and settings["transfer"] == {"char_noise": 0.1}
    assert "embedding" in settings and not {"train", "out", "corpus", "device", "embeddings"} & set(settings)
    older = dataclasses.replace(a, tag_weight=1.0)
    assert config_key(training_settings(older)) != config_key(training_settings(a))
