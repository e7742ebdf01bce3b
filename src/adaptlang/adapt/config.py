"""Typed configuration and result of an adaptation run (persisted as JSON beside every output)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from adaptlang.errors import UsageError
from adaptlang.langs import check_lang
from adaptlang.translit.choice import AUTO, TranslitChoice, check_scheme

METHODS = ("full", "lora")
HEAD_VOCABS = ("corpus", "full")
EVAL_EVERY_CAP = 50  # default evaluation period (optimiser steps) when a pass over the corpus is longer
# The default batch when --batch-size is not given: 16 sequences on the CPU; on a GPU, 32,768 tokens per optimiser
# step (256 sequences of 128, 64 of 512), which an H200 needs to be busy (16 x 128 left it idle most of the time:
# benchmarks/RESULTS.md), in micro-batches of 8,192 tokens with gradient accumulation on a GPU under 40 GB.
CPU_BATCH = 16
GPU_STEP_TOKENS = 32768
GPU_SMALL_MICRO_TOKENS, GPU_SMALL_GB = 8192, 40

# Options that may differ between a run and its --resume without changing what is computed.
RESUME_FREE_KEYS = frozenset({"force", "resume", "save_every", "progress_every", "max_minutes", "log_dir",
                              "gradient_checkpointing"})


@dataclass(frozen=True)
class AdaptConfig:
    """Everything that defines an adaptation run. ``None`` fields are resolved by :func:`resolve`."""

    corpus: str
    model: str
    output: str
    method: str = "full"
    merge: bool = False
    translit: str | None = None  # "latin", a scheme name, or None (read by adaptlang.translit.choice)
    lang: str | None = None  # ISO 639 code, helps pick a transliteration scheme
    extend_vocab: int = 0
    max_seq_len: int = 128
    batch_size: int | None = None  # sequences per micro-batch (None: by the device, see default_batch)
    grad_accum: int = 1
    steps: int | None = None
    epochs: float | None = None
    lr: float | None = None  # default: 5e-5 (full), 5e-4 (lora)
    warmup: float = 0.06  # fraction of the optimiser steps
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mlm_probability: float = 0.15
    whole_word_mask: bool = False
    heldout_fraction: float = 0.05
    pppl_tokens: int = 512  # positions scored one at a time for pseudo-perplexity
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    save_every: int = 500
    seed: int = 0
    encoding_errors: str = "strict"
    force: bool = False
    resume: bool = False
    progress_every: int = 1
    max_minutes: float | None = None  # time budget: stop at the first step past it (the model is still written)
    log_dir: str | None = None  # TensorBoard scalars (train loss, learning rate)
    strip_diacritics: bool = False  # remove optional diacritics (e.g. Arabic harakat) before tokenization
    # Convergence: the held-out MLM loss is scored every ``eval_every`` optimiser steps (None: every pass, or every
    # EVAL_EVERY_CAP steps when a pass is longer); training stops after ``patience`` evaluations without a lower
    # loss (0: never early) and keeps the weights of the lowest one.
    eval_every: int | None = None
    patience: int = 3
    # Encoder-only checkpoints (no MLM head shipped): train the fresh head alone first, encoder frozen, until its
    # held-out loss stops falling (same eval_every / patience; at most one pass), then everything: a random head's
    # gradients would otherwise rewrite the top layers the downstream parser reads (see README). No effect on a
    # model that ships its head.
    head_warmup: bool = True
    head_lr: float = 1e-3  # peak learning rate of the head warm-up
    # "corpus": the softmax over the pieces the corpus uses (every target is one; a 250k-piece projection is half
    # of a CPU step); "full": over the whole vocabulary
    head_vocab: str = "corpus"
    cpu_bf16: bool = False  # bf16 autocast on the CPU (training steps; the before/after measures stay float32)
    # recompute each layer's activations in the backward pass instead of keeping them: less memory (LoRA's frozen
    # base keeps none of its own gradients, so activations are most of its memory), about a third more compute
    gradient_checkpointing: bool = False
    from_scratch: dict[str, Any] | None = None  # set by adaptlang.adapt.scratch: the model is a fresh random init

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AdaptConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def resolve(config: AdaptConfig) -> AdaptConfig:
    """Check option values and fill in method-dependent defaults; raise UsageError naming the option."""
    c = config
    if c.method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, not {c.method!r}")
    if c.merge and c.method != "lora":
        raise UsageError("--merge only applies to --method lora")
    if c.steps is not None and c.epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if c.batch_size is None:
        batch, accum = default_batch(c.max_seq_len, c.grad_accum)
        c = dataclasses.replace(c, batch_size=batch, grad_accum=accum)
    checks = [
        (c.max_seq_len >= 8 and c.max_seq_len <= 8192, "--max-seq-len must be between 8 and 8192"),
        (c.batch_size >= 1, "--batch-size must be at least 1"),
        (c.grad_accum >= 1, "--grad-accum must be at least 1"),
        (c.steps is None or c.steps >= 1, "--steps must be at least 1"),
        (c.epochs is None or c.epochs > 0, "--epochs must be positive"),
        (c.lr is None or c.lr > 0, "--lr must be positive"),
        (0 <= c.warmup < 1, "--warmup must be a fraction in [0, 1)"),
        (0 < c.mlm_probability < 1, "--mlm-probability must be in (0, 1)"),
        (0 < c.heldout_fraction <= 0.5, "--heldout-fraction must be in (0, 0.5]"),
        (c.extend_vocab >= 0, "--extend-vocab must be 0 or more"),
        (c.save_every >= 1, "--save-every must be at least 1"),
        (c.lora_r >= 1, "--lora-r must be at least 1"),
        (c.pppl_tokens >= 0, "--pppl-tokens must be 0 or more"),
        (c.max_minutes is None or c.max_minutes > 0, "--max-minutes must be positive"),
        (c.eval_every is None or c.eval_every >= 1, "--eval-every must be at least 1"),
        (c.patience >= 0, "--patience must be 0 (never stop early) or more"),
        (c.head_lr > 0, "--head-lr must be positive"),
        (c.head_vocab in HEAD_VOCABS, f"--head-vocab must be one of {', '.join(HEAD_VOCABS)}, not {c.head_vocab!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    lang = check_lang(c.lang) if c.lang is not None else None
    choice = TranslitChoice.parse(c.translit)
    if choice.kind == AUTO:
        raise UsageError("--translit auto is decided by assess's what-if (adaptlang assess / categorize); adapt "
                         "takes none, latin or a scheme name")
    if choice.scheme is not None:
        check_scheme(choice.scheme, lang)  # an unknown scheme fails before the corpus or the model is read
    translit = choice.value  # None, "latin" or the scheme name; resolved against the corpus's script by adapt
    lr = c.lr if c.lr is not None else (5e-4 if c.method == "lora" else 5e-5)
    epochs = 1.0 if (c.steps is None and c.epochs is None) else c.epochs
    return dataclasses.replace(c, translit=translit, lang=lang, lr=lr, epochs=epochs)


def default_batch(max_seq_len: int, grad_accum: int, gpu_gb: float | None = None) -> tuple[int, int]:
    """(sequences per micro-batch, micro-batches per step) when --batch-size is not given. ``gpu_gb``: the GPU's
    memory (None: the first CUDA device's, or the CPU's default when there is none). A --grad-accum given stays."""
    if gpu_gb is None:
        import torch

        if not torch.cuda.is_available():
            return CPU_BATCH, grad_accum
        gpu_gb = torch.cuda.get_device_properties(0).total_memory / 2**30
    per_step = max(1, GPU_STEP_TOKENS // max(1, max_seq_len))
    micro = per_step if gpu_gb >= GPU_SMALL_GB else max(1, GPU_SMALL_MICRO_TOKENS // max(1, max_seq_len))
    return micro, grad_accum if grad_accum > 1 else max(1, per_step // micro)


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adaptlang.adapt.adapt_model` did, with every figure it measured."""

    output: str
    method: str
    merged: bool
    base_model: str
    translit: str | None
    head: str  # "shipped" or "fresh (tied to input embeddings)"
    steps: int
    resumed_from_step: int | None
    tokens_trained: int
    train_seconds: float
    tokens_per_second: float
    peak_memory_mb: float
    final_train_loss: float | None
    heldout: dict[str, Any]
    data: dict[str, Any]
    vocab: dict[str, Any] | None
    trainable_parameters: int
    total_parameters: int
    device: str
    n_processes: int
    config: dict[str, Any] = field(default_factory=dict)
    train_losses: list[float] = field(default_factory=list)  # MLM loss of every optimiser step
    heldout_curve: list[dict[str, Any]] = field(default_factory=list)  # {step, minutes, mlm_loss} per evaluation
    head_warmup: dict[str, Any] | None = None  # the warm-up phase: steps, seconds, curve, stop reason
    step_tokens_per_second: float = 0.0  # in the training steps alone (tokens_per_second: the whole run's wall time)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
