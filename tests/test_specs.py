"""adaptlang.specs: one resolver for every --model; kinds read from JSON files, purposes checked, paths vs hub ids."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from adaptlang.errors import ModelError, UsageError
from adaptlang.specs import ModelSpec, causal_reason, hub_unreachable, resolve_model


@pytest.fixture(scope="module")
def lora_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A peft LoRA adapter saved over the tiny BERT (adapter_config.json + weights; no tokenizer files)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    out = tmp_path_factory.mktemp("lora")
    model = get_peft_model(AutoModel.from_pretrained(tiny_bert_dir),
                           LoraConfig(r=2, target_modules=["query", "value"],
                                      base_model_name_or_path=str(tiny_bert_dir)))
    model.save_pretrained(out)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_plain_directory(tiny_bert_dir: Path) -> None:
    spec = resolve_model(str(tiny_bert_dir), purpose="encoder")
    assert (spec.kind, spec.location, spec.tokenizer) == ("directory", str(tiny_bert_dir), str(tiny_bert_dir))
    assert (spec.model_type, spec.architectures, spec.n_layers) == ("bert", ("BertModel",), 2)
    assert not spec.adapter and not spec.is_causal and spec.has_mlm_head is False and spec.base_model is None
    assert json.loads(json.dumps(spec.to_dict()))["kind"] == "directory"
    assert resolve_model(spec, purpose="encoder") is spec  # a resolved spec passes through


def test_peft_adapter(lora_dir: Path, tiny_bert_dir: Path) -> None:
    spec = resolve_model(str(lora_dir), purpose="encoder")
    assert spec.kind == "peft-adapter" and spec.adapter and spec.base_model == str(tiny_bert_dir)
    assert spec.tokenizer == str(tiny_bert_dir)  # the adapter has none: the base model's
    assert (spec.model_type, spec.n_layers) == ("bert", 2)  # read from the base model's config.json


def test_adapted_models(tiny_bert_dir: Path, lora_dir: Path, tmp_path: Path) -> None:
    full = _copy(tiny_bert_dir, tmp_path / "full")
    meta = {"kind": "adapted-model", "method": "full", "base_model": str(tiny_bert_dir), "translit": "cyrl-iso9"}
    (full / "adaptlang.json").write_text(json.dumps(meta), encoding="utf-8")
    spec = resolve_model(str(full), purpose="encoder")
    assert (spec.kind, spec.adapter, spec.translit, spec.base_model) == (
        "adapted-model", False, "cyrl-iso9", str(tiny_bert_dir))
    assert not spec.uses_hub
    lora = _copy(lora_dir, tmp_path / "lora")
    (lora / "adaptlang.json").write_text(json.dumps({**meta, "method": "lora", "translit": None}), encoding="utf-8")
    spec = resolve_model(str(lora), purpose="encoder")
    assert (spec.kind, spec.adapter, spec.translit, spec.tokenizer) == (
        "adapted-model", True, None, str(tiny_bert_dir))


def _parser_dir(tmp_path: Path, encoder_dir: Path | None, encoder: dict) -> Path:
    d = tmp_path / "parser"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"kind": "adaptlang-parser", "encoder": encoder}), encoding="utf-8")
    if encoder_dir is not None:
        shutil.copytree(encoder_dir, d / "encoder")
    return d


def test_trained_parser(tiny_bert_dir: Path, tmp_path: Path) -> None:
    d = _parser_dir(tmp_path, tiny_bert_dir, {"kind": "transformer", "model": "x", "translit": "ar-alalc"})
    with pytest.raises(UsageError) as err:
        resolve_model(str(d), purpose="encoder")
    assert str(err.value) == (f"--model {d} is a trained parser directory (adaptlang train output); give the "
                              f"encoder it was trained from, or use `adaptlang evaluate {d}`")
    spec = resolve_model(str(d), purpose="parser")
    assert (spec.kind, spec.encoder_kind, spec.translit) == ("trained-parser", "transformer", "ar-alalc")
    assert spec.encoder is not None and spec.encoder.location == str(d / "encoder")
    assert spec.encoder.translit == "ar-alalc" and spec.encoder.kind == "directory"
    assert resolve_model(str(d), purpose="analysis").encoder == spec.encoder  # cka reads its fine-tuned encoder
    with pytest.raises(UsageError, match=f"--model {tiny_bert_dir} is a Hugging Face model directory, not a "
                                         "trained parser; train one"):
        resolve_model(str(tiny_bert_dir), purpose="parser")


def test_bilstm_parser_is_not_an_analysis_encoder(tmp_path: Path) -> None:
    d = _parser_dir(tmp_path, None, {"kind": "bilstm"})
    with pytest.raises(UsageError, match="whose encoder is 'bilstm', not a transformer"):
        resolve_model(str(d), purpose="analysis")


def test_causal_lm_is_flagged(tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    d = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(d)
    spec = resolve_model(str(d), purpose="encoder")
    assert spec.is_causal and spec.causal == "architecture GPT2LMHeadModel" and spec.n_layers == 1
    assert causal_reason({"model_type": "gpt2"}) == "model type gpt2"
    assert causal_reason({"model_type": "bert", "is_decoder": True}) == "is_decoder=true in config.json"
    assert causal_reason({"model_type": "xlm", "architectures": ["XLMWithLMHeadModel"]}) is None
    assert causal_reason({"model_type": "bert", "architectures": ["BertForMaskedLM"]}) is None


def test_causal_lm_refused_by_train_encoder(tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2Model

    from adaptlang.models.transformer import TransformerEncoder

    d = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(d)
    with pytest.raises(UsageError, match=r"is a causal language model \(model type gpt2\).*--allow-causal"):
        TransformerEncoder.build({"kind": "transformer", "model": str(d)})


@pytest.mark.parametrize("text", ["./no/such/model", "/no/such/model", "~/no-such-model-dir", "a/b/c"])
def test_missing_path_is_not_a_hub_id(text: str) -> None:
    with pytest.raises(ModelError) as err:
        resolve_model(text, purpose="encoder")
    assert str(err.value) == f"--model {text}: no such directory; give a local model directory or a hub id"


def test_hub_id_is_resolved_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolution must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    spec = resolve_model("org/some-model", purpose="encoder", option="--model-after")
    assert (spec.kind, spec.location, spec.tokenizer, spec.model_type, spec.causal) == (
        "hub", "org/some-model", "org/some-model", None, None)
    assert spec.uses_hub and spec.option == "--model-after"


def test_hub_id_offline_gives_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from adaptlang.models.transformer import load_backbone

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_unreachable.cache_clear()
    try:
        with pytest.raises(ModelError) as err:
            load_backbone(resolve_model("adaptlang-test/not-a-model", purpose="encoder"))
    finally:
        hub_unreachable.cache_clear()
    assert str(err.value) == ("--model adaptlang-test/not-a-model: the hub id 'adaptlang-test/not-a-model' cannot "
                              "be reached offline and is not in the local Hugging Face cache; pass a local model "
                              "directory")


def test_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ModelError, match="not a model directory"):
        resolve_model(str(tmp_path), purpose="encoder")
    with pytest.raises(ModelError, match="not a tokenizer directory"):
        resolve_model(str(tmp_path), purpose="tokenizer")
    with pytest.raises(ModelError, match="is a file"):
        resolve_model(str(tmp_path / "notes.txt"), purpose="encoder")
    (tmp_path / "config.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read config.json"):
        resolve_model(str(tmp_path), purpose="encoder")


def test_adapter_whose_base_is_gone(lora_dir: Path, tmp_path: Path) -> None:
    d = _copy(lora_dir, tmp_path / "lora")
    cfg = json.loads((d / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "moved-away")
    (d / "adapter_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ModelError, match="the adapter's base model .*moved-away is not there"):
        resolve_model(str(d), purpose="encoder")


def test_tokenizer_only_directory(tiny_bert_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "tok"
    d.mkdir()
    shutil.copy(tiny_bert_dir / "tokenizer.json", d / "tokenizer.json")
    assert resolve_model(str(d), purpose="tokenizer") == ModelSpec(spec=str(d), kind="directory", location=str(d),
                                                                   tokenizer=str(d))
    with pytest.raises(ModelError, match="not a model directory"):
        resolve_model(str(d), purpose="encoder")


def test_assess_reads_the_tokenizer_the_spec_names(lora_dir: Path, tiny_bert_dir: Path, tmp_path: Path) -> None:
    from adaptlang.assess.tokenizer import load_tokenizer

    tok = load_tokenizer(str(lora_dir))  # an adapter without tokenizer files: its base model's
    assert tok.path == str(tiny_bert_dir) and tok.kind == "wordpiece"
    d = _parser_dir(tmp_path, tiny_bert_dir, {"kind": "transformer"})
    with pytest.raises(UsageError, match="is a trained parser directory .* give the encoder it was trained from"):
        load_tokenizer(str(d))


def test_train_cli_refuses_a_causal_lm_unless_allowed(tmp_path: Path, run_cli) -> None:
    from transformers import GPT2Config, GPT2Model

    from conftest import TINY_CONLLU

    gpt2 = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(gpt2)
    treebank = tmp_path / "t.conllu"
    treebank.write_text(TINY_CONLLU, encoding="utf-8")
    args = ("train", "--train", str(treebank), "--model", str(gpt2), "-o", str(tmp_path / "out"))
    r = run_cli(*args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "is a causal language model (model type gpt2)" in r.stderr and "--allow-causal" in r.stderr
    r = run_cli(*args, "--allow-causal")  # accepted; this one then stops at its missing tokenizer
    assert r.returncode == 1 and "no tokenizer files" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
