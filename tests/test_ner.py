"""NER on the training core end to end: the task's hooks on tiny in-process data (BiLSTM-CRF and a tiny BERT),
the model directory, evaluate / predict through the CLI (dispatch by config kind), one-line errors, and scores that
agree with seqeval on a model's real outputs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from adaptlang.baseline import BaselineConfig
from adaptlang.data.ner import read_ner, repair_iob2
from adaptlang.errors import OutputExistsError
from adaptlang.tasks.ner import (NERConfig, NERTask, baseline_ner_config, evaluate_ner_model, load_tagger,
                                 predict_tags, train_ner)

pytestmark = pytest.mark.usefixtures("one_thread")

NER = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner"
NAMES = ["Awa", "Moussa Diop", "Fatou", "Ibrahima Sarr"]
PLACES = ["Dakar", "Thiès", "Saint Louis"]


def toy_ner(n: int, seed: int) -> str:
    """``VERB PERSON ci PLACE``: entities of one or two tokens, after fixed context words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rows = [(rng.choice(["dem", "gis", "xam"]), "O")]
        for etype, pool in (("PER", NAMES), ("LOC", PLACES)):
            rows += [(w, ("B-" if i == 0 else "I-") + etype) for i, w in enumerate(rng.choice(pool).split())]
            if etype == "PER":
                rows.append(("ci", "O"))
        out.append("\n".join(f"{w} {t}" for w, t in rows) + "\n")
    return "\n".join(out)


@pytest.fixture
def toy(tmp_path: Path) -> dict[str, Path]:
    files = {"train": tmp_path / "train.txt", "dev": tmp_path / "dev.txt"}
    files["train"].write_text(toy_ner(60, 1), encoding="utf-8")
    files["dev"].write_text(toy_ner(15, 2), encoding="utf-8")
    return files


def small_baseline(toy: dict[str, Path], out: Path, **kw) -> NERConfig:
    b = BaselineConfig(train=str(toy["train"]), dev=str(toy["dev"]), out=str(out), hidden=16, n_layers=1,
                       word_dim=16, char_dim=8, char_hidden=16, char_out=16, batch_size=8, device="cpu", seed=1,
                       **{"epochs": 8, "lr": 5e-3, **kw})
    return baseline_ner_config(b)


def test_bilstm_crf_learns_and_round_trips(toy: dict[str, Path], tmp_path: Path) -> None:
    result = train_ner(small_baseline(toy, tmp_path / "m"))
    assert result.dev["f1"] > 90, result.dev
    model = tmp_path / "m"
    for name in ("config.json", "heads.safetensors", "tags.json", "metrics.json", "train.json", "README.md",
                 "encoder/lexicon.json"):
        assert (model / name).is_file(), name
    config = json.loads((model / "config.json").read_text())
    assert config["kind"] == "adaptlang-ner" and config["encoder"]["kind"] == "bilstm" and config["heads"]["crf"]
    loaded = load_tagger(model, "cpu")
    dev = read_ner(toy["dev"])
    preds = predict_tags(loaded, [s.tokens for s in dev])
    assert all(repair_iob2(p) == p for p in preds)  # always valid IOB2
    ev = evaluate_ner_model(model, toy["dev"], device="cpu", n_bootstrap=100)
    assert ev.scores.f1 == pytest.approx(result.dev["f1"]) and ev.counts is not None
    assert ev.counts[:, :3].sum(axis=0).tolist() == [ev.scores.overall.n_correct, ev.scores.overall.n_pred,
                                                     ev.scores.overall.n_gold]
    with pytest.raises(OutputExistsError):
        train_ner(small_baseline(toy, model))


