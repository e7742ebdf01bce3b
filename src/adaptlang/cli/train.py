"""``adaptlang train``, ``adaptlang evaluate`` and ``adaptlang predict``: a UPOS tagger and biaffine dependency
parser fine-tuned on any pretrained encoder; scoring as the CoNLL 2018 UD evaluator does; parsing new text."""

from __future__ import annotations

import contextlib
from typing import Any, Optional

import typer

from adaptlang.cli import ner
from adaptlang.cli.common import CPU_BF16_OPT, THREADS_HELP

# the library's defaults (adaptlang.tasks.TrainConfig), so that the command and the library cannot drift apart
_T = {"encoder_lr": 1e-4, "head_lr": 1e-3, "batch_size": 16}
_LEMMAS = typer.Option("auto", "--lemmas", help="LEMMA: auto (edit-script classes, UDPipe 2's, when the treebank "
                       "has lemmas; else a copy of FORM, with a note), rules, copy (LEMMA = FORM) or none ('_').")
FEATS_OPT = typer.Option("whole", "--feats", help="FEATS: whole (each feature string seen in training is a class, "
                         "UDPipe 2's way) or split (a classifier per feature: unseen combinations can be predicted; "
                         "8.8 UFeats points below whole on Uyghur-UDT, RESULTS.md).")
TAG_WEIGHT_OPT = typer.Option(0.25, "--tag-weight", help="Weight of the XPOS, FEATS and LEMMA losses beside UPOS, "
                              "heads and labels (0.25 kept Wolof LAS equal to the parser without them; 1.0 lowered "
                              "it).")

TRAIN_HELP = """Fine-tune a UPOS tagger and dependency parser on a pretrained encoder.

Trains on a CoNLL-U treebank on top of a pretrained encoder (--model: a local Hugging Face model directory, a hub id, an `adaptlang adapt` output, or a PEFT adapter).

OUT receives the encoder, the heads (safetensors), label vocabularies, config.json, per-epoch metrics.json and
train.json; `adaptlang evaluate OUT` and `adaptlang predict OUT` need nothing else. The best epoch by dev LAS is
kept. An interrupted run continues with --resume (same options)."""

EVAL_HELP = """Score a trained model on a gold treebank: UPOS, XPOS, UFeats, AllTags, LEMMA, UAS, LAS, CLAS, MLAS, BLEX
with 95% CIs.

Parses a gold CoNLL-U treebank and counts as the official CoNLL 2018 UD evaluation script (udeval) does, with
bootstrap 95% confidence intervals. Metrics on a column the model does not predict (written '_') are marked. The treebank may be
of another language than the training data (zero-shot transfer). Gold labels the model never saw are listed: an
unseen UPOS tag or universal relation is always an error; an unseen subtype (obl:own) is not, for LAS compares the
universal part. Gold that looks like a placeholder (one HEAD or DEPREL nearly everywhere) or uses UD v1 labels
is flagged with a warning."""

PREDICT_HELP = """Tag and parse text or CoNLL-U with a trained model.

INPUT is CoNLL-U or pre-tokenised text (one sentence per line, tokens separated by spaces). The model writes UPOS,
HEAD and DEPREL, and LEMMA, XPOS and FEATS when it has those heads (models trained on a treebank that has the
column). A LEMMA / XPOS / FEATS column the model does not predict is written as '_' (the input's values would be
gold passed off as predictions), unless --keep-columns. ID, FORM, MISC, comments, multiword tokens and the enhanced
graph (DEPS and empty nodes like 8.1, not predicted) are kept as they are."""


SWAP_HELP = ("A parser trained with --language-adapter: use this language adapter under its task adapter instead "
             "(the target language's, for zero-shot transfer); repeat to average several.")
_LANGUAGE_ADAPTER = typer.Option([], "--language-adapter", help="MAD-X: a LoRA language adapter (`adapt --method "
                                 "lora`) over --model, frozen under a trained LoRA task adapter; repeat to average "
                                 "several (their mean update; see README).")
_TASK_LORA_R = typer.Option(8, "--task-lora-r", help="Rank of the task adapter with --language-adapter (it trains at "
                            "--head-lr).")


def language_adapter_fields(o: dict[str, Any]) -> dict[str, Any]:
    """The encoder fields of --language-adapter / --task-lora-r, from the command's locals; refused for NER."""
    if not o["language_adapter"]:
        return {}
    if o["task"] == "ner":
        from adaptlang.errors import UsageError

        raise UsageError("--language-adapter applies to --task parse only")
    return {"language_adapters": list(o["language_adapter"]), "task_lora_r": o["task_lora_r"]}


