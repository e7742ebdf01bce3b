"""``adaptlang baseline``: the from-scratch character + word BiLSTM tagger and biaffine parser that a language's
category is judged against."""

from __future__ import annotations

from typing import Optional

import typer

from adaptlang.baseline import BaselineConfig
from adaptlang.cli import ner
from adaptlang.cli.common import CPU_BF16_OPT
from adaptlang.cli.train import (CHAR_NOISE_OPT, DONOR_OPT, DONOR_SCHEDULE_OPT, DONOR_TEMPERATURE_OPT, DONOR_TRANSLIT_OPT,
                                 EPOCH_SENTENCES_OPT, TAG_WEIGHT_OPT, TARGET_SENTENCES_OPT, TARGET_SHARE_OPT,
                                 transfer_options)
from adaptlang.cli.train import _LEMMAS as LEMMAS_OPT
from adaptlang.cli.train import FEATS_OPT

# The CLI's defaults are the library's (one place to change them).
_D = {name: field.default for name, field in BaselineConfig.__dataclass_fields__.items()}

BASELINE_HELP = """Train the from-scratch baseline: a character + word BiLSTM tagger and biaffine parser.

By default no pretrained model is used: each word is a character BiLSTM (or CNN) vector plus a word embedding trained on --train (with word dropout and an unknown-word token), optionally plus word vectors from a raw corpus (--corpus: plain text, on which a small skip-gram model is trained first, or a fastText .vec file), contextualised by a multi-layer BiLSTM. With --embeddings MODEL, each word also gets MODEL's frozen contextual vector (the mean, or a learned mix, of its last --embedding-layers layers at the word's first piece), as UDPipe 2 does. The UPOS head, biaffine parser, MST decoding, training loop and model format are those of `adaptlang train`, so `adaptlang evaluate OUT` and `adaptlang predict OUT` work unchanged. Without --dev the last 10% of --train is held out for model selection (said in the output). The best epoch by dev LAS is kept; --resume continues an interrupted run."""


def register(app: typer.Typer) -> None:
    app.command(name="baseline", help=BASELINE_HELP, no_args_is_help=True)(baseline)


