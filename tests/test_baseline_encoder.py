"""The BiLSTM word encoder, its lexicon, and corpus embeddings (tiny, in-process, offline)."""

from __future__ import annotations

import json

import pytest
import torch

from adaptlang.baseline import EmbeddingConfig, corpus_embeddings, read_vec, tokenize_raw
from adaptlang.data.lexicon import BOW_ID, EOW_ID, PAD_ID, UNK_ID, Lexicon
from adaptlang.errors import InputError, ModelError, UsageError
from adaptlang.models import get_encoder_class
from adaptlang.models.bilstm import BiLSTMEncoderConfig, BiLSTMWordEncoder, write_vectors_file

pytestmark = pytest.mark.usefixtures("one_thread")


SENTS = [["Dafa", "baax", "."], ["Mu", "ngi", "dem", "."], ["dafa", "tàng", "lool", "."], ["baax", "na", "."]] * 3


def test_lexicon_ids_and_round_trip():
    lex = Lexicon.build(SENTS, min_word_count=2)
    assert lex.words[:2] == ("<pad>", "<unk>")
    assert lex.word_id("DAFA") == lex.word_id("dafa") != UNK_ID  # lowercased lookup
    assert lex.word_id("never-seen") == UNK_ID
    ids = lex.char_ids("tàng")
    assert ids[0] == BOW_ID and ids[-1] == EOW_ID and len(ids) == 6 and UNK_ID not in ids
    assert lex.char_ids("ж")[1] == UNK_ID
    # Decomposed input is normalised to NFC, so it maps to the same ids as the composed form.
    assert lex.char_ids("ta\u0300ng") == ids and lex.word_id("ta\u0300ng") == lex.word_id("tàng")
    again = Lexicon.from_dict(json.loads(json.dumps(lex.to_dict())))
    assert again == lex and again.word_id("baax") == lex.word_id("baax")


def test_lexicon_min_count_tiny_treebank_and_long_words():
    lex = Lexicon.build([["a", "b", "a"]], min_word_count=2)
    assert lex.word_id("b") != UNK_ID  # fewer than 10 frequent words: all are kept
    big = [[f"w{i}" for i in range(20)] + [f"f{i}" for i in range(12)] * 2]
    lex2 = Lexicon.build(big, min_word_count=2)
    assert lex2.word_id("f11") != UNK_ID and lex2.word_id("w3") == UNK_ID
    long = Lexicon.build(SENTS, max_word_chars=6)
    assert len(long.char_ids("abcdefghijkl")) == 8
    with pytest.raises(ModelError):
        Lexicon.from_dict({"words": ["x"]})


TINY = {"kind": "bilstm", "word_dim": 8, "char_dim": 6, "char_hidden": 5, "char_out": 7, "hidden": 4, "n_layers": 2}


def _encoder(**kw) -> BiLSTMWordEncoder:
    return get_encoder_class("bilstm").build({**TINY, **kw}, SENTS)  # type: ignore[return-value]


@pytest.mark.parametrize("char_model", ["lstm", "cnn"])
def test_encoder_shapes_masks_and_padding_invariance(char_model):
    torch.manual_seed(0)
    enc = _encoder(char_model=char_model).eval()
    assert enc.kind == "bilstm" and enc.config["kind"] == "bilstm" and enc.pretrained_parameters() == set()
    batch = [["Dafa", "baax", "."], ["Mu", "ngi", "dem", "unseen", "."]]
    feats = enc.collate(batch)
    assert feats["type_ids"].max() < feats["chars"].shape[0]
    h, mask = enc(feats)
    assert h.shape == (2, 5, enc.output_dim) and enc.output_dim == 8
    assert mask.tolist() == [[True, True, True, False, False], [True] * 5]
    # A sentence's vectors do not depend on what it is batched with.
    h1, _ = enc(enc.collate([batch[0]]))
    assert torch.allclose(h1[0], h[0, :3], atol=1e-6)


