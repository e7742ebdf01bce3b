"""Language adapters (MAD-X) in peft's LoRA format: the ensemble is the exact mean of the adapters' updates; a parser
trains only its task adapter and heads over a frozen language adapter; another language's adapter swaps in at test
time (library and CLI); bad adapters give one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from adaptlang.errors import ModelError, UsageError
from adaptlang.models.adapters import merged_language_model, resolve_language_adapters
from adaptlang.specs import resolve_model
from adaptlang.tasks import TrainConfig, load_parser, predict_sentences, train_parser
from adaptlang.data.conllu import read_conllu
from conftest import TINY_CONLLU, TINY_TEXT, make_tiny_bert

pytestmark = pytest.mark.usefixtures("one_thread")


def make_language_adapter(out: Path, base: Path, seed: int, r: int = 4, lang: str | None = None) -> Path:
    """A LoRA adapter over ``base`` with random (non-zero) A and B, saved as `adapt --method lora` saves one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    torch.manual_seed(seed)
    model = AutoModel.from_pretrained(base)
    targets = sorted(n for n, m in model.named_modules()
                     if isinstance(m, torch.nn.Linear) and "embeddings" not in n and "pooler" not in n)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets,
                                                  base_model_name_or_path=str(base)))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    peft_model.save_pretrained(out)
    if lang:
        (out / "adaptlang.json").write_text(json.dumps({"kind": "adapted-model", "method": "lora", "base_model":
                                                        str(base), "lang": lang, "translit": None,
                                                        "vocab_extended": False}), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("language-adapters")
    return {"a": make_language_adapter(d / "a", tiny_bert_dir, 1, lang="eng"),
            "b": make_language_adapter(d / "b", tiny_bert_dir, 2, r=2),
            "other_base": make_language_adapter(d / "c", make_tiny_bert(d / "other-bert", TINY_TEXT, seed=5), 3)}


def _linear_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if n.endswith(".weight") and p.dim() == 2}


def test_ensemble_is_the_mean_of_the_adapters_updates(tiny_bert_dir: Path, adapters: dict[str, Path]) -> None:
    from transformers import AutoModel

    base = _linear_weights(AutoModel.from_pretrained(tiny_bert_dir))
    a = _linear_weights(merged_language_model(str(tiny_bert_dir), [str(adapters["a"])], {}))
    b = _linear_weights(merged_language_model(str(tiny_bert_dir), [str(adapters["b"])], {}))
    both = _linear_weights(merged_language_model(str(tiny_bert_dir), [str(adapters["a"]), str(adapters["b"])], {}))
    changed = [n for n in base if not torch.allclose(a[n], base[n])]
    assert len(changed) >= 8  # attention and feed-forward projections of both layers
    for n in base:  # (ranks differ: 4 and 2; "cat" is exact for any ranks)
        assert torch.allclose(both[n], (a[n] + b[n]) / 2, atol=1e-5), n


def _train(tmp_path: Path, model: Path, adapters: list[Path], out: str = "parser", **kw) -> TrainConfig:
    tb = tmp_path / "train.conllu"
    tb.write_text(TINY_CONLLU, encoding="utf-8")
    config = TrainConfig(train=str(tb), dev=str(tb), out=str(tmp_path / out),
                         encoder={"kind": "transformer", "model": str(model),
                                  "language_adapters": [str(a) for a in adapters], "task_lora_r": 2, **kw},
                         epochs=2, arc_dim=16, rel_dim=8, head_lr=5e-3, seed=3, device="cpu", patience=0)
    train_parser(config)
    return config


def test_parser_over_a_frozen_language_adapter_then_swapped(tmp_path: Path, tiny_bert_dir: Path,
                                                            adapters: dict[str, Path]) -> None:
    config = _train(tmp_path, tiny_bert_dir, [adapters["a"]])
    out = Path(config.out)
    saved = json.loads((out / "config.json").read_text())["encoder"]
    assert saved["language_adapters"] == [str(adapters["a"].resolve())] and saved["task_lora_r"] == 2
    assert (out / "encoder" / "adapter_config.json").is_file()  # only the task adapter is saved
    assert not (out / "encoder" / "model.safetensors").exists()
    train_info = json.loads((out / "train.json").read_text())
    assert 0 < train_info["n_trainable_parameters"] < train_info["n_parameters"] / 2

    # the base under the task adapter is base + adapter a, untouched by training
    loaded = load_parser(out, "cpu")
    merged_a = _linear_weights(merged_language_model(str(tiny_bert_dir), [str(adapters["a"])], {}))
    inner = loaded.model.encoder.model.get_base_model()
    for n, w in _linear_weights(inner).items():
        if n in merged_a:  # LoRA-wrapped projections keep the frozen weight as base_layer.weight
            assert torch.allclose(w, merged_a[n])
    assert sum(1 for n, _ in inner.named_parameters() if "base_layer" in n) >= 8
    assert not any(p.requires_grad for n, p in loaded.model.named_parameters() if "base_layer" in n)

    gold = read_conllu(config.train)
    same = load_parser(out, "cpu", [str(adapters["a"])])
    swapped = load_parser(out, "cpu", [str(adapters["b"])])
    ensemble = load_parser(out, "cpu", [str(adapters["a"]), str(adapters["b"])])
    words = loaded.model.encoder.collate([s.forms for s in gold])

    def vectors(p):
        with torch.inference_mode():
            return p.model.encoder(words)[0]

    assert torch.allclose(vectors(loaded), vectors(same))
    assert not torch.allclose(vectors(loaded), vectors(swapped), atol=1e-3)
    assert not torch.allclose(vectors(ensemble), vectors(swapped), atol=1e-3)
    assert len(predict_sentences(swapped, gold)) == len(gold)


