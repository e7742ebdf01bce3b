"""``adaptlang analyze probe``: per-layer linear UPOS probes on frozen vectors (the features mode's, every layer
kept), the held-out split, the no-model reference rows, the library result adapt can render, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from adaptlang.analysis.probe import (ProbeConfig, TaggedSentences, baselines, fit_probe, layer_features,
                                      probe_models, split_treebank)
from adaptlang.errors import InputError, UsageError

pytestmark = pytest.mark.usefixtures("one_thread")

NO_UPOS = "# text = a b\n1\ta\ta\t_\t_\t_\t2\tdet\t_\t_\n2\tb\tb\t_\t_\t_\t0\troot\t_\t_\n\n"


def test_fit_probe_separates_separable_tags_and_not_random_ones() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)  # 4 tags, linear in the features
    acc, converged = fit_probe(x[:300], y[:300], x[300:], y[300:], c=10.0, max_iter=1000)
    assert acc > 90 and converged  # chance is 25 %
    noise = rng.integers(0, 4, size=400)
    acc, _ = fit_probe(x[:300], noise[:300], x[300:], noise[300:], c=1.0, max_iter=1000)
    assert acc < 45  # chance is 25 %


def test_an_eval_tag_never_seen_in_training_counts_as_an_error() -> None:
    x = np.eye(4, dtype=np.float32)[[0, 1, 0, 1]]
    acc, _ = fit_probe(x, np.array([0, 1, 0, 1]), x[:2], np.array([0, -1]), c=100.0, max_iter=100)
    assert acc == 50.0


def test_held_out_slice_and_caps(toy_treebanks: dict[str, Path]) -> None:
    train, held, source = split_treebank(ProbeConfig(models=("m",), train=str(toy_treebanks["train"])))
    assert (len(train.forms), len(held.forms)) == (13, 3) and source.startswith("held-out")  # 16 sentences: 1/5 out
    train, held, source = split_treebank(ProbeConfig(models=("m",), train=str(toy_treebanks["train"]),
                                                     dev=str(toy_treebanks["test"]), max_train_sentences=5,
                                                     max_eval_sentences=4))
    assert (len(train.forms), len(held.forms), source) == (5, 4, "dev file")
    assert train.n_words == sum(len(f) for f in train.forms)


def test_reference_rows() -> None:
    train = TaggedSentences((("a", "dog"), ("a", "cat")), ((True, True), (True, True)), ("DET", "NOUN", "DET", "NOUN"))
    held = TaggedSentences((("a", "cow", "x"),), ((True, True, False),), ("DET", "NOUN"))
    majority, word_form = baselines(train, held)  # majority: DET (first of the tie); "cow" unseen -> DET
    assert (majority, word_form) == (50.0, 50.0)


def test_every_layer_at_first_pieces_matches_the_features_mode(tiny_bert_dir: Path) -> None:
    from adaptlang.events import silent
    from adaptlang.models.features import FeaturesEncoderConfig, load_frozen

    frozen, _ = load_frozen(FeaturesEncoderConfig(model=str(tiny_bert_dir), layers=1), "--embeddings")
    words = (("the", "katze", "läuft"), ("a", "dog"))
    data = TaggedSentences(words, ((True, False, True), (True, True)), ("DET", "VERB", "DET", "NOUN"))
    feats = layer_features(frozen.encoder, data, torch.device("cpu"), silent, "test")  # [4, 3, 32]
    assert feats.shape == (4, 3, 32)
    last = frozen.vectors(list(words), torch.device("cpu"))  # [2, 3, 32]: the last layer, as baseline reads it
    want = torch.stack([last[0, 0], last[0, 2], last[1, 0], last[1, 1]]).numpy()
    assert np.allclose(feats[:, -1].astype(np.float32), want, atol=1e-3)
    assert not np.allclose(feats[:, 0], feats[:, -1], atol=1e-3)  # layer 0 is the embeddings, not a copy


def test_probe_models_on_a_tiny_model(tiny_bert_dir: Path, toy_treebanks: dict[str, Path]) -> None:
    events = []
    config = ProbeConfig(models=(str(tiny_bert_dir), str(tiny_bert_dir)), train=str(toy_treebanks["train"]),
                         dev=str(toy_treebanks["test"]), translit=("none", "strip-diacritics"))
    result = probe_models(config, events.append)
    assert [len(c.accuracy) for c in result.curves] == [3, 3]  # embeddings + 2 layers
    plain, stripped = result.curves
    assert plain.translit is None and stripped.translit == "strip-diacritics" and stripped.label.endswith(
        "+strip-diacritics")
    # a toy language whose forms decide the tag: every layer beats the majority tag
    assert all(a > result.majority + 20 for c in result.curves for a in c.accuracy)
    assert {e.kind for e in events} >= {"phase", "step", "done"}
    d = json.loads(json.dumps(result.to_dict()))
    assert d["kind"] == "probe" and d["curves"][0]["best_layer"] == plain.best_layer
    md = result.markdown()
    assert md.count("\n| ") == 1 + 3 + 2 and "word-form lookup" in md and "**" in md


def test_the_same_model_twice_keeps_two_labels(tiny_bert_dir: Path, toy_treebanks: dict[str, Path]) -> None:
    config = ProbeConfig(models=(str(tiny_bert_dir),) * 2, train=str(toy_treebanks["train"]), max_iter=50)
    labels = [c.label for c in probe_models(config).curves]
    assert len(set(labels)) == 2 and labels[1].endswith("#2")


def test_a_treebank_without_upos_is_refused(tmp_path: Path, toy_treebanks: dict[str, Path]) -> None:
    bad = tmp_path / "no-upos.conllu"
    bad.write_text(NO_UPOS * 3, encoding="utf-8")
    with pytest.raises(InputError, match="no UPOS"):
        split_treebank(ProbeConfig(models=("m",), train=str(bad)))
    with pytest.raises(InputError, match="no-upos.conllu"):
        split_treebank(ProbeConfig(models=("m",), train=str(toy_treebanks["train"]), dev=str(bad)))


def test_translit_given_neither_once_nor_per_model_is_refused() -> None:
    with pytest.raises(UsageError, match="once per --model"):
        ProbeConfig(models=("a", "b", "c"), train="t", translit=("none", "latin"))


def test_cli_writes_table_json_and_plot(run_cli, tmp_path: Path, tiny_bert_dir: Path,
                                        toy_treebanks: dict[str, Path]) -> None:
    out = tmp_path / "probe"
    r = run_cli("analyze", "probe", "--model", str(tiny_bert_dir), "--train", str(toy_treebanks["train"]),
                "--dev", str(toy_treebanks["dev"]), "-o", str(out), "--json", "-", "--threads", "1")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["n_eval_sentences"] == 4 and len(data["curves"][0]["accuracy"]) == 3
    assert {p.name for p in out.iterdir()} == {"probe.json", "probe.md", "probe.png"}
    assert "word-form lookup" in r.stderr  # the table goes to stderr when stdout carries the JSON


def test_cli_bad_inputs_are_one_line(run_cli, tmp_path: Path, tiny_bert_dir: Path,
                                     toy_treebanks: dict[str, Path]) -> None:
    bad = tmp_path / "no-upos.conllu"
    bad.write_text(NO_UPOS * 3, encoding="utf-8")
    for args, what in (
        (["--model", str(tiny_bert_dir), "--train", str(bad)], "no UPOS"),
        (["--model", str(tmp_path / "nowhere"), "--train", str(toy_treebanks["train"])], "nowhere"),
        (["--model", str(tiny_bert_dir), "--train", str(toy_treebanks["train"]), "--c", "0"], "--c"),
        (["--model", str(tiny_bert_dir), "--train", str(toy_treebanks["train"]), "--translit", "nonesuch"],
         "--translit"),
    ):
        r = run_cli("analyze", "probe", *args, "-o", str(tmp_path / "out"))
        assert r.returncode != 0 and what in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "out").exists()
