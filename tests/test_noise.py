"""Training-time noise: character noise and subword splitting are seeded (the same epoch gives the same noise, a
resumed run the same weights), keep the words' count and pieces' text, and never reach prediction."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from adaptlang.data.noise import PieceSplitter, alphabet, noise_word, noise_words
from adaptlang.errors import UsageError
from adaptlang.tasks import TrainConfig, train_parser

E5_SMALL = Path("/work/models/e5-small")


pytestmark = pytest.mark.usefixtures("one_thread")

def test_char_noise_is_seeded_and_stays_in_words() -> None:
    words = ["kedi", "parkta", "uyudu", ".", "a"]
    letters = alphabet(words)
    assert letters == sorted(set("kediparktauyu"))
    a = noise_words(words, 0.5, random.Random(1), letters)
    assert a == noise_words(words, 0.5, random.Random(1), letters) and len(a) == len(words)
    assert a[3] == "." and noise_words(words, 0.0, random.Random(1), letters) == words
    every = noise_words(words, 1.0, random.Random(2), letters)
    assert all(x != w for x, w in zip(every, words) if w.isalpha() and len(w) > 2 and len(set(w)) > 1)
    rng = random.Random(0)
    for _ in range(200):  # one operation: the length changes by at most one, never to an empty word
        out = noise_word("ab", rng, letters)
        assert 1 <= len(out) <= 3


def _sentencepiece_like() -> PieceSplitter:
    vocab = {p: i for i, p in enumerate(["<unk>", "▁uyg", "▁uy", "▁u", "g", "ur", "u", "r", "yg", "▁", "y"])}
    return PieceSplitter(vocab, continuation="", skip=[0])


def test_piece_splitter_keeps_the_text() -> None:
    sp = _sentencepiece_like()
    pieces = {i: p for p, i in sp.vocab.items()}
    assert sp.options(1) == [(3, 8), (2, 4)] and sp.options(0) == [] and sp.options(7) == []
    ids = [1, 5]  # ▁uyg ur
    seen = set()
    for seed in range(50):
        out = sp.split(ids, 0.5, random.Random(seed))
        assert "".join(pieces[i] for i in out) == "▁uygur"
        assert out == sp.split(ids, 0.5, random.Random(seed))
        seen.add(tuple(out))
    assert len(seen) > 2 and sp.split(ids, 0.0, random.Random(0)) == ids
    wp = PieceSplitter({"[UNK]": 0, "kedi": 1, "ke": 2, "##di": 3, "##d": 4, "##i": 5}, continuation="##", skip=[0])
    assert wp.options(1) == [(2, 3)] and wp.options(3) == [(4, 5)]  # continuation pieces split into continuations


@pytest.mark.slow
def test_piece_splitter_on_xlmr_vocabulary() -> None:
    if not (E5_SMALL / "tokenizer.json").is_file():
        pytest.skip("e5-small is absent")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(E5_SMALL)
    sp = PieceSplitter.from_tokenizer(tok)
    assert sp.continuation == ""
    ids = tok("international", add_special_tokens=False)["input_ids"]
    out = sp.split(ids, 0.5, random.Random(3))
    assert len(out) > len(ids)
    assert "".join(tok.convert_ids_to_tokens(out)) == "".join(tok.convert_ids_to_tokens(ids))


def _config(tmp_path: Path, toy: dict[str, Path], model: Path, out: str, **kw) -> TrainConfig:
    base = dict(train=str(toy["train"]), dev=str(toy["dev"]), out=str(tmp_path / out),
                encoder={"kind": "transformer", "model": str(model)}, epochs=3, arc_dim=16, rel_dim=8,
                encoder_lr=1e-3, head_lr=5e-3, seed=5, device="cpu", patience=0, char_noise=0.3, subword_dropout=0.3)
    base.update(kw)
    return TrainConfig(**base)


def test_noise_changes_training_and_resume_is_bit_exact(tmp_path: Path, tiny_bert_dir: Path,
                                                        toy_treebanks: dict[str, Path]) -> None:
    noisy = train_parser(_config(tmp_path, toy_treebanks, tiny_bert_dir, "a"))
    plain = train_parser(_config(tmp_path, toy_treebanks, tiny_bert_dir, "plain", char_noise=0.0,
                                 subword_dropout=0.0))
    heads = load_file(str(tmp_path / "a" / "heads.safetensors"))
    assert "treebank.weight" not in heads  # one treebank: no treebank embedding
    assert not all(torch.equal(heads[k], load_file(str(tmp_path / "plain" / "heads.safetensors"))[k])
                   for k in heads)
    assert noisy.n_train_sentences == plain.n_train_sentences == 16

    class Crash(Exception):
        pass

    def crash_after_epoch_2(event) -> None:
        if event.kind == "epoch" and event.epoch == 2:
            raise Crash

    with pytest.raises(Crash):
        train_parser(_config(tmp_path, toy_treebanks, tiny_bert_dir, "b"), crash_after_epoch_2)
    with pytest.raises(UsageError, match="--char-noise"):
        train_parser(_config(tmp_path, toy_treebanks, tiny_bert_dir, "b", resume=True, char_noise=0.1))
    resumed = train_parser(_config(tmp_path, toy_treebanks, tiny_bert_dir, "b", resume=True))
    assert resumed.resumed_from_epoch == 2
    again = load_file(str(tmp_path / "b" / "heads.safetensors"))
    assert all(torch.equal(heads[k], again[k]) for k in heads)


def test_subword_dropout_needs_subwords(tmp_path: Path, toy_treebanks: dict[str, Path]) -> None:
    cfg = _config(tmp_path, toy_treebanks, Path("unused"), "bilstm", char_noise=0.0,
                  encoder={"kind": "bilstm", "word_dim": 8, "char_dim": 4, "char_hidden": 4, "char_out": 4,
                           "hidden": 8, "n_layers": 1})
    with pytest.raises(UsageError, match="--subword-dropout needs a subword encoder"):
        train_parser(cfg)
    assert train_parser(TrainConfig(**{**cfg.to_dict(), "subword_dropout": 0.0, "char_noise": 0.2,
                                       "epochs": 1})).epochs_run == 1
