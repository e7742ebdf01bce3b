"""adapt to convergence: held-out MLM loss during training, early stopping, best weights, the head warm-up, and a
corpus too small for the passes asked (tiny in-process models, as in test_adapt)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adaptlang.adapt import AdaptConfig, adapt_model
from adaptlang.errors import InputError
from tests.test_adapt import UYGHUR, _uyghur_lines, make_bert


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bert(tmp_path_factory.mktemp("bert") / "m", _uyghur_lines())


def _cfg(model: Path, out: Path, **kw: object) -> AdaptConfig:
    base = dict(corpus=str(UYGHUR), model=str(model), output=str(out), batch_size=8, max_seq_len=48,
                pppl_tokens=16, save_every=1000)
    base.update(kw)
    return AdaptConfig(**base)  # type: ignore[arg-type]


def test_heldout_curve_early_stopping_and_best_weights(bert_dir: Path, tmp_path: Path) -> None:
    # a learning rate far too high: the held-out loss soon stops falling, and patience ends the run
    r = adapt_model(_cfg(bert_dir, tmp_path / "out", epochs=30, eval_every=4, patience=2, lr=5e-2, warmup=0.0))
    curve = [p["mlm_loss"] for p in r.heldout_curve]
    assert r.data["stop_reason"] == "patience" and len(curve) >= 3
    assert [p["step"] for p in r.heldout_curve] == [4 * (i + 1) for i in range(len(curve))]
    assert min(curve) < curve[-1] and r.data["best_step"] == r.heldout_curve[curve.index(min(curve))]["step"]
    # the weights kept are the best evaluation's: scored again after training, the same fixed masks give its loss
    assert r.heldout["mlm_loss_after"] == pytest.approx(min(curve), abs=1e-4)
    assert r.steps == len(curve) * 4 and r.steps < 30 * r.data["total_steps"] / 30


def test_epochs_are_whole_passes_with_an_evaluation_each(bert_dir: Path, tmp_path: Path) -> None:
    r = adapt_model(_cfg(bert_dir, tmp_path / "out", epochs=2, patience=0, lr=1e-3))
    per_pass = r.data["total_steps"] // 2
    assert r.data["stop_reason"] == "completed" and r.steps == 2 * per_pass
    assert [p["step"] for p in r.heldout_curve] == [per_pass, 2 * per_pass]
    assert r.data["epochs"] == pytest.approx(2.0, abs=0.2)


def test_head_warmup_trains_the_fresh_head_alone_first(bert_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    r = adapt_model(_cfg(bert_dir, tmp_path / "out", epochs=1, eval_every=3, head_warmup=True, head_lr=5e-3))
    w = r.head_warmup
    assert w is not None and w["steps"] > 0 and w["heldout_curve"] and w["lr"] == 5e-3
    # the warm-up lowered the fresh head's loss before the encoder moved at all
    assert w["mlm_loss"] < r.heldout["mlm_loss_before"]
    assert r.heldout["mlm_loss_after"] <= w["mlm_loss"] + 0.05
    weights = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert any(k.startswith("cls.predictions.transform") for k in weights)
    assert not (tmp_path / "out" / "checkpoints" / "head-warmup").exists()


def test_head_warmup_is_skipped_for_a_shipped_head(tmp_path: Path) -> None:
    model = make_bert(tmp_path / "m", _uyghur_lines(), with_head=True)
    r = adapt_model(_cfg(model, tmp_path / "out", steps=3, head_warmup=True))
    assert r.head == "shipped" and r.head_warmup is None


def test_corpus_too_small_for_the_passes_asked(bert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"too small for --epochs 0\.01.*less than one batch of 8"):
        adapt_model(_cfg(bert_dir, tmp_path / "out", epochs=0.01))
    assert not (tmp_path / "out").exists()


def test_cli_options_reach_the_run(bert_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from adaptlang.cli.main import app

    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["adapt", str(UYGHUR), "--model", str(bert_dir), "-o", str(out), "--epochs", "1",
                                   "--eval-every", "5", "--patience", "1", "--batch-size", "8", "--max-seq-len", "48",
                                   "--pppl-tokens", "8", "--head-warmup", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "head warm-up:" in res.output and "stopped:" in res.output
    bad = CliRunner().invoke(app, ["adapt", str(UYGHUR), "--model", str(bert_dir), "-o", str(tmp_path / "o2"),
                                   "--patience", "-1"])
    assert bad.exit_code != 0 and "--patience" in bad.output + str(bad.exception)


def test_probe_treebank_before_and_after(bert_dir: Path, tmp_path: Path, toy_treebanks: dict[str, Path]) -> None:
    from typer.testing import CliRunner

    from adaptlang.cli.main import app

    out = tmp_path / "out"
    args = ["adapt", str(UYGHUR), "--model", str(bert_dir), "-o", str(out), "--steps", "2", "--batch-size", "8",
            "--max-seq-len", "48", "--pppl-tokens", "8", "--threads", "1"]
    res = CliRunner().invoke(app, args + ["--probe-treebank", str(toy_treebanks["train"])])
    assert res.exit_code == 0, res.output
    probe = (out / "probe.json").read_text(encoding="utf-8")
    assert '"kind": "probe"' in probe and len(__import__("json").loads(probe)["curves"]) == 2
    assert "| layer |" in (out / "probe.md").read_text(encoding="utf-8") and "word-form lookup" in res.output
    # a probe treebank without UPOS fails before any training, leaving nothing behind
    no_upos = tmp_path / "no-upos.conllu"
    no_upos.write_text("# text = a b\n1\ta\t_\t_\t_\t_\t0\troot\t_\t_\n2\tb\t_\t_\t_\t_\t1\tdep\t_\t_\n\n" * 6,
                       encoding="utf-8")
    bad = CliRunner().invoke(app, [*args[:5], str(tmp_path / "o2"), *args[6:], "--probe-treebank", str(no_upos)])
    assert bad.exit_code != 0 and "UPOS" in bad.output + str(bad.exception) and not (tmp_path / "o2").exists()


def test_a_time_budget_is_the_stop_reason(bert_dir: Path, tmp_path: Path) -> None:
    r = adapt_model(_cfg(bert_dir, tmp_path / "out", epochs=30, max_minutes=0.003, patience=0))
    assert r.data["stop_reason"] == "time budget" and r.steps < r.data["total_steps"]