def test_hooks_batches_are_a_pure_function_of_the_epoch(toy: dict[str, Path], tmp_path: Path) -> None:
    import torch

    from adaptlang.data.vocab import LabelVocab
    from adaptlang.models import get_encoder_class
    from adaptlang.models.crf import TaggerConfig, TokenTagger
    from adaptlang.tasks.ner import LoadedTagger

    config = small_baseline(toy, tmp_path / "m")
    train = read_ner(toy["train"])
    tags = LabelVocab("tags", ("O", "B-LOC", "I-LOC", "B-PER", "I-PER"))
    enc = get_encoder_class("bilstm").build(config.encoder.to_dict(), [s.tokens for s in train])
    model = TokenTagger(enc, TaggerConfig(len(tags)), tags.labels)
    task = NERTask(LoadedTagger(model, tags, {}, torch.device("cpu")), train, read_ner(toy["dev"]), config)
    assert task.batches(3) == task.batches(3) and task.batches(3) != task.batches(4)
    assert sum(len(b) for b in task.batches(1)) == 60
    loss, units = task.train_step(model, task.batches(1)[0], torch.device("cpu"))
    assert loss.ndim == 0 and torch.isfinite(loss) and units["sentences"] == len(task.batches(1)[0])
    assert set(task.evaluate(model, torch.device("cpu"))) == {"f1", "precision", "recall"}
    assert len(task.param_groups()) == 1  # from scratch: one learning rate


