"""Language adapters under a task adapter (MAD-X, Pfeiffer et al. 2020), in peft's LoRA format.

A *language adapter* is a LoRA adapter trained by masked language modelling on one language's text
(``adaptlang adapt --method lora``). A parser trained with ``train --language-adapter DIR`` reads its words through

    base model  +  the language adapter(s), merged into the base weights and frozen  +  a fresh *task* LoRA adapter

and trains only the task adapter (and the tagger / parser heads). The saved parser holds the task adapter; the
language adapters stay where they are (their paths are in ``config.json``, as an adapter's base model is). At test
time ``evaluate/predict --language-adapter DIR`` swaps in another language's adapter under the same task adapter:
zero-shot transfer from the donor language to the target.

Several adapters (``--language-adapter A --language-adapter B``: an ensemble of related languages, Wang et al.
2021) are combined with peft's ``add_weighted_adapter`` with ``combination_type="cat"`` and weights ``1/n``: the
combined update of every projection is exactly the mean of the adapters' updates ``(alpha / r) B A``, so each
adapted projection outputs the mean of what each adapter alone would add to it (the layer-wise output averaging of
Wang et al., without their test-time entropy minimisation). peft's ``"linear"`` combination averages ``A`` and
``B`` separately, which is not the mean of the products, and ``"svd"`` approximates it; ``"cat"`` is exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from torch import nn

from adaptlang.errors import ModelError, UsageError
from adaptlang.specs import ModelSpec, quiet_transformers, resolve_model

OPTION = "--language-adapter"
TASK_ADAPTER = "default"  # peft saves other names in a subfolder
TASK_LORA_DROPOUT = 0.1


@dataclass(frozen=True)
class LanguageAdapter:
    path: str  # absolute directory
    base_model: str  # absolute directory or hub id of the model it adapts
    translit: str | None  # scheme the adapter was trained on (adaptlang.json), applied to every word
    lang: str | None


def _location(model: str) -> str:
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else model


def resolve_language_adapters(paths: Sequence[str], base: ModelSpec) -> tuple[LanguageAdapter, ...]:
    """Check that every path is a LoRA adapter over ``base`` that keeps its vocabulary, and that they agree on the
    transliteration; raises UsageError / ModelError naming the option and the path."""
    if base.adapter:
        raise UsageError(f"--model {base.spec} is an adapter; with {OPTION}, give the base model the language "
                         f"adapters were trained on ({base.base_model})")
    out = []
    for p in paths:
        spec = resolve_model(p, purpose="encoder", option=OPTION)
        if not spec.adapter:
            raise UsageError(f"{OPTION} {p} is {spec.describe()}, not a LoRA adapter; train one with "
                             "`adaptlang adapt --method lora` (without --merge)")
        cfg = json.loads((Path(spec.location) / "adapter_config.json").read_text(encoding="utf-8"))
        meta_path = Path(spec.location) / "adaptlang.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if cfg.get("peft_type") != "LORA":
            raise UsageError(f"{OPTION} {p}: a {cfg.get('peft_type')} adapter; language adapters must be LoRA")
        if meta.get("vocab_extended") or cfg.get("trainable_token_indices") or cfg.get("modules_to_save"):
            raise UsageError(f"{OPTION} {p}: the adapter extends the vocabulary or trains other modules, so it "
                             "cannot be swapped for another language's; adapt without --extend-vocab")
        if _location(str(spec.base_model)) != _location(base.location):
            raise UsageError(f"{OPTION} {p} adapts {spec.base_model}, not --model {base.spec}; give the base model "
                             "the language adapters were trained on")
        out.append(LanguageAdapter(str(Path(spec.location).resolve()), _location(base.location), spec.translit,
                                   meta.get("lang")))
    schemes = {a.translit for a in out}
    if len(schemes) > 1:
        raise UsageError(f"the language adapters expect different transliterations ({sorted(map(str, schemes))}); "
                         "ensemble adapters trained on text in one script")
    return tuple(out)


def merged_language_model(base_model: str, adapters: Sequence[str], pretrained_kwargs: dict[str, Any]) -> nn.Module:
    """``AutoModel`` of ``base_model`` with the LoRA adapters' mean update merged into its weights (a plain
    transformers model, no peft wrapper)."""
    quiet_transformers()
    from peft import PeftModel
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(base_model, **pretrained_kwargs)
    except Exception as e:  # transformers raises many types for a bad model
        raise ModelError(f"cannot load the base model {base_model} of the language adapters: {e}") from None
    names = [f"lang{i}" for i in range(len(adapters))]
    try:
        peft_model = PeftModel.from_pretrained(model, adapters[0], adapter_name=names[0])
        for name, path in zip(names[1:], adapters[1:]):
            peft_model.load_adapter(path, adapter_name=name)
    except Exception as e:
        raise ModelError(f"{OPTION}: cannot load the adapter onto {base_model}: {str(e).splitlines()[0][:200]}; "
                         "was it trained on this base model?") from None
    active = names[0]
    if len(names) > 1:
        active = "ensemble"
        peft_model.add_weighted_adapter(names, [1.0 / len(names)] * len(names), active, combination_type="cat")
    peft_model.set_adapter(active)
    return peft_model.merge_and_unload(adapter_names=[active])


def task_lora_targets(model: nn.Module) -> list[str]:
    """Every linear projection of the transformer layers (attention and feed-forward), as ``adapt`` targets them."""
    targets = sorted(name for name, module in model.named_modules()
                     if isinstance(module, nn.Linear) and "embeddings" not in name and "pooler" not in name)
    if not targets:
        raise ModelError("no linear projections found in the encoder to put the task adapter on")
    return targets


def add_task_adapter(model: nn.Module, r: int) -> nn.Module:
    """Freeze ``model`` and wrap it with a fresh trainable LoRA task adapter of rank ``r`` (alpha = 2r)."""
    from peft import LoraConfig, get_peft_model

    if r < 1:
        raise UsageError(f"--task-lora-r must be an integer >= 1, got {r}")
    for p in model.parameters():
        p.requires_grad_(False)
    lora = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=TASK_LORA_DROPOUT, target_modules=task_lora_targets(model))
    return get_peft_model(model, lora, adapter_name=TASK_ADAPTER)


def build_stacked(spec: ModelSpec, config: dict[str, Any]) -> tuple[nn.Module, Any, dict[str, Any]]:
    """For training: (model, tokenizer, config) with the language adapters of ``config["language_adapters"]`` merged
    into ``spec``'s base model and a fresh task adapter on top; ``config`` gains the absolute adapter paths, the
    base model's location and the adapters' transliteration."""
    if config.get("random_init"):
        raise UsageError("--random-init does not combine with --language-adapter (the encoder is frozen)")
    adapters = resolve_language_adapters(list(config["language_adapters"]), spec)
    from transformers import AutoTokenizer

    config = dict(config, language_adapters=[a.path for a in adapters], base_model=adapters[0].base_model)
    if adapters[0].translit and not config.get("translit"):
        config["translit"] = adapters[0].translit
    merged = merged_language_model(adapters[0].base_model, [a.path for a in adapters], spec.pretrained_kwargs())
    with spec.loading("tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer, **spec.pretrained_kwargs())
    return add_task_adapter(merged, int(config.get("task_lora_r") or 8)), tokenizer, config


def load_stacked(config: dict[str, Any], directory: Path) -> tuple[nn.Module, Any]:
    """For prediction: the saved task adapter in ``directory`` over the base model with ``config``'s language
    adapters merged in (every weight frozen)."""
    quiet_transformers()
    from peft import PeftModel
    from transformers import PreTrainedTokenizerFast

    missing = [p for p in config["language_adapters"] if not (Path(p) / "adapter_config.json").is_file()]
    if missing:
        raise ModelError(f"the language adapter {missing[0]} this parser was trained over is not there (moved or "
                         f"deleted?); put it back, or give {OPTION} DIR to evaluate/predict")
    base = str(config["base_model"])
    kwargs = {"local_files_only": True} if Path(base).is_dir() else {}
    merged = merged_language_model(base, list(config["language_adapters"]), kwargs)
    try:
        model = PeftModel.from_pretrained(merged, str(directory), adapter_name=TASK_ADAPTER)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(directory))
    except Exception as e:
        raise ModelError(f"{directory}: cannot load the task adapter: {str(e).splitlines()[0][:200]}") from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


def swap_language_adapters(encoder_config: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """A trained parser's encoder config with other language adapters (the target language's, or an ensemble)
    under its task adapter. The transliteration becomes the new adapters' when they record one."""
    if not paths:
        return encoder_config
    if encoder_config.get("kind") != "transformer" or not encoder_config.get("language_adapters"):
        raise UsageError(f"{OPTION} applies to parsers trained over a language adapter (`adaptlang train "
                         f"{OPTION} DIR`); this one was not")
    base = resolve_model(str(encoder_config["base_model"]), purpose="encoder", option="the parser's base model")
    adapters = resolve_language_adapters(list(paths), base)
    out = dict(encoder_config, language_adapters=[a.path for a in adapters])
    if adapters[0].translit:
        out["translit"] = adapters[0].translit
    return out
