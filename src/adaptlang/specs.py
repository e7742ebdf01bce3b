"""Resolve once what a ``--model`` string names; every model loader takes the resulting :class:`ModelSpec`.

Resolution reads JSON files only (``config.json``, ``adapter_config.json``, ``adaptlang.json``): no weights, no
network. A hub id is taken on trust here and checked when a loader first needs it; offline and not in the local
Hugging Face cache, the loader fails with a one-line :class:`~adaptlang.errors.ModelError`.

Kinds (``ModelSpec.kind``):

``hub``             a Hugging Face hub id (``xlm-roberta-base``, ``org/name``)
``directory``       a Hugging Face model directory (``config.json``, weights, tokenizer files)
``peft-adapter``    a PEFT adapter directory (``adapter_config.json``) over a base model
``adapted-model``   the output of ``adaptlang adapt`` (``adaptlang.json``): a full model, or a LoRA adapter
``trained-parser``  the output of ``adaptlang train`` / ``baseline`` (``config.json`` kind ``adaptlang-parser``)

Purposes (what the option needs): ``encoder`` (train, adapt), ``tokenizer`` (assess: a directory with tokenizer
files only is enough), ``analysis`` (analyze cka: an encoder, or a trained parser's fine-tuned transformer
encoder), ``parser`` (evaluate, predict).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from adaptlang.errors import AdaptlangError, ModelError, UsageError

KINDS = ("hub", "directory", "peft-adapter", "adapted-model", "trained-parser")
_ENCODER_KINDS = frozenset(KINDS[:4])
PURPOSES: dict[str, frozenset[str]] = {
    "encoder": _ENCODER_KINDS,
    "tokenizer": _ENCODER_KINDS,
    "analysis": frozenset(KINDS),
    "parser": frozenset({"trained-parser"}),
}
_DESCRIPTIONS = {
    "hub": "a hub id",
    "directory": "a Hugging Face model directory",
    "peft-adapter": "a PEFT adapter directory",
    "adapted-model": "an adapted model directory (adaptlang adapt output)",
    "trained-parser": "a trained parser directory (adaptlang train output)",
}
PARSER_KIND = "adaptlang-parser"  # config.json "kind" of a model directory written by `adaptlang train`
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model",
                   "vocab.json")
# model types that exist only as left-to-right language models (their states see no right context)
CAUSAL_MODEL_TYPES = frozenset({
    "gpt2", "openai-gpt", "gpt_neo", "gpt_neox", "gptj", "gpt_bigcode", "ctrl", "transfo-xl", "xglm", "opt",
    "bloom", "llama", "mistral", "mixtral", "falcon", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi", "phi3",
    "codegen", "mpt", "olmo", "olmo2", "biogpt", "stablelm", "starcoder2",
})
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


@dataclass(frozen=True)
class ModelSpec:
    """What a model option names. ``location`` is what ``from_pretrained`` reads: the directory or the hub id."""

    spec: str  # as the user gave it
    kind: str  # one of KINDS
    location: str
    option: str = "--model"
    base_model: str | None = None  # adapters: the model the adapter applies to; adapted models: the model adapted
    adapter: bool = False  # the weights are a PEFT adapter over base_model
    translit: str | None = None  # transliteration scheme the model expects (adaptlang.json / the parser's config)
    model_type: str | None = None  # None: unknown until loaded (hub ids)
    architectures: tuple[str, ...] = ()
    causal: str | None = None  # why it is a causal (left-to-right) LM; None: it is not, or unknown (hub ids)
    has_mlm_head: bool | None = None  # None: unknown
    n_layers: int | None = None
    tokenizer: str | None = None  # directory (or hub id) holding the tokenizer; None: no tokenizer files found
    encoder_kind: str | None = None  # trained parsers: the word encoder's kind ("transformer", "bilstm")
    encoder: "ModelSpec | None" = None  # trained parsers with a transformer encoder: the fine-tuned encoder

    @property
    def is_causal(self) -> bool:
        return self.causal is not None

    @property
    def uses_hub(self) -> bool:
        """Whether loading may need the hub (the model, or an adapter's base model, is a hub id)."""
        return self.kind == "hub" or (self.adapter and self.base_model is not None
                                      and _looks_like_hub_id(self.base_model) and not Path(self.base_model).is_dir())

    def describe(self) -> str:
        return _DESCRIPTIONS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pretrained_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``from_pretrained``: cache only when the hub cannot be reached (no retries)."""
        return {"local_files_only": True} if not self.uses_hub or hub_unreachable() else {}

    @contextmanager
    def loading(self, what: str = "model") -> Iterator[None]:
        """Turn the many exception types of transformers / peft into one-line ModelErrors naming the option."""
        try:
            yield
        except AdaptlangError:
            raise
        except Exception as e:  # transformers raises OSError, ValueError, KeyError, RuntimeError... for bad models
            raise self.load_error(e, what) from None

    def load_error(self, e: BaseException, what: str = "model") -> ModelError:
        first = _first_line(e)
        if self.uses_hub and hub_unreachable():
            hub_id = self.location if self.kind == "hub" else self.base_model
            return ModelError(f"{self.option} {self.spec}: the hub id {hub_id!r} cannot be reached offline and is not "
                              "in the local Hugging Face cache; pass a local model directory")
        return ModelError(f"{self.option} {self.spec}: cannot load the {what}: {first}")


def resolve_model(spec: "str | os.PathLike[str] | ModelSpec", *, purpose: str, option: str = "--model") -> ModelSpec:
    """Resolve ``spec`` (a path or hub id) into a :class:`ModelSpec` and check that it fits ``purpose``.

    Raises ModelError for a path that is missing or not a model, UsageError for a model of the wrong kind.
    A ModelSpec is checked against ``purpose`` and returned as is.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; valid: {', '.join(PURPOSES)}")
    if isinstance(spec, ModelSpec):
        _check_purpose(spec, purpose)
        return spec
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        resolved = _resolve_dir(text, path, option, purpose)
    elif path.exists():
        raise ModelError(f"{option} {text}: is a file; give a model directory or a hub id")
    elif not _looks_like_hub_id(text):
        raise ModelError(f"{option} {text}: no such directory; give a local model directory or a hub id")
    else:
        resolved = ModelSpec(spec=text, kind="hub", location=text, option=option, tokenizer=text)
    _check_purpose(resolved, purpose)
    return resolved


def _looks_like_hub_id(text: str) -> bool:
    """``name`` or ``org/name``; anything with a path look (``./x``, ``/x``, ``~/x``, ``a/b/c``) is a path."""
    return bool(_HUB_ID.fullmatch(text)) and ".." not in text and "--" not in text


def _check_purpose(spec: ModelSpec, purpose: str) -> None:
    opt, s = spec.option, spec.spec
    if spec.kind in PURPOSES[purpose]:
        if purpose == "analysis" and spec.kind == "trained-parser" and spec.encoder is None:
            raise UsageError(f"{opt} {s} is a trained parser directory whose encoder is {spec.encoder_kind!r}, not a "
                             "transformer; give a transformer model or a parser trained on one")
        return
    if spec.kind == "trained-parser":
        raise UsageError(f"{opt} {s} is a trained parser directory (adaptlang train output); give the encoder it "
                         f"was trained from, or use `adaptlang evaluate {s}`")
    raise UsageError(f"{opt} {s} is {spec.describe()}, not a trained parser; train one with "
                     f"`adaptlang train --model {s}`")


def _resolve_dir(text: str, path: Path, option: str, purpose: str, base_hint: str | None = None) -> ModelSpec:
    cfg = _read_json(path / "config.json", option, text)
    if cfg is not None and cfg.get("kind") == PARSER_KIND:
        return _parser_spec(text, path, cfg, option)
    meta = _read_json(path / "adaptlang.json", option, text)
    adapter_cfg = _read_json(path / "adapter_config.json", option, text)
    tokenizer = str(path) if has_tokenizer_files(path) else None
    common = dict(spec=text, location=str(path), option=option, translit=(meta or {}).get("translit"))
    if adapter_cfg is not None:
        base = base_hint or (meta or {}).get("base_model") or adapter_cfg.get("base_model_name_or_path")
        if not base:
            raise ModelError(f"{option} {text}: a PEFT adapter without a base model (adapter_config.json has no "
                             "base_model_name_or_path)")
        facts = _base_facts(str(base), option, text)
        base_tokenizer = facts.pop("tokenizer")
        if (path / "mlm_head.safetensors").is_file():  # a LoRA adaptation that trained a fresh head
            facts["has_mlm_head"] = True
        kind = "adapted-model" if meta is not None else "peft-adapter"
        return ModelSpec(kind=kind, base_model=str(base), adapter=True, tokenizer=tokenizer or base_tokenizer,
                         **facts, **common)
    if cfg is None:
        if purpose == "tokenizer" and tokenizer:
            return ModelSpec(kind="directory", tokenizer=tokenizer, **common)
        if purpose == "tokenizer":
            raise ModelError(f"{option} {text}: not a tokenizer directory (no tokenizer.json, vocab.txt or "
                             "sentencepiece model in it)")
        raise ModelError(f"{option} {text}: not a model directory (no config.json or adapter_config.json in it)")
    kind = "adapted-model" if meta is not None else "directory"
    return ModelSpec(kind=kind, base_model=(meta or {}).get("base_model"), tokenizer=tokenizer,
                     **config_facts(cfg), **common)


def _base_facts(base: str, option: str, text: str) -> dict[str, Any]:
    """What the adapter's base model config says (nothing for a hub id), and where its tokenizer is."""
    p = Path(base).expanduser()
    if p.is_dir():
        cfg = _read_json(p / "config.json", option, text) or {}
        return {**config_facts(cfg), "tokenizer": str(p) if has_tokenizer_files(p) else None}
    if _looks_like_hub_id(base):
        return {"tokenizer": base}
    raise ModelError(f"{option} {text}: the adapter's base model {base} is not there (moved or deleted?); put it "
                     "back or adapt again")


def _parser_spec(text: str, path: Path, cfg: dict[str, Any], option: str) -> ModelSpec:
    enc = cfg.get("encoder") if isinstance(cfg.get("encoder"), dict) else {}
    inner = None
    if enc.get("kind") == "transformer" and (path / "encoder").is_dir():
        base_hint = enc.get("base_model") if enc.get("adapter") else None
        inner = _resolve_dir(str(path / "encoder"), path / "encoder", option, "encoder", base_hint)
        inner = replace(inner, translit=enc.get("translit") or inner.translit)
    facts = {k: getattr(inner, k) for k in ("model_type", "architectures", "causal", "n_layers")} if inner else {}
    return ModelSpec(spec=text, kind="trained-parser", location=str(path), option=option,
                     translit=enc.get("translit"), encoder_kind=enc.get("kind"), encoder=inner,
                     tokenizer=inner.tokenizer if inner else None, **facts)


def config_facts(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """model_type, architectures, causal, has_mlm_head and n_layers from a ``config.json`` dict."""
    archs = tuple(str(a) for a in cfg.get("architectures") or ())
    n = cfg.get("num_hidden_layers", cfg.get("n_layer", cfg.get("num_layers")))
    has_head = any(a.endswith(("ForMaskedLM", "ForPreTraining", "WithLMHeadModel")) for a in archs) if archs else None
    return {"model_type": cfg.get("model_type"), "architectures": archs, "causal": causal_reason(cfg),
            "has_mlm_head": has_head, "n_layers": n if isinstance(n, int) else None}


def causal_reason(cfg: Mapping[str, Any]) -> str | None:
    """Why a model config describes a causal (left-to-right) language model, or None."""
    for a in cfg.get("architectures") or ():
        if a.endswith("ForCausalLM") or (a.endswith("LMHeadModel") and not a.endswith("WithLMHeadModel")):
            return f"architecture {a}"
    if cfg.get("is_decoder") and not cfg.get("is_encoder_decoder"):
        return "is_decoder=true in config.json"
    if cfg.get("model_type") in CAUSAL_MODEL_TYPES:
        return f"model type {cfg['model_type']}"
    return None


def parser_encoder_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The encoder spec saved in a trained parser directory's config.json; empty when there is none or it cannot
    be read (what the directory is, resolve_model says)."""
    try:
        config = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    encoder = config.get("encoder") if isinstance(config, dict) else None
    return encoder if isinstance(encoder, dict) else {}


def has_tokenizer_files(path: Path) -> bool:
    return any((path / f).is_file() for f in TOKENIZER_FILES)


def _read_json(path: Path, option: str, text: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{option} {text}: cannot read {path.name} ({_first_line(e)})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{option} {text}: {path.name} is not a JSON object")
    return data


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


@lru_cache(maxsize=1)
def hub_unreachable() -> bool:
    """True when the Hugging Face hub must not or cannot be reached: ``HF_HUB_OFFLINE`` is set, or its host name
    does not resolve. Checked once per process, and only when a hub id is loaded."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    host = re.sub(r"^https?://", "", os.environ.get("HF_ENDPOINT", "https://huggingface.co")).split("/")[0]
    try:
        socket.getaddrinfo(host.split(":")[0], 443)
    except OSError:
        return True
    return False


def quiet_transformers() -> None:
    """Keep library chatter (load reports, download hints, progress bars) out of the command's output."""
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass
    for name in ("peft", "huggingface_hub", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="peft")
    warnings.filterwarnings("ignore", module="transformers")