def test_cli_train_evaluate_predict_with_a_transformer(toy: dict[str, Path], tmp_path: Path, tiny_bert_dir: Path,
                                                        run_cli) -> None:
    out = tmp_path / "ner"
    r = run_cli("train", "--task", "ner", "--train", str(toy["train"]), "--dev", str(toy["dev"]), "--model",
                str(tiny_bert_dir), "-o", str(out), "--epochs", "2", "--threads", "1", "-q", "--lr", "1e-3")
    assert r.returncode == 0, r.stderr
    assert "dev entity F1" in r.stdout
    enc = json.loads((out / "config.json").read_text())["encoder"]
    assert enc["kind"] == "transformer" and (out / "encoder").is_dir()
    r = run_cli("evaluate", str(out), str(toy["dev"]), "--json", "-", "--bootstrap", "50")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert scores["task"] == "ner" and set(scores["ci"]) == {"precision", "recall", "f1"}
    raw = tmp_path / "raw.txt"
    raw.write_text("gis Awa ci Dakar\ndem Fatou\n", encoding="utf-8")
    r = run_cli("predict", str(out), str(raw), "-o", str(tmp_path / "pred.txt"), "--scheme", "bioes")
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "pred.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines if ln] == ["gis", "Awa", "ci", "Dakar", "dem", "Fatou"]
    assert all(ln.split()[-1][0] in "OBIES" for ln in lines if ln)
    r = run_cli("predict", str(out), str(toy["dev"]), "-o", str(tmp_path / "pred2.txt"))  # labelled input
    assert r.returncode == 0 and len((tmp_path / "pred2.txt").read_text().splitlines()[0].split()) == 2
    r = run_cli("predict", str(out), str(raw), "-o", str(tmp_path / "pred3.txt"), "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # -q: no summary line for an NER model either


@pytest.mark.parametrize("args, message", [
    (["--task", "pos"], "--task 'pos'; valid: parse, ner"),
    (["--task", "ner", "--scheme", "bio"], "--scheme 'bio'; valid: auto, iob2, iob1, bioes"),
])
def test_cli_bad_options(toy: dict[str, Path], tmp_path: Path, run_cli, args: list[str], message: str) -> None:
    r = run_cli("baseline", "--train", str(toy["train"]), "-o", str(tmp_path / "x"), *args)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_cli_malformed_data_is_one_line(tmp_path: Path, run_cli) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Awa B-PER\nDiop I-LOC\n\nxam O\n", encoding="utf-8")
    r = run_cli("baseline", "--task", "ner", "--train", str(bad), "-o", str(tmp_path / "x"), "-q")
    assert r.returncode == 1 and f"{bad}:2: I-LOC follows B-PER" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_cli_baseline_ner_and_evaluate_predictions(toy: dict[str, Path], tmp_path: Path, run_cli) -> None:
    out = tmp_path / "bl"
    r = run_cli("baseline", "--task", "ner", "--train", str(toy["train"]), "--dev", str(toy["dev"]), "-o", str(out),
                "--epochs", "2", "--hidden", "16", "--layers", "1", "-q", "--threads", "1")
    assert r.returncode == 0, r.stderr
    r = run_cli("evaluate", str(out), str(toy["dev"]), "--save-predictions", str(tmp_path / "p.txt"))
    assert r.returncode == 0 and "entity type" in r.stdout and (tmp_path / "p.txt").is_file()


@pytest.mark.slow
def test_scores_agree_with_seqeval_on_real_outputs(tmp_path: Path) -> None:
    """A BiLSTM-CRF trained briefly on MasakhaNER Wolof: its predictions on dev are scored as seqeval scores them."""
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.scheme import IOB2

    if not (NER / "wol").is_dir():
        pytest.skip("../shared/data/ner is absent")
    blocks = {name: (NER / "wol" / f"{name}.txt").read_text(encoding="utf-8").split("\n\n")
              for name in ("train", "dev")}
    for name, n in (("train", 300), ("dev", 200)):
        (tmp_path / f"{name}.txt").write_text("\n\n".join(blocks[name][:n]) + "\n", encoding="utf-8")
    b = BaselineConfig(train=str(tmp_path / "train.txt"), dev=str(tmp_path / "dev.txt"), out=str(tmp_path / "m"),
                       epochs=4, hidden=64, n_layers=1, batch_size=8, device="cpu", lr=2e-3, dropout=0.0,
                       word_dropout=0.0)
    train_ner(baseline_ner_config(b))
    gold = read_ner(tmp_path / "dev.txt")
    preds = predict_tags(load_tagger(tmp_path / "m", "cpu"), [s.tokens for s in gold])
    ev = evaluate_ner_model(tmp_path / "m", tmp_path / "dev.txt", device="cpu", n_bootstrap=0)
    g = [s.tags for s in gold]
    assert ev.scores.overall.n_pred > 0
    assert ev.scores.f1 / 100 == pytest.approx(seqeval.f1_score(g, preds, mode="strict", scheme=IOB2))
    assert ev.scores.f1 / 100 == pytest.approx(seqeval.f1_score(g, preds))  # conlleval's reading: same on valid IOB2
    report = seqeval.classification_report(g, preds, mode="strict", scheme=IOB2, output_dict=True)
    for etype, v in ev.scores.per_type.items():
        assert v.precision / 100 == pytest.approx(report[etype]["precision"])


def test_conllu_misc_ne_train_and_predict(toy: dict[str, Path], tmp_path: Path, run_cli) -> None:
    """NER held in CoNLL-U MISC NE= (a file named *.conllu): trained on, and predicted back into MISC."""
    blocks = []
    for k, s in enumerate(read_ner(toy["train"]), start=1):
        rows = [f"{i}\t{w}\t_\t_\t_\t_\t_\t_\t_\t{'NE=' + t if t != 'O' else '_'}"
                for i, (w, t) in enumerate(zip(s.tokens, s.tags), start=1)]
        blocks.append(f"# sent_id = {k}\n" + "\n".join(rows) + "\n")
    conllu = tmp_path / "train.conllu"
    conllu.write_text("\n".join(blocks) + "\n", encoding="utf-8")
    out = tmp_path / "m"
    r = run_cli("baseline", "--task", "ner", "--train", str(conllu), "-o", str(out), "--epochs", "6", "--hidden",
                "16", "--layers", "1", "-q", "--lr", "5e-3")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["train"]["data_format"] == "conllu"
    r = run_cli("predict", str(out), str(conllu), "-o", str(tmp_path / "p.conllu"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "p.conllu").read_text()
    assert text.count("NE=") == sum(s.n_tokens for s in read_ner(toy["train"])) and "# sent_id = 1" in text