def test_cli_train_evaluate_predict_with_language_adapters(tmp_path: Path, tiny_bert_dir: Path,
                                                           adapters: dict[str, Path], run_cli) -> None:
    tb = tmp_path / "tb.conllu"
    tb.write_text(TINY_CONLLU, encoding="utf-8")
    out = tmp_path / "m"
    r = run_cli("train", "--train", str(tb), "--dev", str(tb), "--model", str(tiny_bert_dir), "-o", str(out),
                "--epochs", "1", "--device", "cpu", "--quiet", "--language-adapter", str(adapters["a"]),
                "--task-lora-r", "2", "--json", "-")
    assert r.returncode == 0, r.stderr
    scores = {}
    for name, extra in (("donor", []), ("target", ["--language-adapter", str(adapters["b"])]),
                        ("ensemble", ["--language-adapter", str(adapters["a"]), "--language-adapter",
                                      str(adapters["b"])])):
        r = run_cli("evaluate", str(out), str(tb), "--json", "-", "--device", "cpu", "--bootstrap", "0", *extra)
        assert r.returncode == 0, r.stderr
        scores[name] = json.loads(r.stdout)["las"]
    assert all(0.0 <= s <= 100.0 for s in scores.values())
    pred = tmp_path / "pred.conllu"
    r = run_cli("predict", str(out), str(tb), "-o", str(pred), "--device", "cpu",
                "--language-adapter", str(adapters["b"]))
    assert r.returncode == 0, r.stderr and pred.is_file()

    # bad inputs: one line, non-zero exit, nothing written
    bad = [
        (["train", "--train", str(tb), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"),
          "--language-adapter", str(tiny_bert_dir)], "not a LoRA adapter"),
        (["train", "--train", str(tb), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"),
          "--language-adapter", str(adapters["other_base"])], "not --model"),
        (["train", "--train", str(tb), "--model", str(adapters["a"]), "-o", str(tmp_path / "x"),
          "--language-adapter", str(adapters["b"])], "is an adapter"),
        (["train", "--train", str(tb), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"),
          "--language-adapter", str(adapters["a"]), "--task-lora-r", "0"], "--task-lora-r"),
        (["evaluate", str(out), str(tb), "--language-adapter", str(tmp_path / "nope")], "no such directory"),
    ]
    for args, words in bad:
        r = run_cli(*args)
        assert r.returncode != 0 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x").exists()


def test_swap_refused_for_a_plain_parser_and_moved_adapter_named(tmp_path: Path, tiny_bert_dir: Path,
                                                                 adapters: dict[str, Path]) -> None:
    plain = TrainConfig(train=str(tmp_path / "t.conllu"), dev=None, out=str(tmp_path / "plain"),
                        encoder={"kind": "transformer", "model": str(tiny_bert_dir)}, epochs=1, arc_dim=8,
                        rel_dim=4, device="cpu")
    (tmp_path / "t.conllu").write_text(TINY_CONLLU, encoding="utf-8")
    train_parser(plain)
    with pytest.raises(UsageError, match="trained over a language adapter"):
        load_parser(plain.out, "cpu", [str(adapters["a"])])
    moved = shutil.copytree(adapters["b"], tmp_path / "b-copy")
    config = _train(tmp_path, tiny_bert_dir, [moved], out="over-copy")
    shutil.rmtree(moved)
    with pytest.raises(ModelError, match="is not there"):
        load_parser(config.out, "cpu")
    assert load_parser(config.out, "cpu", [str(adapters["b"])]) is not None  # the same adapter, given again


def test_resolve_language_adapters_reads_language_and_checks_base(tiny_bert_dir: Path,
                                                                  adapters: dict[str, Path]) -> None:
    base = resolve_model(str(tiny_bert_dir), purpose="encoder")
    (a,) = resolve_language_adapters([str(adapters["a"])], base)
    assert a.lang == "eng" and a.translit is None and Path(a.path).is_absolute()
    with pytest.raises(UsageError, match="not --model"):
        resolve_language_adapters([str(adapters["other_base"])], base)


def test_an_adapt_lora_output_is_a_language_adapter(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """What `adaptlang adapt --method lora` writes (a fresh MLM head beside the adapter, adaptlang.json) works as a
    language adapter; one adapted with --extend-vocab is refused (its vocabulary cannot be swapped)."""
    from adaptlang.adapt.config import AdaptConfig
    from adaptlang.adapt.run import adapt_model

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TINY_TEXT * 8) + "\n", encoding="utf-8")
    common = dict(corpus=str(corpus), model=str(tiny_bert_dir), method="lora", steps=2, batch_size=4,
                  max_seq_len=32, pppl_tokens=8, save_every=100, lr=1e-2, lang="deu")
    adapt_model(AdaptConfig(output=str(tmp_path / "la"), **common))  # type: ignore[arg-type]
    config = _train(tmp_path, tiny_bert_dir, [tmp_path / "la"])
    assert load_parser(config.out, "cpu").config["encoder"]["language_adapters"] == [str((tmp_path / "la").resolve())]
    adapt_model(AdaptConfig(output=str(tmp_path / "la-ext"), extend_vocab=10, **common))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="extends the vocabulary"):
        load_parser(config.out, "cpu", [str(tmp_path / "la-ext")])