def test_encoder_trains_and_word_dropout_only_in_training():
    torch.manual_seed(0)
    enc = _encoder(word_dropout=0.5, dropout=0.0)
    feats = enc.collate(SENTS[:4])
    enc.eval()
    a, _ = enc(feats)
    b, _ = enc(feats)
    assert torch.equal(a, b)  # deterministic at inference
    enc.train()
    h, mask = enc(feats)
    h[mask].sum().backward()
    assert enc.word_embed.weight.grad is not None and enc.char_model.embed.weight.grad is not None
    assert enc.word_embed.weight.grad[PAD_ID].abs().sum() == 0


def test_encoder_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    enc = _encoder(char_model="cnn").eval()
    enc.save(tmp_path / "enc")
    again = BiLSTMWordEncoder.load(json.loads(json.dumps(enc.config)), tmp_path / "enc").eval()
    feats = enc.collate(SENTS[:3])
    assert torch.equal(enc(feats)[0], again(again.collate(SENTS[:3]))[0])
    with pytest.raises(ModelError, match="lexicon.json"):
        BiLSTMWordEncoder.load(enc.config, tmp_path / "missing")


def test_encoder_with_pretrained_vectors(tmp_path):
    vec = tmp_path / "tiny.vec"
    vec.write_text("3 4\ndafa 1 0 0 0\nbaax 0 1 0 0\nlool 0 0 1 0.5\n", encoding="utf-8")
    emb = read_vec(vec)
    assert emb.words == ("dafa", "baax", "lool") and emb.dim == 4
    write_vectors_file(tmp_path / "v.safetensors", emb.words, emb.vectors)
    enc = _encoder(pretrained_vectors=str(tmp_path / "v.safetensors"), n_layers=1)
    assert enc.lexicon.pretrained_id("Lool") == 4 and enc.config["pretrained_dim"] == 4
    assert enc.config["pretrained_vectors"] is None  # saved with the model, not referenced
    assert not enc.pretrained.weight.requires_grad
    assert torch.equal(enc.pretrained.weight[4], emb.vectors[2])
    h, _ = enc(enc.collate([["lool", "dafa"]]))
    assert h.shape == (1, 2, 8)
    enc.save(tmp_path / "enc")
    (tmp_path / "v.safetensors").unlink()  # the saved model does not need the source file
    again = BiLSTMWordEncoder.load(enc.config, tmp_path / "enc")
    assert torch.equal(again.pretrained.weight, enc.pretrained.weight)
    with pytest.raises(ModelError):
        enc.set_pretrained(torch.zeros(3, 4))


def test_bad_configs_and_vec_files(tmp_path):
    with pytest.raises(UsageError, match="lstm, cnn"):
        BiLSTMEncoderConfig(char_model="gru")
    with pytest.raises(UsageError):
        BiLSTMEncoderConfig(dropout=1.5)
    with pytest.raises(UsageError, match="unknown fields"):
        BiLSTMEncoderConfig.from_dict({"kind": "bilstm", "hiden": 3})
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.vec:3"):
        read_vec(bad)
    nan = tmp_path / "nan.vec"
    nan.write_text("a 1 x 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"nan\.vec:1"):
        read_vec(nan)


def test_skipgram_on_raw_text(tmp_path):
    corpus = tmp_path / "raw.txt"
    corpus.write_text("\n".join(["Dafa baax lool .", "Mu ngi dem ca kër ga .", "", "dafa tàng, lool!"] * 30),
                      encoding="utf-8")
    assert tokenize_raw("dafa tàng, lool!") == ["dafa", "tàng", ",", "lool", "!"]
    emb = corpus_embeddings(corpus, config=EmbeddingConfig(dim=8, epochs=1, batch_size=64))
    assert emb.source == "skipgram" and "tàng" in emb.words and emb.vectors.shape == (len(emb.words), 8)
    assert torch.isfinite(emb.vectors).all()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no words"):
        corpus_embeddings(empty)


# ---- the fast paths compute what the straightforward ones did ----------------------------------------------------
MIXED = [["Dafa", "baax", "lool", "."], ["Mu", "ngi", "dem", "ca", "kër", "gi", "baax", "."], ["baax", "Baax"]]


def test_deduplicated_characters_give_the_same_word_vectors_as_every_token():
    torch.manual_seed(0)
    enc = _encoder().eval()
    feats = enc.collate(MIXED)
    assert feats["chars"].shape[0] == len({w for s in MIXED for w in s}) + 1  # each form once, plus padding
    with torch.no_grad():
        deduped = enc.char_model(feats["chars"], feats["char_lengths"])[feats["type_ids"]]
        for b, sent in enumerate(MIXED):
            for i, form in enumerate(sent):  # each token alone, as if no other word were in the batch
                ids = torch.tensor([enc.lexicon.char_ids(form)])
                alone = enc.char_model(ids, torch.tensor([ids.shape[1]]))[0]
                assert torch.allclose(deduped[b, i], alone, atol=1e-6)


def _packed_bilstm(lstm, x, lengths):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, _) = lstm(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0], torch.cat([h[0], h[1]], -1)


