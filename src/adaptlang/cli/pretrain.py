"""``adaptlang pretrain``: a small monolingual BERT trained from scratch on a raw corpus (registered by cli.adapt)."""

from __future__ import annotations

import os
from typing import Optional

import typer

from adaptlang.cli.common import THREADS_HELP

HELP = """Train a small monolingual BERT from scratch on raw text: its own WordPiece vocabulary, then masked-language modelling to convergence.

CORPUS is a UTF-8 text file (one sentence or paragraph per line); every k-th line is held out (as adapt does) and never seen by the vocabulary. Training runs --epochs passes under --max-minutes, scores the held-out MLM loss every --eval-every steps, stops after --patience evaluations without a lower loss and keeps the weights of the lowest. OUT is a Hugging Face model directory (plus adaptlang.json and adapt.json) that --model of train and --embeddings of baseline take. Default size: 4 layers x 256 (5 M parameters), which one CPU thread trains over 0.6 MB of text several times in 10-15 minutes.
"""


def register(app: typer.Typer) -> None:
    app.command(name="pretrain", help=HELP, no_args_is_help=True)(pretrain)


def pretrain(
    corpus: str = typer.Argument(..., help="Raw text, one sentence/paragraph per line."),
    output: str = typer.Option(..., "--output", "-o", help="Output directory OUT."),
    vocab_size: int = typer.Option(8000, "--vocab-size", help="WordPiece pieces (at most)."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    hidden: int = typer.Option(256, "--hidden", help="Hidden size."),
    heads: int = typer.Option(4, "--heads", help="Attention heads."),
    epochs: float = typer.Option(40.0, "--epochs", help="Passes over the training text (a cap)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Time budget in minutes."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Held-out evaluation every N steps "
                                             "(default: every pass, at most 50 steps)."),
    patience: int = typer.Option(3, "--patience", help="Evaluations without a lower held-out loss before stopping."),
    lr: float = typer.Option(5e-4, "--lr", help="Peak learning rate."),
    batch_size: int = typer.Option(16, "--batch-size", help="Sequences per micro-batch."),
    max_seq_len: int = typer.Option(128, "--max-seq-len", help="Tokens per packed sequence."),
    seed: int = typer.Option(0, "--seed"),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUT."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in OUT."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result JSON here ('-' = stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or messages."),
) -> None:
    from adaptlang.options import PRETRAIN, validate_numeric

    validate_numeric(locals(), PRETRAIN)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)
    from adaptlang.adapt.scratch import ScratchConfig, pretrain_scratch
    from adaptlang.cli.mlm_output import ProgressReporter, render
    from adaptlang.cli.common import apply_threads, console, emit_json, err_console

    config = ScratchConfig(corpus=corpus, output=output, vocab_size=vocab_size, layers=layers, hidden=hidden,
                           heads=heads, epochs=epochs, max_minutes=max_minutes, eval_every=eval_every,
                           patience=patience, lr=lr, batch_size=batch_size, max_seq_len=max_seq_len, seed=seed,
                           force=force, resume=resume)
    apply_threads(threads)
    reporter = ProgressReporter(err_console, quiet)
    try:
        result = pretrain_scratch(config, progress=reporter)
    finally:
        reporter.close()
    if os.environ.get("RANK", "0") != "0":
        return
    if json_path is not None:
        emit_json(result.to_dict(), json_path)
    if json_path != "-":
        render(console, result)
