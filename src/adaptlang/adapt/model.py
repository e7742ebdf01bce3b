"""Loading a maskable model, its MLM head, LoRA wrapping, and the masked-positions-only MLM objective."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from adaptlang.errors import ModelError, UsageError
from adaptlang.specs import ModelSpec, causal_reason, quiet_transformers, resolve_model

# model attribute holding the MLM head, by head class layout: the head maps hidden states [n, H] -> logits [n, V].
# Models whose head is not one module (e.g. DistilBERT) fall back to the full forward pass (slower, same loss).
HEAD_ATTRS = ("cls", "lm_head")

# Submodules of a freshly initialised head that must be trained (the decoder itself is tied to the embeddings).
HEAD_TRANSFORMS = {
    "cls": ("cls.predictions.transform",),
    "lm_head": ("lm_head.dense", "lm_head.layer_norm"),
}


@dataclass
class LoadedModel:
    mlm: nn.Module  # an AutoModelForMaskedLM instance
    tokenizer: Any
    head_attr: str | None  # attribute of the head module, or None (full-forward fallback)
    head_shipped: bool
    base_prefix: str


def load_masked_lm(model: str | ModelSpec) -> LoadedModel:
    """Load ``model`` (a model string, resolved here, or a resolved spec) as a masked LM; encoder-only checkpoints
    get a fresh head tied to the input embeddings."""
    spec = resolve_model(model, purpose="encoder")
    name = f"{spec.option} {spec.spec}"
    if spec.adapter:
        raise UsageError(f"{name} is {spec.describe()} holding a LoRA adapter; adapt a full model (or an adapted "
                         "model written with --merge)")
    if spec.tokenizer is None:
        raise ModelError(f"{name}: no tokenizer files (tokenizer.json, vocab.txt, sentencepiece model) in it")
    quiet_transformers()
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    kwargs = spec.pretrained_kwargs()
    with spec.loading("model config"):
        config = AutoConfig.from_pretrained(spec.location, **kwargs)
    if config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise ModelError(f"{name}: model type {config.model_type!r} has no masked-language-model architecture; "
                         "give an encoder such as BERT, XLM-R or their kin")
    causal = spec.causal or causal_reason(config.to_dict())
    if causal:
        raise ModelError(f"{name}: a causal language model ({causal}); MLM adaptation needs an encoder")
    with spec.loading("tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{name}: needs a fast (tokenizer.json) tokenizer")
    if tokenizer.mask_token_id is None:
        raise ModelError(f"{name}: the tokenizer has no mask token, so the model cannot be trained as a masked LM")
    with spec.loading("weights"):
        mlm, info = AutoModelForMaskedLM.from_pretrained(spec.location, output_loading_info=True,
                                                         dtype=torch.float32, **kwargs)
    return _loaded(mlm, tokenizer, info, name)


def _loaded(mlm: nn.Module, tokenizer: Any, info: dict[str, Any], name: str) -> LoadedModel:
    head_attr = next((a for a in HEAD_ATTRS if isinstance(getattr(mlm, a, None), nn.Module)), None)
    missing = set(info.get("missing_keys", ()))
    prefix = mlm.base_model_prefix
    if any(k.startswith(prefix + ".") for k in missing if "position_ids" not in k):
        raise ModelError(f"{name}: encoder weights missing from the checkpoint ({sorted(missing)[0]}, ...); is it "
                         "complete?")
    head_missing = [k for k in missing if not k.startswith(prefix + ".")]
    # A fresh head: its transform was newly initialised; the decoder is tied to the input embeddings.
    head_shipped = not head_missing
    if not head_shipped:
        mlm.config.tie_word_embeddings = True
        mlm.tie_weights()
    return LoadedModel(mlm=mlm, tokenizer=tokenizer, head_attr=head_attr, head_shipped=head_shipped, base_prefix=prefix)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class MaskedLMObjective(nn.Module):
    """Mean cross-entropy at the masked positions only.

    The encoder runs on the whole batch, but its hidden states are gathered at the selected positions *before* the
    output projection: with a 250k-piece vocabulary, the projection and softmax at the 85% unmasked positions are
    most of the reference recipe's cost. One module so that DDP (``accelerate launch``) sees one forward.

    :meth:`restrict` narrows the softmax to the pieces the corpus uses (vocabulary trimming, as for one-language
    copies of multilingual models): every target is among them, and on a CPU the 250k-row projection and its
    gradient are half of a step. Pieces the language never uses are then not pushed down; their rows keep their
    pretrained values (they are still the input embeddings of other text).
    """

    def __init__(self, loaded: LoadedModel):
        super().__init__()
        self.mlm = loaded.mlm
        self.head_attr = loaded.head_attr
        self.base_prefix = loaded.base_prefix
        self.register_buffer("head_ids", None, persistent=False)  # [K] scored pieces (None: the whole vocabulary)
        self.register_buffer("label_index", None, persistent=False)  # [V] a piece's row in head_ids (-1: none)

    def encoder(self) -> nn.Module:
        return getattr(self.mlm, self.base_prefix)

    def restrict(self, piece_ids: torch.Tensor) -> int | None:
        """Score only ``piece_ids`` (the pieces of the training and held-out text); the number kept, or None when
        the head cannot be narrowed (no separate head module or decoder: the whole vocabulary is scored)."""
        if self.head_attr is None or _decoder(getattr(self.mlm, self.head_attr)) is None:
            return None
        ids = torch.unique(piece_ids.flatten())
        vocab = self.mlm.get_input_embeddings().weight.shape[0]
        index = torch.full((vocab,), -1, dtype=torch.long)
        index[ids] = torch.arange(ids.numel())
        self.head_ids, self.label_index = ids, index
        return int(ids.numel())

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, T]
        attention_mask: torch.Tensor,  # [B, T]
        selected: torch.Tensor,  # [B, T] bool
        labels: torch.Tensor,  # [M] (M = selected.sum())
        reduction: str = "mean",
    ) -> torch.Tensor:
        if self.head_attr is None:
            logits = self.mlm(input_ids=input_ids, attention_mask=attention_mask).logits[selected]  # [M, V]
        else:
            hidden = self.encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, T, H]
            head = getattr(self.mlm, self.head_attr)
            if self.head_ids is None:
                logits = head(hidden[selected])  # [M, H] -> [M, V]
            else:
                with _decoder_rows(_decoder(head), self.head_ids):
                    logits = head(hidden[selected])  # [M, H] -> [M, K]
                labels = self.label_index[labels]
        if labels.numel() == 0:
            return logits.sum() * 0.0
        return nn.functional.cross_entropy(logits.float(), labels, reduction=reduction)


def _decoder(head: nn.Module) -> nn.Linear | None:
    """The head's output projection (BERT's ``predictions.decoder``, RoBERTa's ``decoder``)."""
    found = [m for name, m in head.named_modules() if name.split(".")[-1] == "decoder" and isinstance(m, nn.Linear)]
    return found[0] if len(found) == 1 else None