def test_padded_bilstm_equals_the_packed_one_with_gradients():
    from adaptlang.models.bilstm import bilstm_padded

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    lengths = torch.tensor([6, 2, 4, 1])
    x = torch.randn(4, 6, 5)
    mask = (torch.arange(6) < lengths.unsqueeze(1)).unsqueeze(-1)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, final = bilstm_padded(lstm, x1, lengths)
    ref_out, ref_final = _packed_bilstm(lstm, x2, lengths)
    assert torch.allclose(out * mask, ref_out, atol=1e-6) and torch.allclose(final, ref_final, atol=1e-6)
    weights = torch.randn_like(ref_out) * mask
    grads = torch.autograd.grad((out * weights).sum() + final.sum(), [x1, *lstm.parameters()])
    ref_grads = torch.autograd.grad((ref_out * weights).sum() + ref_final.sum(), [x2, *lstm.parameters()])
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, ref_grads))


def test_encoder_on_the_cpu_equals_the_packed_sequence_computation():
    """The CPU path (padded runs, characters in length groups) against the packed-sequence path it replaced."""
    torch.manual_seed(0)
    enc = _encoder(n_layers=3).eval()
    feats = enc.collate(MIXED)
    with torch.no_grad():
        h, mask = enc(feats)
        cm = enc.char_model
        chars = _packed_bilstm(cm.lstm, cm.embed(feats["chars"]), feats["char_lengths"])[1]
        x = torch.cat([enc.word_embed(feats["word_ids"]), cm.proj(chars)[feats["type_ids"]]], dim=-1)
        lengths = mask.sum(1)
        ref = x
        for i, lstm in enumerate(enc.layers):
            out = _packed_bilstm(lstm, ref, lengths)[0]
            ref = out if i == 0 else ref + out
    assert torch.allclose(h, ref, atol=1e-5)
    assert h[~mask].abs().sum() == 0  # padding stays zero


def test_dropout_scales_what_it_keeps_and_is_off_in_eval():
    from adaptlang.models.biaffine import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.25)
    x = torch.ones(200, 100)
    y = drop(x)
    assert y.unique().tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert abs((y == 0).float().mean().item() - 0.25) < 0.01
    assert torch.equal(drop.eval()(x), x) and drop.state_dict() == {}


def test_biaffine_matrix_products_equal_the_einsum_forms():
    from adaptlang.models.biaffine import Biaffine, _with_bias

    torch.manual_seed(0)
    x, y = torch.randn(2, 5, 6), torch.randn(2, 5, 6)
    arc, rel = Biaffine(6, 1, bias_x=True, bias_y=False), Biaffine(6, 4)
    for b in (arc, rel):
        torch.nn.init.normal_(b.weight)
    xa = _with_bias(x)
    assert torch.allclose(arc(x, y), torch.einsum("bxi,oij,byj->boxy", xa, arc.weight, y).squeeze(1), atol=1e-5)
    ya = _with_bias(y)
    assert torch.allclose(rel.pairs(x, y), torch.einsum("bni,oij,bnj->bno", xa, rel.weight, ya), atol=1e-5)