def baseline(
    train_file: str = typer.Option(..., "--train", help="Training treebank (CoNLL-U); --task ner: NER data."),
    task: str = typer.Option("parse", "--task", help="parse (tagger + parser) or ner (the BiLSTM-CRF)."),
    scheme: str = typer.Option("auto", "--scheme", help="NER tag scheme of the files: auto, iob2, iob1, bioes."),
    lenient: bool = typer.Option(False, "--lenient", help="NER: read malformed tag sequences as conlleval does."),
    dev_file: Optional[str] = typer.Option(None, "--dev", help="Dev treebank for model selection (default: hold out "
                                           "the last 10% of --train)."),
    output: str = typer.Option(..., "--output", "-o", help="Output model directory OUT."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Raw text (one sentence per line; skip-gram vectors "
                                         "are trained on it) or a fastText .vec file."),
    embeddings: Optional[str] = typer.Option(None, "--embeddings", help="Also feed the BiLSTM the frozen vectors of "
                                             "this model (what train's --model takes; OUT records it)."),
    embedding_layers: Optional[int] = typer.Option(None, "--embedding-layers", help="Its last N layers (default 4)."),
    embedding_mix: str = typer.Option("mean", "--embedding-mix", help="mean, or scalar (learned layer weights)."),
    epochs: int = typer.Option(_D["epochs"], "--epochs", help="Maximum number of epochs."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Time budget: plan the epochs (and the "
                                                "learning-rate decay) to fit it."),
    seed: int = typer.Option(_D["seed"], "--seed"), feats: str = FEATS_OPT,
    lr: float = typer.Option(_D["lr"], "--lr", help="Peak learning rate (short warmup, then linear decay)."),
    beta2: float = typer.Option(_D["adam_beta2"], "--beta2", help="Adam's second-moment decay (Dozat and Manning used 0.9)."),
    batch_size: int = typer.Option(_D["batch_size"], "--batch-size", help="Sentences per batch (smaller for tiny treebanks)."),
    patience: int = typer.Option(_D["patience"], "--patience", help="Stop after N epochs without a better dev LAS (0 = never: the learning rate decays to zero over the planned epochs, and the last ones are often the best)."),
    char_model: str = typer.Option(_D["char_model"], "--char-model", help="Character model: lstm or cnn."),
    hidden: int = typer.Option(_D["hidden"], "--hidden", help="BiLSTM size per direction."),
    layers: int = typer.Option(_D["n_layers"], "--layers", help="BiLSTM layers."),
    dropout: float = typer.Option(_D["dropout"], "--dropout", help="Dropout on embeddings, between layers and in the heads."),
    word_dropout: float = typer.Option(_D["word_dropout"], "--word-dropout", help="Share of training words replaced by <unk>."),
    threads: int = typer.Option(0, "--threads", help="CPU threads for torch (0 = torch's default; 1 is often "
                                "faster on a busy machine)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."), cpu_bf16: bool = CPU_BF16_OPT,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUT."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of the same command."),
    log_dir: Optional[str] = typer.Option(None, "--log-dir", help="Also write TensorBoard scalars (loss, learning "
                                          "rate, dev scores) to this directory."),
    donors: Optional[list[str]] = DONOR_OPT, donor_temperature: float = DONOR_TEMPERATURE_OPT, target_share: float = TARGET_SHARE_OPT,
    donor_schedule: str = DONOR_SCHEDULE_OPT, donor_translit: Optional[str] = DONOR_TRANSLIT_OPT,
    target_sentences: Optional[int] = TARGET_SENTENCES_OPT, epoch_sentences: Optional[int] = EPOCH_SENTENCES_OPT,
    char_noise: float = CHAR_NOISE_OPT, lemmas: str = LEMMAS_OPT, tag_weight: float = TAG_WEIGHT_OPT,
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result JSON here ('-' = stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from adaptlang.options import BASELINE, validate_numeric

    validate_numeric(locals(), BASELINE)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    from adaptlang.baseline import train_baseline
    from adaptlang.cli.common import apply_threads, console, emit_json, err_console
    from adaptlang.cli.train import TrainProgress

    apply_threads(threads or None)  # 0 = torch's default
    transfer = transfer_options(locals())
    if ner.check_task(task) or task == "ner":
        return ner.baseline_ner_cmd(dict(locals()))
    config = BaselineConfig(
        train=train_file, dev=dev_file, out=output, corpus=corpus, epochs=epochs, max_minutes=max_minutes, seed=seed,
        lr=lr, adam_beta2=beta2, batch_size=batch_size, patience=patience, char_model=char_model, hidden=hidden, n_layers=layers,
        dropout=dropout, word_dropout=word_dropout, device=device, force=force, resume=resume, log_dir=log_dir,
        embeddings=embeddings, embedding_layers=embedding_layers, embedding_mix=embedding_mix, transfer=transfer,
        lemmas=lemmas, tag_weight=tag_weight, feats=feats, cpu_bf16=cpu_bf16)
    corpus_progress = _CorpusProgress(quiet)
    if embeddings and not quiet:
        err_console.print(f"contextual vectors: loading {embeddings} and computing the training sentences' vectors")
    with TrainProgress(quiet) as progress:
        result = train_baseline(config, progress, corpus_progress)
    if json_path != "-":
        d = result.dev
        info = result.encoder.get("pretrained_info")
        if info:
            console.print(f"corpus vectors: {info['words']} words x {info['dim']} ({info['source']}, "
                          f"{info['tokens']} tokens, {info['seconds']:.0f} s)")
        dev_source = "dev" if dev_file else f"held-out dev (last {result.n_dev_sentences} sentences of --train)"
        console.print(f"[bold]{result.out}[/]: trained on {result.n_train_sentences} sentences; best epoch "
                      f"{result.best_epoch}/{result.epochs_run}, {dev_source} UPOS {d.get('upos', 0):.2f} "
                      f"UAS {d.get('uas', 0):.2f} LAS {d.get('las', 0):.2f}; {result.train_seconds / 60:.1f} min, "
                      f"peak memory {result.peak_memory_mb:.0f} MB")
        if not dev_file:
            err_console.print("note: no --dev given; the held-out sentences were not used for training")
    emit_json(result, json_path)


class _CorpusProgress:
    """Prints skip-gram epochs on stderr (one line each; the corpus step is short next to training)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, epoch: int, n_epochs: int) -> None:
        if not self.quiet:
            from adaptlang.cli.common import err_console

            err_console.print(f"corpus vectors: skip-gram epoch {epoch}/{n_epochs}")
