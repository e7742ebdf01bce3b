"""``adaptlang baseline`` end to end on tiny inline treebanks: training (with and without dev, with corpus vectors),
the saved model loading through the shared evaluate/predict, learning a simple language, one-line errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from adaptlang.baseline import BaselineConfig, train_baseline
from adaptlang.errors import OutputExistsError
from adaptlang.tasks import evaluate_model, load_parser, predict

pytestmark = pytest.mark.usefixtures("one_thread")


NOUNS = ["xale", "jigéen", "góor", "fas", "téere", "kër", "ndox", "mburu"]
VERBS = ["gis", "lekk", "jënd", "bind", "naan", "xam"]
DETS = ["bi", "yi", "ji"]


def synthetic_treebank(n: int, seed: int) -> str:
    """A toy SVO language: NOUN DET VERB NOUN DET (. ) with fixed heads, so a working parser learns it fast."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s, o = rng.choice(NOUNS), rng.choice(NOUNS)
        rows = [(s, "NOUN", 3, "nsubj"), (rng.choice(DETS), "DET", 1, "det"), (rng.choice(VERBS), "VERB", 0, "root"),
                (o, "NOUN", 3, "obj"), (rng.choice(DETS), "DET", 4, "det")]
        if rng.random() < 0.5:
            rows.append((".", "PUNCT", 3, "punct"))
        out.append(f"# sent_id = s{i}\n# text = {' '.join(r[0] for r in rows)}")
        out.append("\n".join(f"{k}\t{f}\t_\t{u}\t_\t_\t{h}\t{d}\t_\t_" for k, (f, u, h, d) in enumerate(rows, 1)))
        out.append("")
    return "\n".join(out) + "\n"


def small(tmp_path: Path, **kw) -> BaselineConfig:
    train = tmp_path / "train.conllu"
    if not train.exists():
        train.write_text(synthetic_treebank(40, 1), encoding="utf-8")
    base = dict(train=str(train), out=str(tmp_path / "model"), epochs=3, hidden=16, n_layers=1, word_dim=16,
                char_dim=8, char_hidden=16, char_out=16, arc_dim=32, rel_dim=16, batch_size=8, device="cpu",
                patience=0, seed=1)
    base.update(kw)
    return BaselineConfig(**base)



def test_learns_a_simple_language_and_loads_through_shared_commands(tmp_path: Path) -> None:
    dev = tmp_path / "dev.conllu"
    dev.write_text(synthetic_treebank(15, 2), encoding="utf-8")
    result = train_baseline(small(tmp_path, dev=str(dev), epochs=25, lr=5e-3))
    assert result.encoder["kind"] == "bilstm" and result.n_dev_sentences == 15
    assert result.dev["upos"] > 95 and result.dev["las"] > 85, result.dev
    model = Path(result.out)
    assert (model / "encoder" / "lexicon.json").is_file() and (model / "encoder" / "encoder.safetensors").is_file()
    # The shared loader rebuilds it from config.json alone, and scores it as during training.
    loaded = load_parser(model, device="cpu")
    assert type(loaded.model.encoder).__name__ == "BiLSTMWordEncoder"
    scores = evaluate_model(model, dev, n_bootstrap=0, device="cpu").scores
    assert scores.las == pytest.approx(result.dev["las"])
    text = tmp_path / "in.txt"
    text.write_text("góor bi gis xale yi .\nunknownword bi lekk mburu ji\n", encoding="utf-8")
    out = tmp_path / "pred.conllu"
    steps: list[tuple[int, int]] = []
    predict(model, str(text), str(out), device="cpu", batch_size=1, progress=lambda e: steps.append((e.step, e.total)))
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines() if line and line[0].isdigit()]
    assert len(rows) == 11 and sum(r[7] == "root" for r in rows) == 2
    assert sorted(steps) == [(1, 2), (2, 2)]  # sentences done, after each batch


def test_no_dev_holds_out_and_tiny_treebank(tmp_path: Path) -> None:
    train = tmp_path / "train.conllu"
    train.write_text(synthetic_treebank(19, 3), encoding="utf-8")  # as small as the smallest shared treebanks
    result = train_baseline(small(tmp_path, epochs=2))
    assert result.n_train_sentences == 18 and result.n_dev_sentences == 1
    config = json.loads((Path(result.out) / "config.json").read_text())
    assert config["train"]["dev_source"] == "last 1 sentences of train"
    assert config["train"]["batch_size"] == 2  # tiny treebank: smaller batches, more than one update per epoch
    assert config["train"]["patience"] == 0  # and no early stopping on a one-sentence dev set
    with pytest.raises(OutputExistsError):
        train_baseline(small(tmp_path, epochs=1))
    again = train_baseline(small(tmp_path, epochs=1, force=True))
    assert again.epochs_run == 1