@contextlib.contextmanager
def _decoder_rows(decoder: nn.Linear, ids: torch.Tensor) -> Iterator[None]:
    """While inside: ``decoder`` projects onto the rows ``ids`` only (its weights, tied or not, are unchanged)."""
    def forward(x: torch.Tensor) -> torch.Tensor:
        bias = None if decoder.bias is None else decoder.bias[ids]
        return nn.functional.linear(x, decoder.weight[ids], bias)

    decoder.forward = forward
    try:
        yield
    finally:
        del decoder.forward


def enable_gradient_checkpointing(loaded: LoadedModel) -> None:
    """Recompute every encoder layer's activations in the backward pass (transformers' non-reentrant checkpointing,
    which replays dropout from the saved RNG state: the same numbers, less memory). Under LoRA too (the wrapped
    encoder's layers are the same modules)."""
    kwargs = {"use_reentrant": False}
    if hasattr(loaded.mlm, "activation_checkpointing_enable"):  # transformers >= 5.2x (the old name is deprecated)
        loaded.mlm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        loaded.mlm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if not any(getattr(m, "gradient_checkpointing", False) for m in loaded.mlm.modules()):
        raise ModelError(f"{type(loaded.mlm).__name__} does not support --gradient-checkpointing")


def apply_lora(
    loaded: LoadedModel, r: int, alpha: int, dropout: float, new_token_ids: list[int], base_path: str | ModelSpec
) -> tuple[list[str], list[str]]:
    """Wrap the encoder (not the MLM model) with LoRA on every attention and feed-forward projection, so the adapter
    loads onto ``AutoModel.from_pretrained(base)``. New tokens' embeddings train through peft's trainable tokens;
    a fresh head's transform trains as ordinary parameters. Returns (target module names, head params trained)."""
    from peft import LoraConfig, get_peft_model

    encoder = getattr(loaded.mlm, loaded.base_prefix)
    targets = sorted(
        name
        for name, module in encoder.named_modules()
        if isinstance(module, nn.Linear) and "embeddings" not in name and "pooler" not in name
    )
    if not targets:
        raise ModelError("no linear projections found in the encoder to put LoRA adapters on")
    for p in loaded.mlm.parameters():
        p.requires_grad_(False)
    lora = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        trainable_token_indices={"word_embeddings": list(new_token_ids)} if new_token_ids else None,
        base_model_name_or_path=base_location(base_path),
    )
    peft_encoder = get_peft_model(encoder, lora)
    setattr(loaded.mlm, loaded.base_prefix, peft_encoder)
    head_trained: list[str] = []
    if not loaded.head_shipped and loaded.head_attr is not None:
        for module_name in HEAD_TRANSFORMS.get(loaded.head_attr, ()):
            module = loaded.mlm.get_submodule(module_name)
            for pname, p in module.named_parameters():
                p.requires_grad_(True)
                head_trained.append(f"{module_name}.{pname}")
    return targets, head_trained


