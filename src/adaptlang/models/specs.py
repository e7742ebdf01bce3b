"""Typed word-encoder specs: what ``TrainConfig.encoder`` holds. Each spec's ``to_dict()`` is the JSON config its
encoder class builds from (``{"kind": ..., ...}``), as saved in every model directory's ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Union

from adaptlang.errors import UsageError

POOLINGS = ("first", "mean")


@dataclass(frozen=True)
class TransformerSpec:
    """A pretrained transformer encoder (``adaptlang train``)."""

    kind: ClassVar[str] = "transformer"
    model: str = ""  # hub id, model directory, PEFT adapter or `adaptlang adapt` output
    pooling: str = "first"  # subword pieces to a word vector: first piece or mean
    scalar_mix: bool = False  # learned weighted sum of all layers instead of the last one
    random_init: str | None = None  # layers re-initialised before training, e.g. "1-2,11-12"
    freeze_embeddings: bool = True  # measured better on small treebanks (see benchmarks/RESULTS.md)
    freeze_layers: str | None = None  # e.g. "1-6"
    max_length: int | None = None  # pieces per window (default: the model's maximum)
    translit: str | None = None  # a scheme applied to every word before tokenization
    allow_causal: bool = False  # accept a causal LM (GPT-2 and kin) as the encoder; refused by default
    # filled in by the encoder when it is built (read from the model directory): kept so that a saved config
    # round-trips through the spec
    adapter: bool | None = None
    base_model: str | None = None
    # MAD-X (adaptlang.models.adapters): frozen LoRA language adapter(s) over the base --model, averaged when
    # several, and a fresh LoRA task adapter of rank task_lora_r that trains with the heads
    language_adapters: tuple[str, ...] = ()
    task_lora_r: int = 8

    def __post_init__(self) -> None:
        if not self.model:
            raise UsageError("--model: give the pretrained encoder (a model directory or a hub id)")
        if self.pooling not in POOLINGS:
            raise UsageError(f"--pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}")
        object.__setattr__(self, "language_adapters", tuple(str(a) for a in self.language_adapters or ()))
        if self.language_adapters and (not isinstance(self.task_lora_r, int) or self.task_lora_r < 1):
            raise UsageError(f"--task-lora-r must be an integer >= 1, got {self.task_lora_r!r}")

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, **asdict(self)}
        if self.language_adapters:  # (left out otherwise: configs without adapters are as before)
            d["language_adapters"] = list(self.language_adapters)
        else:
            del d["language_adapters"], d["task_lora_r"]
        return d


def _bilstm_spec(d: dict[str, Any]) -> Any:
    from adaptlang.models.bilstm import BiLSTMEncoderConfig

    return BiLSTMEncoderConfig.from_dict(d)


def _features_spec(d: dict[str, Any]) -> Any:
    from adaptlang.models.features import FeaturesEncoderConfig

    return FeaturesEncoderConfig.from_dict(d)


EncoderSpec = Union[TransformerSpec, Any]  # Any: BiLSTMEncoderConfig, FeaturesEncoderConfig (lazy: they need torch)


def encoder_spec(d: dict[str, Any]) -> EncoderSpec:
    """The typed spec of a JSON encoder config (unknown kinds and fields give a one-line error)."""
    kind = str(d.get("kind", ""))
    if kind == "transformer":
        known = {f.name for f in fields(TransformerSpec)}
        unknown = sorted(set(d) - known - {"kind"})
        if unknown:
            raise UsageError(f"transformer encoder config: unknown fields {unknown}; valid: {sorted(known)}")
        return TransformerSpec(**{k: v for k, v in d.items() if k != "kind"})
    if kind == "bilstm":
        return _bilstm_spec(d)
    if kind == "features":
        return _features_spec(d)
    from adaptlang.models import get_encoder_class

    get_encoder_class(kind)  # raises, listing the valid kinds
    raise UsageError(f"encoder kind {kind!r} has no typed spec")
