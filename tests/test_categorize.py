"""categorize end to end with a tiny in-process BERT and a tiny inline treebank: stages, report, resume, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.errors import InputError, OutputExistsError, UsageError
from adaptlang.pipeline import CategorizeConfig, plan_categorize, run_categorize

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")

def _config(toy: dict[str, Path], model: Path, out: Path, **kw: object) -> CategorizeConfig:
    base = dict(corpus=str(toy["corpus"]), train=str(toy["train"]), dev=str(toy["dev"]), test=str(toy["test"]),
                model=str(model), output=str(out), seeds=2, translit="none", epochs=1, baseline_epochs=1,
                adapt_steps=2, n_bootstrap=200, device="cpu", baseline_corpus=False, max_train_sentences=12,
                adapt_options={"pppl_tokens": 8})
    base.update(kw)
    return CategorizeConfig(**base)  # type: ignore[arg-type]


def test_categorize_end_to_end_and_resume(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import adaptlang.pipeline.categorize as categorize

    run = tmp_path / "run"
    # auto: assess decides that the (Latin-script) corpus needs no transliteration, so the translit variants drop
    config = _config(toy_treebanks, tiny_bert_dir, run, seeds=1, translit="auto")

    # Interrupt the run in its 3rd fine-tuning stage, after training and before scoring (as Ctrl-C would).
    real_train_and_score = categorize.train_and_score
    calls = {"n": 0}

    def flaky(config: object, tests: list[str], *args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            real_train_and_score(config, [], *args)  # type: ignore[arg-type]
            raise KeyboardInterrupt
        return real_train_and_score(config, tests, *args)  # type: ignore[arg-type]

    # Before anything runs, the plan lists every stage as pending and writes nothing.
    planned = plan_categorize(config)
    assert [s.status for s in planned.stages] == ["pending"] * 6 and not run.exists()

    monkeypatch.setattr(categorize, "train_and_score", flaky)
    counts: list[tuple[str, int, int]] = []
    with pytest.raises(KeyboardInterrupt):
        run_categorize(config, lambda e: counts.append((e.stage, e.index, e.count)) if e.kind == "stage" else None)
    # The stage count is known once assess has decided the variants, and never changes after that.
    assert counts[0] == ("assess", 1, 0) and {n for _, _, n in counts[1:]} == {6}
    # After the interruption, the plan shows what a rerun will do.
    planned = plan_categorize(config)
    assert [s.name for s in planned.stages if s.status == "pending"] == ["mlm seed 1"]
    assert not (run / "results.json").exists()
    [trained] = list((run / "stages").glob("mlm_seed_1-*/model/train.json"))
    trained_at = trained.stat().st_mtime_ns
    monkeypatch.setattr(categorize, "train_and_score", real_train_and_score)

    events: list[tuple[str, str]] = []
    result = run_categorize(config, lambda e: events.append((e.kind, e.stage)) if e.kind in ("skip", "stage") else None)
    status = {s.name: s.status for s in result.stages}
    # assess, data, adapt and the first two model runs were finished before the interruption: reused. The third
    # had trained its model but not scored it: the stage reruns, and finds the trained model.
    assert [n for n, s in status.items() if s == "reused"] == ["assess", "data", "adapt", "baseline seed 1",
                                                               "direct seed 1"]
    assert [n for n, s in status.items() if s == "ran"] == ["mlm seed 1"]
    assert ("skip", "assess") in events and ("stage", "mlm seed 1") in events
    assert trained.stat().st_mtime_ns == trained_at  # the model was not trained again

    r = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert r == json.loads(json.dumps(result.to_dict()))
    assert sorted(p.name for p in run.iterdir()) == [
        "report.md", "results.json", "run.json", "scores.png", "stages", "tokenizer.png"]
    assert set(r["variants"]) == {"baseline", "direct", "mlm"} and r["translit"]["scheme"] is None
    assert r["data"]["n_train_sentences"] == 12 and r["data"]["n_test_sentences"] == 10
    # The verdict follows from the measured means, by the definition.
    for task, metric in (("upos", "upos"), ("las", "las")):
        mean = {v: r["variants"][v][metric]["mean"] for v in r["variants"]}
        expected = ("easy" if mean["direct"] > mean["baseline"] else
                    "intermediate" if mean["mlm"] > mean["baseline"] else "hard")
        assert r["verdict"]["tasks"][task]["measured"] == expected
        # one-epoch runs end at their best epoch: still improving, so no category where they could overturn it
        assert r["verdict"]["tasks"][task]["category"] in (expected, "undecided: budget")
        d = r["differences"][task]["direct - baseline"]
        assert d["diff"] == pytest.approx(mean["direct"] - mean["baseline"], abs=1e-3)
        assert d["ci_low"] <= d["ci_high"] and d["within_noise"] == (d["ci_low"] <= 0 <= d["ci_high"])
    order = ["easy", "intermediate", "hard"]
    assert r["verdict"]["measured"] == max((t["measured"] for t in r["verdict"]["tasks"].values()), key=order.index)
    if r["verdict"]["category"] == "undecided: budget":
        assert r["verdict"]["budget"] and "rerun with --" in r["verdict"]["budget"][0]
    assert r["prediction_vs_measured"]["measured"] == r["verdict"]["category"]
    assert r["adaptation"]["none"]["steps"] == 2
    md = (run / "report.md").read_text(encoding="utf-8")
    assert f"**Measured category: {r['verdict']['category']}**" in md
    # What training did comes from each run's train.json: the baseline ran its one planned epoch, no early stopping.
    [baseline] = r["variants"]["baseline"]["runs"]
    assert (baseline["epochs_run"], baseline["epochs_planned"], baseline["stopped_early"]) == (1, 1, False)
    assert "- baseline: epochs run 1 of 1 planned; early stopping off" in md
    # The other CoNLL 2018 metrics are reported per variant (mean over seeds), beside the verdict's UPOS and LAS.
    assert r["variants"]["baseline"]["other_metrics"]["mlas"]["mean"] == pytest.approx(baseline["scores"]["mlas"])
    assert "| variant | XPOS | UFeats | AllTags | LEMMA | CLAS | MLAS | BLEX |" in md

    # A complete rerun reuses everything and reproduces the same numbers.
    again = run_categorize(config).to_dict()
    assert {s["status"] for s in again["stages"]} == {"reused"}
    assert again["variants"] == r["variants"] and again["verdict"] == r["verdict"]

    # Stages are keyed by content, not by where the run directory is: a copy, named by an absolute path, reuses
    # every stage, and its results point into the copy.
    copy = (tmp_path / "elsewhere" / "run-copy").absolute()
    shutil.copytree(run, copy)
    moved = run_categorize(_config(toy_treebanks, tiny_bert_dir, copy, seeds=1, translit="auto"))
    assert {s.status for s in moved.stages} == {"reused"}
    assert moved.to_dict()["verdict"] == r["verdict"]
    assert all(Path(run.model).is_relative_to(copy) for v in moved.variants.values() for run in v.runs)

    # More seeds: only the new runs are trained (the bootstrap settings are not a stage: nothing reruns for them).
    more = run_categorize(_config(toy_treebanks, tiny_bert_dir, run, seeds=2, n_bootstrap=300, translit="auto"))
    assert [s.name for s in more.stages if s.status == "ran"] == ["baseline seed 2", "direct seed 2", "mlm seed 2"]
    r = more.to_dict()
    assert r["variants"]["mlm"]["seeds"] == 2 and r["statistics"]["n_bootstrap"] == 300


def test_categorize_errors(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--seeds"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", seeds=0))
    with pytest.raises(UsageError, match="unknown transliteration .*valid: .*table:ug-uly"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", translit="table:nope"))
    with pytest.raises(UsageError, match="--test .*no such file"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", test=str(tmp_path / "missing.conllu")))
    # A binary corpus fails before the run directory exists: nothing is left behind.
    binary = tmp_path / "corpus.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InputError, match="corpus.bin.*binary"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "r", corpus=str(binary)))
    assert not (tmp_path / "r").exists()
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="not a categorize run directory"):
        run_categorize(_config(toy_treebanks, tiny_bert_dir, stranger, force=True))
    assert (stranger / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_cli_categorize_bad_input(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tx\n", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-c", "from adaptlang.cli.main import main; main()", "categorize",
         "--corpus", str(toy_treebanks["corpus"]), "--train", str(bad), "--test", str(toy_treebanks["test"]),
         "--model", str(tiny_bert_dir), "-o", str(tmp_path / "run"), "--translit", "none"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("adaptlang: error:"), r.stderr
    assert "Traceback" not in r.stderr and "bad.conllu:1" in r.stderr


@pytest.mark.parametrize("jobs,after", [(1, "data: done"), (1, "adapt: done"),
                                        pytest.param(2, "data: done", marks=pytest.mark.slow)])
def test_cli_ctrl_c_then_resume(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path,
                                jobs: int, after: str) -> None:
    """Ctrl-C in the middle (in the adaptation, or in a training run after it): one line saying how to resume
    (this command's hint, not train's --resume), exit 130; the same command then finishes the run. With --jobs 2
    the signal reaches the parent only (as from ``kill -INT``): it stops the workers itself."""
    import signal

    t = toy_treebanks
    args = [sys.executable, "-c", "from adaptlang.cli.main import main; main()", "categorize",
            "--corpus", str(t["corpus"]), "--train", str(t["train"]), "--test", str(t["test"]),
            "--model", str(tiny_bert_dir), "-o", str(tmp_path / "run"), "--translit", "none", "--seeds", "1",
            "--epochs", "1", "--baseline-epochs", "1", "--adapt-steps", "2", "--no-baseline-corpus",
            "--bootstrap", "200", "--device", "cpu", "--jobs", str(jobs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # a shell's background job inherits SIGINT ignored; give the child the default disposition, as a terminal would
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if after in line:  # the next stage is under way: interrupt it
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    lines = [x for x in (rest.strip().splitlines()) if x.strip()]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "rerun the same command to resume" in lines[-1] and "Traceback" not in rest
    assert "--resume" not in lines[-1], lines[-1]
    r = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "assess: reused" in r.stderr and "data: reused" in r.stderr
    assert "Measured category" in r.stdout


@pytest.mark.slow
def test_categorize_jobs_2_gives_the_results_of_jobs_1(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                                      tmp_path: Path) -> None:
    """--jobs 2: the adaptation and the runs of two seeds go to two worker processes (mlm after adapt); the
    numbers are those of --jobs 1, and every stage's start and end reaches the caller."""
    one = run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "one")).to_dict()
    events: list[tuple[str, str]] = []
    two = run_categorize(_config(toy_treebanks, tiny_bert_dir, tmp_path / "two", jobs=2),
                         lambda e: events.append((e.kind, e.stage)) if e.kind in ("stage", "done") else None)
    r = two.to_dict()
    for part in ("variants", "differences", "verdict", "adaptation", "data"):
        assert _numbers(r[part], "two") == _numbers(one[part], "one"), part
    assert [s["name"] for s in r["stages"]] == [s["name"] for s in one["stages"]]
    assert {s["status"] for s in r["stages"]} == {"ran"}
    names = [s["name"] for s in r["stages"]]
    assert all(("stage", n) in events and ("done", n) in events for n in names)
    assert events.index(("done", "adapt")) < min(events.index(("stage", f"mlm seed {k}")) for k in (1, 2))
    saved = json.loads((tmp_path / "two" / "results.json").read_text(encoding="utf-8"))
    assert _numbers(saved["variants"], "two") == _numbers(one["variants"], "one")