def register(app: typer.Typer) -> None:
    app.command(name="train", help=TRAIN_HELP, no_args_is_help=True)(train)
    app.command(name="evaluate", help=EVAL_HELP, no_args_is_help=True)(evaluate)
    app.command(name="predict", help=PREDICT_HELP, no_args_is_help=True)(predict)


# transfer from related treebanks and training-time noise (adaptlang.tasks.transfer); kept here so that `train`
# stays one screen
DONOR_OPT = typer.Option(None, "--donor", help="A related treebank (CoNLL-U) to train on with the target "
                         "(repeatable); a learned treebank embedding tells them apart, the target's is used at "
                         "prediction.")
DONOR_TEMPERATURE_OPT = typer.Option(2.0, "--donor-temperature", help="Treebank i is sampled with probability "
                                     "proportional to size ** (1/T): 1 = by size, larger = closer to uniform. An "
                                     "epoch is as many sentences as all treebanks hold.")
TARGET_SHARE_OPT = typer.Option(0.5, "--target-share", help="With --donor: the target gets at least this share of "
                                "every mixed epoch, the donors the rest by --donor-temperature (0: the temperature "
                                "alone decides, which starves a small target).")
DONOR_SCHEDULE_OPT = typer.Option("mixed", "--donor-schedule", help="mixed (one run on all treebanks) or "
                                  "sequential (the donors, then the target; each gets half of --max-minutes).")
DONOR_TRANSLIT_OPT = typer.Option(None, "--donor-translit", help="Transliterate the donors' words: a scheme "
                                  "(table:latn-arab, see `transliterate --list`), 'target' (to the target's "
                                  "script) or 'latin'.")
TARGET_SENTENCES_OPT = typer.Option(None, "--target-sentences", help="Few-shot: train on the first N target "
                                    "sentences only (0 = zero-shot, with --donor).")
EPOCH_SENTENCES_OPT = typer.Option(None, "--epoch-sentences", help="Sentences per epoch with --donor or noise "
                                   "(default: all treebanks' sentences).")
SUBWORD_DROPOUT_OPT = typer.Option(0.0, "--subword-dropout", help="Training only: split each subword piece "
                                   "further with this probability (BPE-dropout-like noise).")
CHAR_NOISE_OPT = typer.Option(0.0, "--char-noise", help="Training only: one random character insert, delete, swap "
                              "or substitution in each word with this probability.")