def test_corpus_vectors_are_trained_and_saved(tmp_path: Path) -> None:
    corpus = tmp_path / "raw.txt"
    corpus.write_text("\n".join(["góor bi gis xale yi .", "jigéen ji naan ndox .", "newword bi lekk fas wi"] * 20),
                      encoding="utf-8")
    from adaptlang.baseline import EmbeddingConfig

    result = train_baseline(small(tmp_path, corpus=str(corpus), epochs=1,
                                  embedding=EmbeddingConfig(dim=8, epochs=1, batch_size=64)))
    info = result.encoder["pretrained_info"]
    assert info["source"] == "skipgram" and info["dim"] == 8 and info["tokens"] == 320
    assert result.encoder["pretrained_vectors"] is None  # the model does not depend on the source file
    assert not list(tmp_path.glob(".model*"))  # the vector cache is removed after success
    encoder = load_parser(result.out, device="cpu").model.encoder
    assert encoder.lexicon.pretrained_id("newword") > 1  # a word only the corpus has got a vector


def test_cli_end_to_end_and_errors(tmp_path: Path, run_cli) -> None:
    train = tmp_path / "train.conllu"
    train.write_text(synthetic_treebank(30, 4), encoding="utf-8")
    out = tmp_path / "m"
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--epochs", "2", "--hidden", "16", "--layers",
                "1", "--device", "cpu", "--json", "-", "--quiet", "--threads", "1", "--beta2", "0.9")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["epochs_run"] == 2 and result["n_dev_sentences"] == 3 and result["encoder"]["hidden"] == 16
    assert json.loads((out / "config.json").read_text())["train"]["adam_beta2"] == 0.9
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--quiet")
    assert r.returncode == 1 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("baseline", "--train", str(train), "-o", str(tmp_path / "x"), "--char-model", "gru")
    assert r.returncode == 2 and "valid: lstm, cnn" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("baseline", "--train", str(tmp_path / "none.conllu"), "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run_cli("evaluate", str(out), str(train), "--json", "-", "--device", "cpu", "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n_words"] > 150
    assert not (tmp_path / "x").exists()
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--force", "--epochs", "1", "--hidden", "8",
                "--layers", "1", "--lr", "-1", "--quiet")
    assert r.returncode == 2 and "--lr must be a positive finite number, got -1.0" in r.stderr
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--force", "--beta2", "1", "--quiet")
    assert r.returncode == 2 and r.stderr.strip() == "adaptlang: error: --beta2 must be a number in [0, 1), got 1.0"
    r = run_cli("baseline", "--train", str(train), "-o", str(out), "--force", "--patience", "-1", "--quiet")
    assert r.returncode == 2 and r.stderr.strip() == "adaptlang: error: --patience must be an integer >= 0, got -1"


@pytest.mark.slow
def test_shared_tiny_treebanks(shared_ud: Path, tmp_path: Path) -> None:
    """The smallest shared train sets (about 20 sentences, no dev file) train without crashing."""
    for name in ("UD_Buryat-BDT", "UD_Livvi-KKPP", "UD_Komi_Zyrian-Lattice"):
        train = next((shared_ud / name).glob("*-train.conllu"))
        result = train_baseline(BaselineConfig(train=str(train), out=str(tmp_path / name), epochs=2, device="cpu"))
        assert result.n_dev_sentences >= 1 and 0 <= result.dev["las"] <= 100


def test_cpu_bf16_autocast_trains_as_well(tmp_path: Path) -> None:
    """--cpu-bf16: the same model trained under bf16 autocast on the CPU learns the synthetic language as float32
    does, and its weights are saved in float32 (what evaluate and predict load)."""
    dev = tmp_path / "dev.conllu"
    dev.write_text(synthetic_treebank(15, 2), encoding="utf-8")
    runs = {}
    for bf16 in (False, True):
        out = tmp_path / f"model-{bf16}"
        r = train_baseline(small(tmp_path, dev=str(dev), epochs=25, lr=5e-3, cpu_bf16=bf16, out=str(out)))
        runs[bf16] = r.dev
        assert r.dev["upos"] > 95 and r.dev["las"] > 85, (bf16, r.dev)
    losses = {b: [e["train_loss"] for e in json.loads((tmp_path / f"model-{b}" / "metrics.json").read_text())["epochs"]]
              for b in (False, True)}
    assert losses[True] != losses[False]  # autocast was on: the arithmetic differs
    loaded = load_parser(tmp_path / "model-True", device="cpu")
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    assert json.loads((tmp_path / "model-True" / "config.json").read_text())["train"]["cpu_bf16"] is True