def _numbers(value: object, run: str) -> object:
    """``value`` without wall times, speeds and memory, and with the run directory's name replaced (the numbers must be equal)."""
    if isinstance(value, dict):
        return {k: _numbers(v, run) for k, v in value.items()
                if not any(w in k for w in ("second", "minute", "memory"))}
    if isinstance(value, list):
        return [_numbers(v, run) for v in value]
    return value.replace(f"/{run}/", "/RUN/") if isinstance(value, str) else value


def test_bilstm_runs_default_to_the_epochs_measured_to_converge(toy_treebanks: dict[str, Path], tiny_bert_dir: Path,
                                                                 tmp_path: Path) -> None:
    """Without --baseline-epochs, every parsing BiLSTM run (the baseline; each variant in features mode) gets 80
    epochs (what converged on Wolof-WTB; 40 did not), NER's BiLSTM-CRF the baseline's own 40; the option wins."""
    from adaptlang.pipeline.categorize import PARSE_BASELINE_EPOCHS, _trainer

    c = _config(toy_treebanks, tiny_bert_dir, tmp_path / "run", baseline_epochs=None, mode="features")
    assert PARSE_BASELINE_EPOCHS == 80 and c.bilstm_epochs("parse") == 80 and c.bilstm_epochs("ner") == 40
    for variant in ("baseline", "direct"):
        assert _trainer(c, variant, None, None, c.train, 1, "out").epochs == 80  # type: ignore[arg-type]
    assert c.to_dict()["bilstm_epochs"] == {"parse": 80, "ner": 40}
    given = _config(toy_treebanks, tiny_bert_dir, tmp_path / "run", baseline_epochs=7)
    assert given.bilstm_epochs("parse") == given.bilstm_epochs("ner") == 7
    assert _trainer(given, "baseline", None, None, given.train, 1, "out").epochs == 7  # type: ignore[arg-type]