def transfer_options(o: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields of the transfer and noise options, from a command's locals (``baseline`` has no
    --subword-dropout); refused for NER."""
    if o["task"] == "ner" and (o["donors"] or o["target_sentences"] is not None or o.get("subword_dropout")
                               or o["char_noise"] or o["train_file"] is None):
        from adaptlang.errors import UsageError

        raise UsageError("--task ner needs --train and takes no --donor, --target-sentences or noise options")
    from adaptlang.data.donors import TRANSFER_FIELDS

    return {"donors": tuple(o["donors"] or ()), **{k: o[k] for k in TRANSFER_FIELDS if k != "donors" and k in o}}


def train(
    train_file: Optional[str] = typer.Option(None, "--train", help="Training treebank (CoNLL-U); for --task ner, "
                                             "CoNLL-2003-style 'TOKEN ... TAG' lines, or CoNLL-U with MISC NE= when "
                                             "named *.conllu. Required unless --donor (zero-shot)."),
    task: str = typer.Option("parse", "--task", help="parse (UPOS + dependencies) or ner (named entities, CRF)."),
    scheme: str = typer.Option("auto", "--scheme", help="NER tag scheme of the files: auto, iob2, iob1 or bioes."),
    lenient: bool = typer.Option(False, "--lenient", help="NER: read malformed tag sequences as conlleval does."),
    dev_file: Optional[str] = typer.Option(None, "--dev", help="Dev treebank for early stopping (default: hold out "
                                           "the last 10% of --train)."),
    model: str = typer.Option(..., "--model", "-m", help="Encoder: model directory, hub id, adapted model or adapter. "
                              "A causal LM (GPT-2 and kin) is refused unless --allow-causal."),
    allow_causal: bool = typer.Option(False, "--allow-causal", help="Accept a causal LM as --model (its states see "
                                      "only the words to their left: expect a weaker parser)."),
    output: str = typer.Option(..., "--output", "-o", help="Output model directory OUT."),
    epochs: int = typer.Option(30, "--epochs", help="Maximum number of epochs."),
    lr: float = typer.Option(_T["encoder_lr"], "--lr", help="Peak learning rate of the encoder."),
    head_lr: float = typer.Option(_T["head_lr"], "--head-lr", help="Peak learning rate of the tagger/parser heads."),
    batch_size: int = typer.Option(_T["batch_size"], "--batch-size", help="Sentences per batch (at most)."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Batches per optimizer step (a larger effective batch "
                                   "in the same memory)."),
    max_tokens: int = typer.Option(2500, "--max-tokens", help="Words per batch (at most)."),
    warmup: float = typer.Option(0.1, "--warmup", help="Warmup as a fraction of all steps (then linear decay)."),
    patience: int = typer.Option(5, "--patience", help="Stop after N epochs without a better dev LAS (0 = never)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop after the epoch that ends past "
                                                "this many minutes."),
    seed: int = typer.Option(42, "--seed"), feats: str = FEATS_OPT,
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    pooling: str = typer.Option("first", "--pooling", help="Subwords to word: first or mean."),
    scalar_mix: bool = typer.Option(False, "--scalar-mix", help="Learned weighted sum of all layers."),
    random_init: Optional[str] = typer.Option(None, "--random-init", help="Re-initialise layers, e.g. 1-2,11-12 "
                                              "(1-based)."),
    freeze_embeddings: bool = typer.Option(True, "--freeze-embeddings/--train-embeddings", help="Keep the input "
                                           "embeddings fixed (the default: measured better on small treebanks)."),
    freeze_layers: Optional[str] = typer.Option(None, "--freeze-layers", help="Do not train these layers, e.g. 1-6."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Pieces per encoder window (default: the "
                                             "model's maximum); longer sentences use overlapping windows."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUT."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of the same command."),
    strip_diacritics: bool = typer.Option(False, "--strip-diacritics", help="Remove optional diacritics (Arabic "
                                          "harakat, Hebrew niqqud, ...) from every word before tokenization."),
    donors: Optional[list[str]] = DONOR_OPT, donor_temperature: float = DONOR_TEMPERATURE_OPT, target_share: float = TARGET_SHARE_OPT,
    donor_schedule: str = DONOR_SCHEDULE_OPT, donor_translit: Optional[str] = DONOR_TRANSLIT_OPT,
    target_sentences: Optional[int] = TARGET_SENTENCES_OPT, epoch_sentences: Optional[int] = EPOCH_SENTENCES_OPT,
    subword_dropout: float = SUBWORD_DROPOUT_OPT, char_noise: float = CHAR_NOISE_OPT, tag_weight: float = TAG_WEIGHT_OPT,
    log_dir: Optional[str] = typer.Option(None, "--log-dir", help="Also write TensorBoard scalars (loss, learning "
                                          "rate, dev scores) to this directory."),
    language_adapter: list[str] = _LANGUAGE_ADAPTER, task_lora_r: int = _TASK_LORA_R, lemmas: str = _LEMMAS,
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result JSON here ('-' = stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."), cpu_bf16: bool = CPU_BF16_OPT,
) -> None:
    from adaptlang.options import TRAIN, validate_numeric

    validate_numeric(locals(), TRAIN)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    adapters = language_adapter_fields(locals())
    transfer = transfer_options(locals())
    if ner.check_task(task) or task == "ner":
        return ner.train_ner_cmd(dict(locals(), progress=TrainProgress))
    from adaptlang.tasks import TrainConfig, train_parser

    from adaptlang.cli.common import emit_json

    encoder = {"kind": "transformer", "model": model, "pooling": pooling, "scalar_mix": scalar_mix,
               "random_init": random_init, "freeze_embeddings": freeze_embeddings, "freeze_layers": freeze_layers,
               "max_length": max_length, **({"allow_causal": True} if allow_causal else {}),
               **({"translit": "strip-diacritics"} if strip_diacritics else {}), **adapters}
    config = TrainConfig(train=train_file, dev=dev_file, out=output, encoder=encoder, epochs=epochs, batch_size=batch_size,
                         max_tokens=max_tokens, encoder_lr=lr, head_lr=head_lr, warmup=warmup, patience=patience,
                         seed=seed, device=device, max_minutes=max_minutes, threads=threads, force=force,
                         resume=resume, grad_accum=grad_accum, log_dir=log_dir, lemmas=lemmas, tag_weight=tag_weight,
                         feats=feats, cpu_bf16=cpu_bf16, **transfer)
    with TrainProgress(quiet) as progress:
        result = train_parser(config, progress)
    if json_path != "-":
        print_result(result)
    print_notes(result.notes)
    emit_json(result, json_path)


def print_result(result: Any) -> None:
    from adaptlang.cli.common import console

    d = result.dev
    console.print(f"[bold]{result.out}[/]: best epoch {result.best_epoch}/{result.epochs_run}, dev UPOS "
                  f"{d.get('upos', 0):.2f} UAS {d.get('uas', 0):.2f} LAS {d.get('las', 0):.2f}; "
                  f"{result.train_seconds / 60:.1f} min, {result.sentences_per_s:.1f} sentences/s, "
                  f"peak memory {result.peak_memory_mb:.0f} MB")


def print_notes(notes: Any) -> None:
    from adaptlang.cli.common import err_console

    for note in notes:
        err_console.print(f"note: {note}", highlight=False)


def evaluate(
    model_dir: str = typer.Argument(..., help="A model directory written by `adaptlang train` or `baseline`."),
    test_file: str = typer.Argument(..., help="Gold CoNLL-U treebank (NER models: gold CoNLL-2003-style file)."),
    scheme: str = typer.Option("auto", "--scheme", help="NER: tag scheme of the gold file (auto, iob2, iob1, bioes)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% CI (0 = none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    device: str = typer.Option("auto", "--device"),
    batch_size: int = typer.Option(32, "--batch-size"),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    save_predictions: Optional[str] = typer.Option(None, "--save-predictions", help="Also write the predicted CoNLL-U."),
    force: bool = typer.Option(False, "--force", help="Overwrite --save-predictions if it exists."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the scores as JSON ('-' = stdout)."),
    language_adapter: list[str] = typer.Option([], "--language-adapter", help=SWAP_HELP),
) -> None:
    from adaptlang.options import EVALUATE, validate_numeric

    validate_numeric(locals(), EVALUATE)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    if ner.is_ner_model(model_dir):
        ner.refuse_language_adapter(model_dir, language_adapter)
        return ner.evaluate_ner_cmd(model_dir, test_file, bootstrap=bootstrap, seed=seed, device=device,
                                    batch_size=batch_size, scheme=scheme, save_predictions=save_predictions,
                                    force=force, json_path=json_path, threads=threads)
    from adaptlang.tasks import evaluate_model

    from adaptlang.cli.common import apply_threads, console, emit_json, err_console

    apply_threads(threads)
    from adaptlang.fileio import output_lock

    with output_lock(save_predictions) if save_predictions else contextlib.nullcontext():
        result = evaluate_model(model_dir, test_file, n_bootstrap=bootstrap, seed=seed, device=device,
                                batch_size=batch_size, predictions_out=save_predictions, force=force,
                                language_adapters=language_adapter)
    if json_path != "-":
        s = result.scores
        print_scores(result, test_file)
        for k, v in s.unseen_labels.items():
            if v:
                console.print(f"{UNSEEN_TEXT.get(k, 'gold ' + k)}: {', '.join(v)}", highlight=False)
    for warning in result.scores.warnings:
        err_console.print(f"warning: {warning}", highlight=False, markup=False)
    emit_json(result, json_path)


# metric -> (name shown, the predicted columns it needs); a model without a column writes '_' there
METRIC_ROWS = {"upos": ("UPOS", ()), "xpos": ("XPOS", ("xpos",)), "ufeats": ("UFeats", ("feats",)),
               "alltags": ("AllTags", ("xpos", "feats")), "lemma": ("LEMMA", ("lemma",)), "uas": ("UAS", ()),
               "las": ("LAS", ()), "clas": ("CLAS", ()), "mlas": ("MLAS", ("feats",)), "blex": ("BLEX", ("lemma",))}


def print_scores(result: Any, test_file: str) -> None:
    """The official evaluator's metrics with their intervals; a metric on a column the model does not predict is
    marked (the column is '_': such a score measures the gold, not the model)."""
    from rich.table import Table

    from adaptlang.cli.common import console

    s = result.scores
    table = Table(title=f"{test_file}: {s.n_sentences} sentences, {s.n_words} words")
    for column, justify in (("metric", "left"), ("score", "right"), (f"{int(s.ci_level * 100)}% CI", "right"),
                            ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    values = {"upos": s.upos, "uas": s.uas, "las": s.las, **s.extra}
    for key, (name, needs) in METRIC_ROWS.items():
        if key not in values:
            continue
        lo_hi = s.ci.get(key)
        missing = [c.upper() for c in needs if c not in result.predicted_columns]
        table.add_row(name, f"{values[key]:.2f}", f"{lo_hi[0]:.2f}-{lo_hi[1]:.2f}" if lo_hi else "-",
                      f"not predicted: {', '.join(missing)} '_'" if missing else "")
    console.print(table)


UNSEEN_TEXT = {
    "upos": "gold UPOS tags unseen in training (always UPOS errors)",
    "deprel": "gold relations whose universal part was unseen in training (always LAS errors)",
    "deprel_subtype": "gold relations unseen in training with a seen universal part (not LAS errors: LAS ignores "
                      "subtypes)",
}


def predict(
    model_dir: str = typer.Argument(..., help="A model directory written by `adaptlang train` or `baseline`."),
    input_file: str = typer.Argument(..., help="CoNLL-U, or one pre-tokenised sentence per line ('-' = stdin)."),
    output: str = typer.Option(..., "--output", "-o", help="Output CoNLL-U file ('-' = stdout)."),
    input_format: str = typer.Option("auto", "--format", help="auto, conllu or tokens (NER models: also conll)."),
    scheme: str = typer.Option("iob2", "--scheme", help="NER: tag scheme to write (iob2, iob1 or bioes)."),
    device: str = typer.Option("auto", "--device"),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    batch_size: int = typer.Option(32, "--batch-size"),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write a summary as JSON ('-' = stdout)."),
    language_adapter: list[str] = typer.Option([], "--language-adapter", help=SWAP_HELP),
    keep_columns: bool = typer.Option(False, "--keep-columns", help="Keep the input's LEMMA / XPOS / FEATS where "
                                      "the model predicts none (default: '_')."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary line."),
) -> None:
    from adaptlang.options import PREDICT, validate_numeric

    validate_numeric(locals(), PREDICT)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    if ner.is_ner_model(model_dir):
        ner.refuse_language_adapter(model_dir, language_adapter)
        return ner.predict_ner_cmd(model_dir, input_file, output, input_format=input_format, scheme=scheme,
                                   device=device, batch_size=batch_size, force=force,
                                   json_path=json_path, threads=threads, quiet=quiet)
    from adaptlang.tasks import predict as run_predict

    from adaptlang.cli.common import CountProgress, apply_threads, emit_json, err_console

    apply_threads(threads)
    from adaptlang.fileio import output_lock

    with output_lock(output), CountProgress("parsing sentences", quiet) as bar:  # one OUTPUT, one predict
        result = run_predict(model_dir, input_file, output, input_format=input_format, device=device,
                             batch_size=batch_size, force=force, language_adapters=language_adapter,
                             keep_columns=keep_columns, progress=bar)
    if output != "-" and json_path != "-" and not quiet:
        err_console.print(f"{result.output}: {result.n_sentences} sentences, {result.n_words} words "
                          f"({result.input_format} input, {result.seconds:.1f} s)")
    emit_json(result, json_path)


class TrainProgress:
    """Rich progress bar on stderr for the training core's events (:class:`adaptlang.events.Event`): one bar over
    the planned optimizer steps, a line per evaluated epoch, notes as they come."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> "TrainProgress":
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from adaptlang.cli.common import err_console

            self.progress = Progress(TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[dev]}"),
                                     TimeElapsedColumn(), console=err_console, transient=False)
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        if self.progress is None:
            return
        kind = event.kind
        if kind == "start":
            self.task = self.progress.add_task("train", total=event.total, completed=event.step, loss=0.0, dev="",
                                               epoch=f"{event.epoch}/{event.epochs}")
        elif kind == "step" and self.task is not None:
            self.progress.update(self.task, completed=event.step, total=event.total, loss=event.loss or 0.0,
                                 epoch=f"{event.epoch}/{event.epochs}")
        elif kind == "epoch" and event.metrics:
            d = event.metrics
            dev = "dev " + " ".join(f"{k.upper()} {v:.1f}" for k, v in d.items()) + (" *" if event.best else "")
            if self.task is not None:
                self.progress.update(self.task, dev=dev, total=event.total)
            self.progress.console.print(f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.3f}, {dev}, "
                                        f"{event.seconds:.0f} s")
        elif kind == "phase" and event.message:
            self.progress.console.print(event.message)  # notes are printed with the result
