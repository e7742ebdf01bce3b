"""train -> evaluate -> predict on a tiny in-process BERT: outputs, reload, determinism, resume, layer options,
long sentences, PEFT adapters with transliteration, zero-shot evaluation, one-line errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from adaptlang.data.conllu import read_conllu
from adaptlang.errors import InputError, OutputExistsError, UsageError
from adaptlang.tasks import TrainConfig, evaluate_model, load_parser, predict, train_parser
from conftest import TINY_CONLLU

OTHER_LANG = """# sent_id = x1
# text = kedi parkta uyudu
1	kedi	_	NOUN	_	_	3	nsubj	_	_
2	parkta	_	PROPN	_	_	3	obl:loc	_	_
3	uyudu	_	VERB	_	_	0	root	_	_

"""


def small_config(tmp_path: Path, model: Path, out: str = "out", **kw) -> TrainConfig:
    treebank = tmp_path / "train.conllu"
    treebank.write_text(TINY_CONLLU, encoding="utf-8")
    base = dict(train=str(treebank), dev=str(treebank), out=str(tmp_path / out),
                encoder={"kind": "transformer", "model": str(model)}, epochs=3, arc_dim=16, rel_dim=8,
                encoder_lr=1e-3, head_lr=5e-3, seed=3, device="cpu", patience=0)
    base.update(kw)
    return TrainConfig(**base)



def test_cli_train_evaluate_predict(tmp_path: Path, tiny_bert_dir: Path, run_cli) -> None:
    tb = tmp_path / "tb.conllu"
    tb.write_text(TINY_CONLLU, encoding="utf-8")
    out = tmp_path / "model"
    r = run_cli("train", "--train", str(tb), "--dev", str(tb), "--model", str(tiny_bert_dir), "-o", str(out),
                "--epochs", "2", "--device", "cpu", "--json", "-", "--quiet")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["epochs_run"] == 2 and 1 <= result["best_epoch"] <= 2
    assert {p.name for p in out.iterdir()} == {"config.json", "encoder", "heads.safetensors", "vocabs.json",
                                              "metrics.json", "train.json", "README.md"}
    assert (out / "encoder" / "model.safetensors").is_file()
    card = (out / "README.md").read_text()  # the model card: base model, data checksums, scores, the command
    assert f"base_model: {tiny_bert_dir}" in card and hashlib.sha256(tb.read_bytes()).hexdigest() in card
    assert "| dev LAS |" in card and "adaptlang train --train" in card
    config = json.loads((out / "config.json").read_text())
    assert config["encoder"]["kind"] == "transformer" and config["heads"]["n_upos"] == 4
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 2
    assert not list(tmp_path.glob(".model*"))  # no partial directory left behind

    r = run_cli("evaluate", str(out), str(tb), "--json", "-", "--device", "cpu", "--threads", "1")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert scores["n_words"] == 12 and 0 <= scores["las"] <= scores["uas"] <= 100
    assert scores["ci"]["las"][0] <= scores["las"] <= scores["ci"]["las"][1]

    text = tmp_path / "in.txt"
    text.write_text("the dog sat on a mat\n\ncats like dogs\n", encoding="utf-8")
    pred = tmp_path / "pred.conllu"
    r = run_cli("predict", str(out), str(text), "-o", str(pred), "--device", "cpu", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert pred.read_text().count("\troot\t") == 2
    validate = shutil.which("udvalidate") or str(Path(sys.executable).parent / "udvalidate")
    v = subprocess.run([validate, "--level", "2", "--lang", "ud", str(pred)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr

    pred2 = tmp_path / "pred2.conllu"
    r = run_cli("predict", str(out), str(tb), "-o", str(pred2), "--device", "cpu", "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    v = subprocess.run([validate, "--level", "2", "--lang", "ud", str(pred2)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    r = run_cli("predict", str(out), str(tb), "-o", str(pred2))
    assert r.returncode != 0 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_errors_are_one_line(tmp_path: Path, tiny_bert_dir: Path, run_cli) -> None:
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tA\t_\tX\t_\t_\t0\troot\t_\t_\n2\tB\t_\tX\t_\t_\tnine\tdep\t_\t_\n\n", encoding="utf-8")
    r = run_cli("train", "--train", str(bad), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "o"))
    assert r.returncode == 1 and r.stderr.strip() == f"adaptlang: error: {bad}:2: HEAD 'nine' is not a non-negative integer"
    good = tmp_path / "good.conllu"
    good.write_text(TINY_CONLLU, encoding="utf-8")
    r = run_cli("train", "--train", str(good), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "o"),
                "--random-init", "3-4")
    assert r.returncode == 2 and "--random-init '3-4': layers are numbered 1 to 2" in r.stderr
    r = run_cli("train", "--train", str(good), "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert r.returncode != 0 and "no such directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("evaluate", str(tmp_path), str(good))
    assert r.returncode != 0 and "not a trained model directory" in r.stderr
    r = run_cli("predict", str(tmp_path), str(good), "-o", str(tmp_path / "p.conllu"), "--threads", "0")
    assert r.returncode == 2 and r.stderr.strip() == "adaptlang: error: --threads must be an integer >= 1, got 0"
    r = run_cli("train", "--train", str(good), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "o"),
                "--patience", "-1")
    assert r.returncode == 2 and r.stderr.strip() == "adaptlang: error: --patience must be an integer >= 0, got -1"
    assert not (tmp_path / "o").exists()


def test_deterministic_and_resume_after_crash(tmp_path: Path, tiny_bert_dir: Path) -> None:
    a = train_parser(small_config(tmp_path, tiny_bert_dir, "a"))
    b = train_parser(small_config(tmp_path, tiny_bert_dir, "b"))
    heads_a = load_file(str(tmp_path / "a" / "heads.safetensors"))
    heads_b = load_file(str(tmp_path / "b" / "heads.safetensors"))
    assert all(torch.equal(heads_a[k], heads_b[k]) for k in heads_a)
    assert a.dev == b.dev

    class Crash(Exception):
        pass

    def crash_after_epoch_2(event) -> None:
        if event.kind == "epoch" and event.epoch == 2:
            raise Crash

    with pytest.raises(Crash):
        train_parser(small_config(tmp_path, tiny_bert_dir, "c"), crash_after_epoch_2)
    assert not (tmp_path / "c").exists() and (tmp_path / ".c.partial" / "checkpoints" / "latest.json").is_file()
    with pytest.raises(OutputExistsError, match="--resume to continue"):  # a rerun never drops unfinished work
        train_parser(small_config(tmp_path, tiny_bert_dir, "c"))
    with pytest.raises(UsageError, match="differ from the interrupted run.*--seed"):
        train_parser(small_config(tmp_path, tiny_bert_dir, "c", resume=True, seed=4))
    c = train_parser(small_config(tmp_path, tiny_bert_dir, "c", resume=True))
    assert c.resumed_from_epoch == 2 and c.epochs_run == 3
    heads_c = load_file(str(tmp_path / "c" / "heads.safetensors"))
    assert all(torch.equal(heads_a[k], heads_c[k]) for k in heads_a)
    with pytest.raises(Exception, match="already exists"):
        train_parser(small_config(tmp_path, tiny_bert_dir, "c"))
    with pytest.raises(Exception, match="nothing to resume"):
        train_parser(small_config(tmp_path, tiny_bert_dir, "c", resume=True))


def test_layer_options(tiny_bert_dir: Path) -> None:
    from transformers import AutoModel

    from adaptlang.models.transformer import TransformerEncoder, parse_layer_spec

    original = AutoModel.from_pretrained(tiny_bert_dir)
    torch.manual_seed(0)
    enc = TransformerEncoder.build({"kind": "transformer", "model": str(tiny_bert_dir), "random_init": "2",
                                    "freeze_embeddings": True, "freeze_layers": "1"})
    w_new = enc.model.encoder.layer[1].attention.self.query.weight
    w_old = original.encoder.layer[1].attention.self.query.weight
    assert not torch.allclose(w_new, w_old)
    assert abs(float(w_new.detach().std()) - 0.02) < 0.01  # BERT's own initialiser (initializer_range 0.02)
    assert torch.equal(enc.model.encoder.layer[0].attention.self.query.weight,
                       original.encoder.layer[0].attention.self.query.weight)
    assert not any(p.requires_grad for p in enc.model.embeddings.parameters())
    assert not any(p.requires_grad for p in enc.model.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in enc.model.encoder.layer[1].parameters())
    assert parse_layer_spec("1-2,4", 4) == [1, 2, 4]
    for bad in ("0-1", "2-1", "a", "5"):
        with pytest.raises(UsageError):
            parse_layer_spec(bad, 4)


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_long_sentences_use_overlapping_windows(tiny_bert_dir: Path, pooling: str) -> None:
    from adaptlang.models.transformer import TransformerEncoder

    words = ("the cat sat on the mat and a dog runs in the park every day " * 3).split()
    big = TransformerEncoder.build({"kind": "transformer", "model": str(tiny_bert_dir), "pooling": pooling}).eval()
    small = TransformerEncoder.build({"kind": "transformer", "model": str(tiny_bert_dir), "pooling": pooling,
                                      "max_length": 12}).eval()
    inputs = small.collate([words, words[:4]])
    assert inputs["input_ids"].shape[0] > 3 and inputs["input_ids"].shape[1] <= 12  # several windows, none longer
    with torch.no_grad():
        vecs, mask = small(inputs)
        assert vecs.shape == (2, len(words), small.output_dim) and mask.sum().item() == len(words) + 4
        assert torch.isfinite(vecs).all() and vecs[0].abs().sum(-1).min() > 0  # every word got a vector
        short_big, _ = big(big.collate([words[:4]]))
        short_small, _ = small(small.collate([words[:4]]))
    assert torch.allclose(short_big, short_small, atol=1e-5)  # a sentence that fits is encoded once, as usual


def test_adapter_with_transliteration(tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    import adaptlang.translit
    import adaptlang.translit.base

    seen: list[str] = []

    class Reverse:
        name = "fake:reverse"

        def transliterate(self, text: str) -> str:
            seen.append(text)
            return text[::-1]

    for module in (adaptlang.translit, adaptlang.translit.base):  # the package's name and the resolver's
        monkeypatch.setattr(module, "get_transliterator", lambda name, **kw: Reverse())
    adapter = tmp_path / "adapter"
    peft_model = get_peft_model(AutoModel.from_pretrained(tiny_bert_dir),
                                LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value"]))
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(adapter)
    (adapter / "adaptlang.json").write_text(json.dumps({"kind": "adapted-model", "method": "lora",
                                                        "base_model": str(tiny_bert_dir), "translit": "fake:reverse"}))
    cfg = small_config(tmp_path, adapter, epochs=1)
    result = train_parser(cfg)
    assert result.encoder["translit"] == "fake:reverse" and result.encoder["adapter"] is True
    assert "tac" not in seen and "cat" in seen  # FORMs go through the scheme before tokenisation
    assert (tmp_path / "out" / "encoder" / "adapter_config.json").is_file()
    loaded = load_parser(tmp_path / "out", device="cpu")
    trainable = {n for n, p in loaded.model.named_parameters() if "lora_" in n}
    assert trainable  # the adapter is back on the base model
    ev = evaluate_model(tmp_path / "out", cfg.train, n_bootstrap=10, device="cpu")
    assert ev.scores.n_words == 12


def test_zero_shot_evaluation_with_unseen_labels(tmp_path: Path, tiny_bert_dir: Path) -> None:
    train_parser(small_config(tmp_path, tiny_bert_dir, epochs=1))
    other = tmp_path / "other.conllu"
    other.write_text(OTHER_LANG, encoding="utf-8")
    ev = evaluate_model(tmp_path / "out", other, n_bootstrap=20, device="cpu",
                        predictions_out=tmp_path / "pred.conllu")
    assert ev.scores.n_words == 3
    # obl was seen in training: obl:loc is a subtype-only unseen label, not a LAS error
    assert ev.scores.unseen_labels == {"upos": ["PROPN"], "deprel": [], "deprel_subtype": ["obl:loc"]}
    pred = read_conllu(tmp_path / "pred.conllu")  # one sentence, every word parsed, exactly one root
    assert [s.forms for s in pred] == [["kedi", "parkta", "uyudu"]]
    assert sorted(pred[0].heads).count(0) == 1 and all(0 <= h <= 3 for h in pred[0].heads)


def test_predict_input_errors(tmp_path: Path, tiny_bert_dir: Path) -> None:
    train_parser(small_config(tmp_path, tiny_bert_dir, epochs=1))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty input"):
        predict(tmp_path / "out", str(empty), str(tmp_path / "p.conllu"), device="cpu")
    with pytest.raises(UsageError, match="--format"):
        predict(tmp_path / "out", str(empty), str(tmp_path / "p.conllu"), input_format="xml")


def test_time_budget_plans_the_epochs(tmp_path: Path, tiny_bert_dir: Path) -> None:
    result = train_parser(small_config(tmp_path, tiny_bert_dir, epochs=5, max_minutes=1e-6))
    assert result.epochs_run == 1  # the first epoch showed that no more fit in the budget
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["planned_epochs"] == 1


def test_first_piece_skips_bare_word_boundary_piece(tmp_path: Path, shared_vocab: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from adaptlang.models.transformer import TransformerEncoder

    tok = AutoTokenizer.from_pretrained(shared_vocab / "xlm-roberta")
    tok.save_pretrained(tmp_path / "m")
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=8, max_position_embeddings=64)).save_pretrained(tmp_path / "m")
    enc = TransformerEncoder.build({"kind": "transformer", "model": str(tmp_path / "m")})
    ids, first = enc.word_pieces(".")
    assert tok.convert_ids_to_tokens(ids) == ["▁", "."] and first == 1
    ids, first = enc.word_pieces("park")
    assert first == 0
    inputs = enc.collate([["park", "."]])
    flat = inputs["input_ids"].reshape(-1)
    assert tok.convert_ids_to_tokens(flat[inputs["first_index"][0]].tolist()) == [tok.convert_ids_to_tokens(ids)[0], "."]


def test_encoder_registry_lists_valid_kinds() -> None:
    from adaptlang.models import get_encoder_class

    assert get_encoder_class("transformer").kind == "transformer"
    with pytest.raises(UsageError, match="valid kinds: .*transformer"):
        get_encoder_class("lstm")


def test_cli_strip_diacritics_log_dir_and_defaults(tmp_path: Path, tiny_bert_dir: Path, run_cli) -> None:
    """--strip-diacritics reaches the encoder, --log-dir gets TensorBoard scalars, and the command's defaults are
    the library's (they cannot drift apart)."""
    from adaptlang.cli.train import _T
    from adaptlang.models.specs import TransformerSpec

    tb = tmp_path / "tb.conllu"
    tb.write_text(TINY_CONLLU, encoding="utf-8")
    out, logs = tmp_path / "model", tmp_path / "logs"
    r = run_cli("train", "--train", str(tb), "--dev", str(tb), "--model", str(tiny_bert_dir), "-o", str(out),
                "--epochs", "1", "--device", "cpu", "--strip-diacritics", "--log-dir", str(logs), "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["encoder"]["translit"] == "strip-diacritics"
    events = list(logs.glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    defaults = TrainConfig(train="t", out="o", encoder={"kind": "transformer", "model": "m"})
    assert _T == {"encoder_lr": defaults.encoder_lr, "head_lr": defaults.head_lr, "batch_size": defaults.batch_size}
    assert TransformerSpec(model="m").freeze_embeddings is True


def test_tiny_treebank_policy_keeps_the_last_epoch(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """A handful of dev sentences cannot pick an epoch (a Kazakh run kept epoch 1 of 6 that way, test UPOS 4.1):
    the policy shared with the baseline trains every planned epoch and keeps the last, and says so."""
    r = train_parser(small_config(tmp_path, tiny_bert_dir, epochs=4, patience=3))
    assert r.epochs_run == 4 and r.best_epoch == 4 and r.stop_reason == "completed" and not r.stopped_early
    assert any("too small to pick an epoch" in n for n in r.notes)
    assert any("no early stopping" in n for n in r.notes)
    assert r.dev == json.loads((tmp_path / "out" / "metrics.json").read_text())["epochs"][-1]["dev"]
