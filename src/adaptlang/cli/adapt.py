"""``adaptlang adapt``: continued masked-language-model training on a raw corpus (full or LoRA)."""

from __future__ import annotations

import os
from typing import Any, Optional

import typer

from adaptlang.cli.common import CPU_BF16_OPT, THREADS_HELP

HELP = """Adapt an encoder to a language by continuing its masked-language-model training on raw text.

CORPUS is a UTF-8 text file (one sentence or paragraph per line); every k-th line is held out to measure MLM loss and pseudo-perplexity before and after, and the held-out loss during training: training runs --epochs passes (or --steps) under --max-minutes, stops early after --patience evaluations without a lower loss, and keeps the weights of the lowest. OUT becomes a Hugging Face model directory (--method full, or lora with --merge) or a PEFT adapter directory (--method lora), plus adaptlang.json (method, base model, transliteration) and adapt.json (every figure and the resolved configuration). Checkpoints are written every --save-every steps and on Ctrl-C / SIGTERM; rerun the same command with --resume to continue. Runs unchanged under `accelerate launch`.
"""


EVAL_EVERY_OPTION = typer.Option(None, "--eval-every", help="Score the held-out MLM loss every N steps (default: "
                                 "every pass, or every 50 steps if a pass is longer).")
PATIENCE_OPTION = typer.Option(3, "--patience", help="Stop after N evaluations without a lower held-out loss (0: "
                               "never early); the weights of the lowest are kept.")
HEAD_WARMUP_OPTION = typer.Option(True, "--head-warmup/--no-head-warmup", help="Model without an MLM head: train "
                                  "the fresh head alone (encoder frozen) until its held-out loss stops falling, then "
                                  "everything (default; no effect on a model that ships its head).")
HEAD_VOCAB_OPTION = typer.Option("corpus", "--head-vocab", help="The MLM softmax runs over the pieces the corpus uses "
                                 "(corpus: about twice as fast on a CPU with a 250k-piece vocabulary) or over the "
                                 "whole vocabulary (full).")

MAX_MINUTES_OPTION = typer.Option(None, "--max-minutes", help="Time budget (warm-up included): the LR schedule is "
                                  "planned to end with it; the best weights so far are measured and written.")
STRIP_DIACRITICS_OPTION = typer.Option(False, "--strip-diacritics", help="Remove optional diacritics (Arabic harakat, "
                                       "Hebrew niqqud, ...) before tokenization.")
LOG_DIR_OPTION = typer.Option(None, "--log-dir", help="Also write TensorBoard scalars (loss, learning rate, held-out "
                              "loss) to this directory.")
PROBE_OPTION = typer.Option(None, "--probe-treebank", help="After adapting: per-layer linear UPOS probes of the model "
                            "before and after (as `adaptlang analyze probe`) on this CoNLL-U treebank, its last "
                            "fifth held out; the table is printed and written to OUT/probe.md and OUT/probe.json.")


def probe_before_and_after(treebank: str, model: str, output: str, lang: Optional[str], out: Any) -> None:
    """With ``out`` None: check the treebank only (before any training). Else probe the model and the adapted
    model on it, print the table to ``out`` and write it beside the adapted model."""
    from pathlib import Path

    from adaptlang.analysis.probe import ProbeConfig, probe_models, split_treebank
    from adaptlang.fileio import write_json_atomic, write_text_atomic

    config = ProbeConfig(models=(model,) if out is None else (model, output), train=treebank, lang=lang)
    if out is None:
        split_treebank(config)
        return
    result = probe_models(config)
    write_json_atomic(Path(output) / "probe.json", result.to_dict())
    write_text_atomic(Path(output) / "probe.md", result.markdown())
    out.print(result.markdown(), highlight=False)


def register(app: typer.Typer) -> None:
    from adaptlang.cli import pretrain

    app.command(name="adapt", help=HELP, no_args_is_help=True)(adapt)
    pretrain.register(app)  # its sibling: the same MLM training from a random initialisation


GRADIENT_CHECKPOINTING_OPTION = typer.Option(
    False, "--gradient-checkpointing", help="Recompute activations in the backward pass: less memory, more time.")
BATCH_HELP = "Sequences per device per micro-batch (default: 16 on the CPU; 32,768 tokens per step on a GPU)."


