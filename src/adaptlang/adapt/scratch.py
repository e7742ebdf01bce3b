"""``pretrain_scratch``: a small monolingual BERT trained from scratch on the raw corpus alone (the study's fourth
system, beside the multilingual model with and without MLM tuning and the BiLSTM baseline).

Steps: hold out the same lines as ``adapt`` -> train a WordPiece vocabulary (``tokenizers``) on the training lines
only -> build a randomly initialised ``BertForMaskedLM`` -> train it with the MLM task on the training core through
:func:`adaptlang.adapt.adapt_model` (held-out loss every ``eval_every`` steps, early stopping, best weights, time
budget, checkpoints, ``--resume``). OUT is a Hugging Face model directory with ``adaptlang.json`` (``from_scratch``:
the architecture), so that ``--model``/``--embeddings`` take it as any adapted model.

Default size, 4 layers x 256 (4 heads, 1,024 feed-forward, 8,000 pieces; 5.3 M parameters): about 6 x 3.2 M
multiply-adds per token, so one pass over 0.6 MB of text (about 230 k tokens) takes a few minutes on one CPU thread
and a 12-minute budget gives several passes; wider or deeper models see too few passes in that time, and on
~100 k words of text they would overfit before they converged anyway.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptlang.adapt.config import AdaptConfig, AdaptResult
from adaptlang.errors import OutputExistsError, UsageError
from adaptlang.events import Event, Progress, silent

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True)
class ScratchConfig:
    """A from-scratch model: its size, and the MLM training options passed on to ``adapt`` (see AdaptConfig)."""

    corpus: str
    output: str
    vocab_size: int = 8000
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    intermediate: int | None = None  # default 4 x hidden
    min_frequency: int = 2  # WordPiece: pieces seen fewer times are not learned
    lr: float = 5e-4  # from scratch: an order above adapt's continued-training rate
    warmup: float = 0.06
    epochs: float = 40.0  # passes over the training text (a cap: early stopping and the time budget end it first)
    max_minutes: float | None = None
    eval_every: int | None = None
    patience: int = 3
    batch_size: int = 16
    max_seq_len: int = 128
    heldout_fraction: float = 0.05
    seed: int = 0
    force: bool = False
    resume: bool = False
    pppl_tokens: int = 512

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def architecture(self) -> dict[str, Any]:
        return {"model_type": "bert", "layers": self.layers, "hidden": self.hidden, "heads": self.heads,
                "intermediate": self.intermediate or 4 * self.hidden, "vocab_size": self.vocab_size,
                "min_frequency": self.min_frequency, "seed": self.seed}


def check_scratch(c: ScratchConfig) -> None:
    checks = [(c.vocab_size >= 100, "--vocab-size must be at least 100"), (c.layers >= 1, "--layers must be at "
              "least 1"), (c.heads >= 1 and c.hidden % c.heads == 0, "--hidden must be a multiple of --heads"),
              (c.intermediate is None or c.intermediate >= 1, "--intermediate must be at least 1"),
              (c.min_frequency >= 1, "--min-frequency must be at least 1")]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)


def pretrain_scratch(config: ScratchConfig, progress: Progress | None = None) -> AdaptResult:
    """Train a monolingual BERT from scratch on ``config.corpus`` into ``config.output``; see the module docstring.
    The initial model is built beside OUT (``OUT.init``, deterministic: rebuilt on --resume) and removed at the end."""
    from adaptlang.adapt import adapt_model
    from adaptlang.adapt.config import resolve

    c = config
    check_scratch(c)
    say = progress or silent
    out = Path(c.output)
    if (out.exists() or out.is_symlink()) and not (c.force or c.resume):
        raise OutputExistsError(out, "pass --force to start over, or --resume to continue an interrupted run")
    init = out.with_name(out.name + ".init")
    adapt_config = AdaptConfig(
        corpus=c.corpus, model=str(init), output=str(out), max_seq_len=c.max_seq_len, batch_size=c.batch_size,
        epochs=c.epochs, lr=c.lr, warmup=c.warmup, heldout_fraction=c.heldout_fraction, seed=c.seed, force=c.force,
        resume=c.resume, max_minutes=c.max_minutes, eval_every=c.eval_every, patience=c.patience,
        pppl_tokens=c.pppl_tokens, from_scratch=c.architecture(), head_warmup=False)  # its head is as new as the rest
    resolve(adapt_config)  # option errors before the vocabulary is trained
    try:
        build_initial_model(c, init, say)
        return adapt_model(adapt_config, say)
    finally:
        shutil.rmtree(init, ignore_errors=True)


def build_initial_model(c: ScratchConfig, init: Path, say: Progress) -> None:
    """A WordPiece tokenizer trained on the corpus's training lines and a randomly initialised BertForMaskedLM,
    written to ``init`` (the same files for the same corpus and options)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from adaptlang.adapt.corpus import read_corpus, split_heldout
    from adaptlang.errors import InputError
    from adaptlang.fileio import atomic_path
    from adaptlang.specs import quiet_transformers

    quiet_transformers()  # no "Writing model shards" bar from save_pretrained beside the command's own
    lines, _ = read_corpus(c.corpus)
    if not lines:
        raise InputError(c.corpus, "no text: the corpus has no non-blank lines")
    train_lines, _ = split_heldout(lines, c.heldout_fraction, c.corpus)  # the vocabulary never sees held-out text
    say(Event("phase", message=f"training a WordPiece vocabulary of up to {c.vocab_size} pieces on "
                               f"{len(train_lines)} lines"))
    tokenizer = train_wordpiece(train_lines, c.vocab_size, c.min_frequency)
    arch = c.architecture()
    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=c.hidden, num_hidden_layers=c.layers,
                     num_attention_heads=c.heads, intermediate_size=arch["intermediate"],
                     max_position_embeddings=max(512, c.max_seq_len), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(c.seed)
    model = BertForMaskedLM(cfg)
    say(Event("phase", message=f"a {c.layers}-layer, {c.hidden}-wide BERT from scratch: "
                               f"{sum(p.numel() for p in model.parameters()):,} parameters, "
                               f"{len(tokenizer):,} pieces"))
    shutil.rmtree(init, ignore_errors=True)
    with atomic_path(init) as tmp:
        tmp.mkdir()
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))


def train_wordpiece(lines: list[str], vocab_size: int, min_frequency: int) -> Any:
    """A cased BERT WordPiece tokenizer (accents kept: they are letters in many languages) trained on ``lines``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                                              special_tokens=list(SPECIALS), show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", do_lower_case=False)
