"""The frozen-features mode (``adaptlang baseline --embeddings MODEL``): the BiLSTM reads a frozen transformer's
vectors, computed once per sentence; the saved model records the transformer and evaluate/predict recompute its
vectors; adapters and transliteration as for ``train``; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from adaptlang.baseline import BaselineConfig, train_baseline
from adaptlang.models.features import FeaturesEncoderConfig, FrozenFeatures, load_frozen
from adaptlang.tasks import evaluate_model, load_parser, predict

pytestmark = pytest.mark.usefixtures("one_thread")


def small(toy: dict[str, Path], out: Path, model: Path, **kw) -> BaselineConfig:
    base = dict(train=str(toy["train"]), dev=str(toy["dev"]), out=str(out), embeddings=str(model),
                embedding_layers=2, epochs=2, hidden=16, n_layers=1, word_dim=16, char_dim=8, char_hidden=8,
                char_out=8, arc_dim=16, rel_dim=8, batch_size=4)
    return BaselineConfig(**{**base, **kw})


def test_vectors_are_the_mean_of_the_last_layers_at_first_pieces(tiny_bert_dir: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    frozen, filled = load_frozen(FeaturesEncoderConfig(model=str(tiny_bert_dir), layers=2), "--embeddings")
    assert filled["n_features"] == 32 and filled["model"] == str(tiny_bert_dir.resolve())
    words = ["the", "katze", "läuft"]
    got = frozen.vectors([words, ["a"]], torch.device("cpu"))  # [2, 3, 32]
    assert got.shape == (2, 3, 32) and got[1, 1:].abs().sum() == 0  # padding stays zero
    tok, model = AutoTokenizer.from_pretrained(tiny_bert_dir), AutoModel.from_pretrained(tiny_bert_dir).eval()
    pieces = [tok(w, add_special_tokens=False)["input_ids"] for w in words]
    ids = [tok.cls_token_id] + [p for ps in pieces for p in ps] + [tok.sep_token_id]
    with torch.no_grad():
        hs = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    first = [1 + sum(len(p) for p in pieces[:i]) for i in range(len(words))]
    want = torch.stack(hs[-2:]).mean(0)[0, first]  # [3, 32]
    assert torch.allclose(got[0], want, atol=2e-2)  # cached as float16


def test_each_sentence_is_computed_once(tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen, _ = load_frozen(FeaturesEncoderConfig(model=str(tiny_bert_dir), layers=3, mix="scalar"), "--embeddings")
    calls: list[int] = []
    compute = FrozenFeatures._compute

    def counting(self, sentences, device):
        calls.append(len(sentences))
        return compute(self, sentences, device)

    monkeypatch.setattr(FrozenFeatures, "_compute", counting)
    a = frozen.vectors([["the", "cat"], ["a", "dog", "runs"], ["the", "cat"]], torch.device("cpu"))
    b = frozen.vectors([["a", "dog", "runs"]], torch.device("cpu"))
    assert calls == [2]  # two distinct sentences, one transformer call, none for the repeat
    assert a.shape == (3, 3, 3, 32) and torch.equal(a[1], b[0]) and torch.equal(a[0], a[2])


def test_train_and_dev_vectors_are_computed_before_training(tmp_path: Path, tiny_bert_dir: Path,
                                                             toy_treebanks: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from adaptlang.data.conllu import read_conllu

    calls: list[int] = []
    compute = FrozenFeatures._compute

    def counting(self, sentences, device):
        calls.append(len(sentences))
        return compute(self, sentences, device)

    monkeypatch.setattr(FrozenFeatures, "_compute", counting)
    train_baseline(small(toy_treebanks, tmp_path / "out", tiny_bert_dir, epochs=2))
    distinct = [len({tuple(s.forms) for s in read_conllu(toy_treebanks[k])}) for k in ("train", "dev")]
    new_dev = len({tuple(s.forms) for s in read_conllu(toy_treebanks["dev"])}
                  - {tuple(s.forms) for s in read_conllu(toy_treebanks["train"])})
    # once at build (train), once by prepare (dev sentences not seen in train); none in the epochs
    assert calls == [distinct[0]] + ([new_dev] if new_dev else [])


@pytest.mark.parametrize("mix", ["mean", "scalar"])
def test_features_baseline_trains_saves_and_evaluates(tmp_path: Path, tiny_bert_dir: Path,
                                                      toy_treebanks: dict[str, Path], mix: str) -> None:
    out = tmp_path / "out"
    result = train_baseline(small(toy_treebanks, out, tiny_bert_dir, embedding_mix=mix))
    enc = json.loads((out / "config.json").read_text(encoding="utf-8"))["encoder"]
    assert enc["kind"] == "features" and enc["mix"] == mix and enc["n_features"] == 32
    assert enc["model"] == str(tiny_bert_dir.resolve()) and enc["bilstm"]["extra_dim"] == 32
    assert result.encoder == enc
    saved = {p.name for p in (out / "encoder").rglob("*")}
    assert "model.safetensors" not in saved  # the frozen model is recorded, not copied
    assert ("features_mix.safetensors" in saved) == (mix == "scalar")
    trained = load_parser(out, device="cpu")
    assert not any(p.requires_grad for p in trained.model.encoder.frozen.encoder.parameters())
    ev = evaluate_model(out, toy_treebanks["test"], n_bootstrap=0, device="cpu")
    assert ev.scores.n_words > 0 and ev.scores.las == pytest.approx(
        evaluate_model(out, toy_treebanks["test"], n_bootstrap=0, device="cpu").scores.las)
    pred = predict(out, str(toy_treebanks["test"]), str(tmp_path / "pred.conllu"), device="cpu")
    assert pred.n_sentences == 10
    if mix == "scalar":  # the learned mix comes back as trained
        again = load_parser(out, device="cpu").model.encoder.mix
        assert torch.equal(again.weights, trained.model.encoder.mix.weights)


def test_adapter_and_transliteration_as_for_train(tmp_path: Path, tiny_bert_dir: Path,
                                                  toy_treebanks: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
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

    for module in (adaptlang.translit, adaptlang.translit.base):
        monkeypatch.setattr(module, "get_transliterator", lambda name, **kw: Reverse())
    adapter = tmp_path / "adapter"
    peft_model = get_peft_model(AutoModel.from_pretrained(tiny_bert_dir),
                                LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value"]))
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(adapter)
    (adapter / "adaptlang.json").write_text(json.dumps({"kind": "adapted-model", "method": "lora",
                                                        "base_model": str(tiny_bert_dir), "translit": "fake:reverse"}))
    out = tmp_path / "out"
    result = train_baseline(small(toy_treebanks, out, adapter, epochs=1))
    assert result.encoder["translit"] == "fake:reverse" and result.encoder["adapter"] is True
    assert result.encoder["base_model"] == str(tiny_bert_dir)
    assert "cat" in seen and "tac" not in seen  # FORMs go through the model's scheme before tokenisation
    seen.clear()
    ev = evaluate_model(out, toy_treebanks["test"], n_bootstrap=0, device="cpu")
    assert ev.scores.n_words > 0 and seen  # prediction transliterates too


def test_categorize_features_mode(toy_treebanks: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    from adaptlang.errors import UsageError
    from adaptlang.pipeline import CategorizeConfig, run_categorize

    base = dict(corpus=str(toy_treebanks["corpus"]), train=str(toy_treebanks["train"]), dev=str(toy_treebanks["dev"]),
                test=str(toy_treebanks["test"]), model=str(tiny_bert_dir), seeds=1, translit="none", epochs=1,
                baseline_epochs=1, adapt_steps=2, n_bootstrap=200, device="cpu", baseline_corpus=False,
                adapt_options={"pppl_tokens": 8})
    with pytest.raises(UsageError, match="--mode must be one of finetune, features, not 'frozen'"):
        run_categorize(CategorizeConfig(output=str(tmp_path / "bad"), mode="frozen", **base))
    assert not (tmp_path / "bad").exists()
    result = run_categorize(CategorizeConfig(output=str(tmp_path / "run"), mode="features", **base))
    kinds = {v: json.loads((Path(r.runs[0].model) / "config.json").read_text())["encoder"]
             for v, r in result.variants.items()}
    assert kinds["baseline"]["kind"] == "bilstm" and kinds["direct"]["kind"] == "features"
    assert kinds["direct"]["model"] == str(tiny_bert_dir.resolve())
    assert kinds["mlm"]["kind"] == "features" and kinds["mlm"]["model"].endswith("model")  # the adapted model
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "Mode: **features**" in md and "The study's definition fine-tunes the model" in md
    assert "- Epochs: 1 for every variant (features mode" in md and "Fine-tuning epochs" not in md


def test_cli_features_and_one_line_errors(tmp_path: Path, tiny_bert_dir: Path, toy_treebanks: dict[str, Path],
                                          run_cli) -> None:
    common = ["baseline", "--train", str(toy_treebanks["train"]), "--dev", str(toy_treebanks["dev"]),
              "--epochs", "1", "--hidden", "8", "--layers", "1", "--threads", "1", "-q"]
    r = run_cli(*common, "-o", str(tmp_path / "o1"), "--embeddings", str(tmp_path / "nope"))
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert "--embeddings" in r.stderr and "no such directory" in r.stderr
    r = run_cli(*common, "-o", str(tmp_path / "o2"), "--embeddings", str(tiny_bert_dir), "--embedding-mix", "max")
    assert r.returncode != 0 and r.stderr.strip().endswith("--embedding-mix must be one of mean, scalar, not 'max'")
    r = run_cli(*common, "-o", str(tmp_path / "o3"), "--embeddings", str(tiny_bert_dir), "--embedding-layers", "4")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert "--embedding-layers 4" in r.stderr and "give at most 3" in r.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_bert_dir.iterdir():
        (broken / f.name).write_bytes(b"not a model" if f.name == "model.safetensors" else f.read_bytes())
    r = run_cli(*common, "-o", str(tmp_path / "o4"), "--embeddings", str(broken), "--embedding-layers", "2")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 5))
    r = run_cli(*common, "-o", str(tmp_path / "ok"), "--embeddings", str(tiny_bert_dir))
    assert r.returncode == 0, r.stderr  # the default, the last 4 layers, is all 3 of this shallow model's
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["encoder"]["layers"] == 3
    r = run_cli("evaluate", str(tmp_path / "ok"), str(toy_treebanks["test"]), "--json", "-", "--bootstrap", "0")
    assert r.returncode == 0 and json.loads(r.stdout)["n_words"] > 0


def test_model_card_names_the_frozen_model(tmp_path: Path, tiny_bert_dir: Path, toy_treebanks: dict[str, Path]) -> None:
    out = tmp_path / "out"
    train_baseline(small(toy_treebanks, out, tiny_bert_dir, epochs=1))
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"BiLSTM reading frozen `{tiny_bert_dir.resolve()}` vectors" in card and "a `None` encoder" not in card