def adapt(
    corpus: str = typer.Argument(..., help="Raw text, one sentence/paragraph per line ('-' for stdin)."),
    model: str = typer.Option(..., "--model", "-m", help="Local Hugging Face model directory (BERT, XLM-R, ...)."),
    output: str = typer.Option(..., "--output", "-o", help="Output directory OUT."),
    method: str = typer.Option("full", "--method", help="full (all weights) or lora (adapters via peft)."),
    merge: bool = typer.Option(False, "--merge", help="With --method lora: write a merged full model."),
    translit: Optional[str] = typer.Option(
        None, "--translit", help="latin (pick a scheme for the corpus script), a scheme name, or none."),
    lang: Optional[str] = typer.Option(None, "--lang", help="ISO 639 code of the corpus language (for --translit)."),
    extend_vocab: int = typer.Option(0, "--extend-vocab", help="Add up to N corpus subwords the model lacks."),
    max_seq_len: int = typer.Option(128, "--max-seq-len", help="Tokens per packed training sequence."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=BATCH_HELP),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Micro-batches per optimiser step."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps (default: --epochs 1)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Passes over the training text."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default 5e-5 full, 5e-4 lora)."),
    warmup: float = typer.Option(0.06, "--warmup", help="Warmup as a fraction of the steps."),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    mlm_probability: float = typer.Option(0.15, "--mlm-probability", help="Share of tokens (or words) masked."),
    whole_word_mask: bool = typer.Option(False, "--whole-word-mask", help="Mask whole words, not single pieces."),
    heldout_fraction: float = typer.Option(0.05, "--heldout-fraction", help="Share of lines held out."),
    pppl_tokens: int = typer.Option(512, "--pppl-tokens", help="Held-out positions scored for pseudo-perplexity."),
    lora_r: int = typer.Option(8, "--lora-r"),
    lora_alpha: int = typer.Option(16, "--lora-alpha"),
    save_every: int = typer.Option(500, "--save-every", help="Checkpoint every N steps."),
    seed: int = typer.Option(0, "--seed"), gradient_checkpointing: bool = GRADIENT_CHECKPOINTING_OPTION,
    max_minutes: Optional[float] = MAX_MINUTES_OPTION,
    eval_every: Optional[int] = EVAL_EVERY_OPTION,
    patience: int = PATIENCE_OPTION,
    head_warmup: bool = HEAD_WARMUP_OPTION, head_vocab: str = HEAD_VOCAB_OPTION, cpu_bf16: bool = CPU_BF16_OPT,
    head_lr: float = typer.Option(1e-3, "--head-lr", help="Peak learning rate of the head warm-up."),
    probe_treebank: Optional[str] = PROBE_OPTION,
    strip_diacritics: bool = STRIP_DIACRITICS_OPTION,
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    log_dir: Optional[str] = LOG_DIR_OPTION,
    encoding_errors: str = typer.Option("strict", "--encoding-errors", help="strict, replace or ignore."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUT."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in OUT."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result JSON here ('-' = stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or messages."),
) -> None:
    from adaptlang.options import ADAPT, validate_numeric

    validate_numeric(locals(), ADAPT)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    from adaptlang.langs import check_lang

    lang = check_lang(lang) if lang is not None else None  # an unknown code fails before torch is imported
    if probe_treebank:
        probe_before_and_after(probe_treebank, model, output, lang, None)  # a treebank without UPOS fails now
    from adaptlang.adapt import AdaptConfig, adapt_model
    from adaptlang.cli.common import apply_threads, console, emit_json, err_console
    from adaptlang.cli.mlm_output import ProgressReporter, render

    config = AdaptConfig(
        corpus=corpus, model=model, output=output, method=method, merge=merge, translit=translit, lang=lang,
        extend_vocab=extend_vocab, max_seq_len=max_seq_len, batch_size=batch_size, grad_accum=grad_accum,
        steps=steps, epochs=epochs, lr=lr, warmup=warmup, weight_decay=weight_decay,
        mlm_probability=mlm_probability, whole_word_mask=whole_word_mask, heldout_fraction=heldout_fraction,
        pppl_tokens=pppl_tokens, lora_r=lora_r, lora_alpha=lora_alpha, save_every=save_every, seed=seed,
        encoding_errors=encoding_errors, force=force, resume=resume, max_minutes=max_minutes,
        strip_diacritics=strip_diacritics, log_dir=log_dir, eval_every=eval_every, patience=patience,
        head_warmup=head_warmup, head_lr=head_lr, head_vocab=head_vocab, cpu_bf16=cpu_bf16,
        gradient_checkpointing=gradient_checkpointing)
    apply_threads(threads)
    reporter = ProgressReporter(err_console, quiet)
    try:
        result = adapt_model(config, progress=reporter)
    finally:
        reporter.close()
    if os.environ.get("RANK", "0") != "0":  # under `accelerate launch` / torchrun only the main process reports
        return
    if json_path is not None:
        emit_json(result.to_dict(), json_path)
    if json_path != "-":
        render(console, result)
    if probe_treebank:
        probe_before_and_after(probe_treebank, model, output, lang, console if json_path != "-" else err_console)