def base_location(model: str | ModelSpec) -> str:
    """What an adapter records as its base model: the absolute directory, or the hub id."""
    spec = model if isinstance(model, ModelSpec) else None
    location = spec.location if spec is not None else str(model)
    if spec is not None and spec.kind == "hub":
        return location
    path = Path(location).expanduser()
    return str(path.resolve()) if path.exists() else location


def extend_embeddings(mlm: nn.Module, new_size: int, inits: dict[int, list[int]], unk_id: int | None) -> None:
    """Grow the input (and tied output) embeddings to ``new_size`` rows; row ``i`` of ``inits`` becomes the mean of
    the embeddings of its old-vocabulary pieces (Wang et al. 2020; Chau et al. 2020)."""
    emb = mlm.get_input_embeddings()
    if new_size > emb.weight.shape[0]:
        mlm.resize_token_embeddings(new_size, mean_resizing=False)
        emb = mlm.get_input_embeddings()
    with torch.no_grad():
        weight = emb.weight  # [V, H]
        fallback = weight.mean(dim=0)
        for new_id, pieces in inits.items():
            ids = [p for p in pieces if p != unk_id] or pieces
            weight[new_id] = weight[ids].mean(dim=0) if ids else fallback
        out = mlm.get_output_embeddings()
        bias = getattr(out, "bias", None)
        if bias is not None and bias.shape[0] == weight.shape[0]:
            for new_id, pieces in inits.items():
                ids = [p for p in pieces if p != unk_id] or pieces
                bias[new_id] = bias[ids].mean() if ids else 0.0


def count_parameters(module: nn.Module) -> tuple[int, int]:
    seen: set[int] = set()
    total = trainable = 0
    for p in module.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
