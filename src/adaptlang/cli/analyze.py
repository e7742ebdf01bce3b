"""``adaptlang analyze``: cross-lingual analyses of an encoder (CKA similarity; layer re-initialisation; per-layer
UPOS probes)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import typer

from adaptlang.cli.common import THREADS_HELP, apply_threads, check_json_path, console, emit_json, err_console

analyze_app = typer.Typer(
    help="Cross-lingual analyses: CKA similarity of parallel sentences per layer; re-initialised layers; "
         "per-layer UPOS probes.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from adaptlang.cli.analyze_transfer import transfer_command  # (its own module)

    analyze_app.command("transfer")(transfer_command)
    app.add_typer(analyze_app, name="analyze")


class _LazyProgress:
    """A rich progress display (stderr) that appears at the first update, so that errors raised before any work
    starts stay a single line. ``update(what, done, total)`` keeps one bar per ``what``."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def update(self, what: str, done: int, total: int) -> None:
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err_console, transient=True,
            )
            self._bar.start()
        if what not in self._tasks:
            self._tasks[what] = self._bar.add_task(what, total=total)
        self._bar.update(self._tasks[what], completed=done, total=total)

    def __enter__(self) -> "_LazyProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@analyze_app.command("cka")
def cka_command(
    model: str = typer.Option(..., "--model", help="Encoder: model directory, hub id, adapted model, PEFT adapter, "
                              "or a parser directory from `adaptlang train` (its fine-tuned encoder)."),
    source: Path = typer.Option(..., "--source", help="CoNLL-U file of the source-language sentences (e.g. English PUD)."),
    target: list[Path] = typer.Option(..., "--target", help="Parallel CoNLL-U file (repeat for several languages)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output directory: cka.json, cka.tsv, cka.png."),
    model_after: Optional[str] = typer.Option(
        None, "--model-after", help="Second model, as --model (e.g. after fine-tuning): its curves go on the same plot."
    ),
    kernel: str = typer.Option("linear", "--kernel", help="CKA kernel: linear or rbf."),
    debiased: bool = typer.Option(
        False, "--debiased", help="Unbiased HSIC estimator: fair on small samples (few sentences, wide vectors)."
    ),
    rbf_sigma: float = typer.Option(1.0, "--rbf-sigma", help="RBF bandwidth as a multiple of the median distance."),
    max_sentences: Optional[int] = typer.Option(None, "--max-sentences", help="Use the first N aligned pairs only."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sentences per forward pass."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    max_length: int = typer.Option(256, "--max-length", help="Subword tokens per sentence (longer ones are cut)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output directory."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the JSON result to PATH (- = stdout)."),
) -> None:
    """Linear (or RBF) CKA between the mean-pooled hidden states of parallel sentences, at every layer."""
    from adaptlang.options import CKA, validate_numeric

    validate_numeric(locals(), CKA)
    from adaptlang.analysis.cka import CkaConfig, run_cka
    from adaptlang.fileio import atomic_path, check_output, output_lock, write_json_atomic, write_text_atomic
    from adaptlang.report import plot_cka

    check_json_path(json_out)
    apply_threads(threads)

    check_output(output, force, directory=True)
    config = CkaConfig(
        model=model, source=str(source), targets=tuple(str(t) for t in target),
        model_after=model_after, kernel=kernel, debiased=debiased, rbf_sigma=rbf_sigma,
        max_sentences=max_sentences, batch_size=batch_size, max_length=max_length,
    )
    with output_lock(output):
        with _LazyProgress() as bar:
            result = run_cka(config, lambda what, done, total: bar.update(f"encoding {what}", done, total))
        data = result.to_dict()
        check_output(output, force, directory=True)  # made meanwhile by another program: still not replaced
        with atomic_path(output) as tmp:
            tmp.mkdir()
            write_json_atomic(tmp / "cka.json", data)
            write_text_atomic(tmp / "cka.tsv", _tsv(result))
            plot_cka(result, tmp / "cka.png")
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    _print_table(result, out)
    out.print(f"wrote {output}/cka.json, cka.tsv, cka.png")
    emit_json(data, json_out)


def _columns(result: Any) -> list[tuple[str, list[float], Any]]:
    """(column name, scores per layer, curve): each curve, then its shuffled-pairs control when computed."""
    from adaptlang.analysis.cka import language_label

    both = any(c.role == "after" for c in result.curves)
    cols: list[tuple[str, list[float], Any]] = []
    for c in result.curves:
        name = language_label(c.target) + (f" {c.role}" if both else "")
        cols.append((name, list(c.scores), c))
    for c in result.curves:
        if c.control:
            name = language_label(c.target) + (f" {c.role}" if both else "")
            cols.append((f"{name} shuffled", list(c.control), None))
    return cols


def _tsv(result: Any) -> str:
    cols = _columns(result)
    n_layers = max(len(s) for _, s, _ in cols)
    lines = ["layer\t" + "\t".join(name for name, _, _ in cols)]
    for layer in range(n_layers):
        lines.append(f"{layer}\t" + "\t".join(_fmt(s[layer]) for _, s, _ in cols))
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4f}"


def _print_table(result: Any, out: Any) -> None:
    from rich.table import Table

    from adaptlang.analysis.cka import language_label

    cols = _columns(result)
    first = result.curves[0]
    table = Table(
        title=f"{result.config.kernel} CKA{' (debiased)' if result.config.debiased else ''} with "
        f"{language_label(result.config.source)} "
        f"({first.n_sentences} sentence pairs)"
    )
    table.add_column("layer", justify="right")
    for name, _, _ in cols:
        table.add_column(name, justify="right")
    n_layers = max(len(s) for _, s, _ in cols)
    for layer in range(n_layers):
        cells = []
        for _, scores, curve in cols:
            cell = _fmt(scores[layer])
            cells.append(f"[bold]{cell}[/bold]" if curve is not None and layer == curve.peak_layer else cell)
        table.add_row("emb" if layer == 0 else str(layer), *cells)
    out.print(table)
    out.print("bold = peak layer of each curve; layer 0 = embedding output; shuffled = the same target sentences "
                  "paired with the wrong source sentence (the level that owes nothing to translation)")


@analyze_app.command("random-init")
def random_init_command(
    train: Path = typer.Option(..., "--train", help="Training treebank (CoNLL-U), or NER file with --task ner."),
    test: Path = typer.Option(..., "--test", help="Same-language test treebank (or NER file)."),
    model: str = typer.Option(..., "--model", help="Pretrained encoder directory."),
    task: str = typer.Option("parse", "--task", help="parse (UPOS and LAS changes) or ner (entity F1 changes; "
                             "--train/--dev/--test/--test-cross are NER files, as for train --task ner)."),
    lenient: bool = typer.Option(False, "--lenient", help="NER files: read an I-X that does not continue an X "
                                 "entity as conlleval does instead of refusing the file."),
    pairs: str = typer.Option(..., "--pairs", help="Layer ranges to re-initialise, one run each: 1-2,3-4,..."),
    output: Path = typer.Option(..., "-o", "--output", help="Run directory (stages, random-init.json, .png)."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Dev treebank (default: hold out 10% of train)."),
    test_cross: list[Path] = typer.Option([], "--test-cross", help="Cross-language test treebank (repeatable)."),
    epochs: int = typer.Option(10, "--epochs", help="Fine-tuning epochs per run."),
    seed: int = typer.Option(42, "--seed", help="Seed of every run (the same for REF and the re-initialised runs)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sentences per batch."),
    max_train_sentences: Optional[int] = typer.Option(None, "--max-train-sentences", help="Budget: first N only."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap samples for the intervals."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", help="Redo every run (default: reuse finished runs)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the JSON result to PATH (- = stdout)."),
) -> None:
    """Fine-tune once as is (REF) and once per re-initialised layer range; score changes against REF on the
    same-language and cross-language test sets. Resumable: rerun to continue an interrupted sweep."""
    from adaptlang.options import RANDOM_INIT, validate_numeric

    validate_numeric(locals(), RANDOM_INIT)
    from adaptlang.analysis.randominit import RandomInitConfig, parse_pairs, run_random_init
    from adaptlang.fileio import output_lock

    check_json_path(json_out)
    apply_threads(threads)

    config = RandomInitConfig(
        train=str(train), test=str(test), model=model, output=str(output), pairs=parse_pairs(pairs),
        dev=str(dev) if dev else None, test_cross=tuple(str(t) for t in test_cross), epochs=epochs, seed=seed,
        batch_size=batch_size, max_train_sentences=max_train_sentences, n_bootstrap=bootstrap, device=device,
        force=force, task=task, lenient=lenient,
    )
    with output_lock(output), _LazyProgress() as bar:
        def on_event(e: Any) -> None:
            if e.kind in ("start", "step"):
                bar.update(e.stage, e.step, e.total or 1)
            elif e.kind == "skip" or (e.kind == "done" and e.index):  # (a job inside a stage reports no index)
                err_console.print(f"[{e.index}/{e.count}] {e.stage}: " +
                                  ("reused (already done)" if e.kind == "skip" else f"done in {e.seconds:.0f} s"))

        try:
            result = run_random_init(config, on_event)
        except KeyboardInterrupt:
            from adaptlang.runs import RESUME_HINT, Interrupted

            raise Interrupted(f"interrupted; {RESUME_HINT}") from None
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    _print_random_init(result, out)
    out.print(f"wrote {output}/random-init.json, random-init.png")
    emit_json(result, json_out)


def _print_random_init(r: dict[str, Any], out: Any) -> None:
    from rich.table import Table

    from adaptlang.report import short_test_name

    tests = [t["path"] for t in r["tests"]]
    metrics = r.get("metrics") or ["upos", "las"]
    table = Table(title=f"Score change against REF (points, {int(100 * r['config']['level'])}% interval); "
                        "re-initialised layers before fine-tuning")
    table.add_column("run")
    for t, info in zip(tests, r["tests"]):
        role = "same" if info["role"] == "same-language" else "cross"
        for metric in metrics:
            table.add_column(f"{short_test_name(t)} ({role}) {metric.upper()}", justify="right")
    table.add_row("REF (score)", *(f"{r['ref'][t][m]:.2f}" for t in tests for m in metrics))
    for row in r["rows"]:
        cells = []
        for t in tests:
            for m in metrics:
                d = row["tests"][t][m]
                cells.append(f"{d['diff']:+.2f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]" +
                             ("" if d["within_noise"] else " *"))
        table.add_row(row["reinit"], *cells)
    out.print(table)
    out.print("* = the interval excludes 0")
    _print_other_metrics(r, tests, out)


def _print_other_metrics(r: dict[str, Any], tests: list[str], out: Any) -> None:
    """The other CoNLL 2018 metrics (the columns the parsers predict): REF's score and each run's change."""
    from rich.table import Table

    from adaptlang.report import OTHER_METRIC_NAMES, short_test_name

    shown = [m for m in OTHER_METRIC_NAMES if r["rows"] and all(m in row["tests"][t].get("other", {})
                                                                for row in r["rows"] for t in tests)]
    if not shown:
        return
    table = Table(title="Other metrics: change against REF (points; reported, not part of the analysis)")
    table.add_column("run")
    for t in tests:
        for m in shown:
            table.add_column(f"{short_test_name(t)} {OTHER_METRIC_NAMES[m]}", justify="right")
    table.add_row("REF (score)", *(f"{r['ref'][t][m]:.2f}" for t in tests for m in shown))
    for row in r["rows"]:
        table.add_row(row["reinit"], *(f"{row['tests'][t]['other'][m]['diff']:+.2f}" for t in tests for m in shown))
    out.print(table)


@analyze_app.command("probe")
def probe_command(
    model: list[str] = typer.Option(..., "--model", help="Encoder to probe (repeat to compare): model directory, "
                                    "hub id, PEFT adapter or `adaptlang adapt` output."),
    train: Path = typer.Option(..., "--train", help="Treebank (CoNLL-U with UPOS) whose first sentences train the "
                               "probes."),
    output: Path = typer.Option(..., "-o", "--output", help="Output directory: probe.json, probe.md, probe.png."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Treebank the probes are scored on (default: the last "
                                       "fifth of --train, held out)."),
    max_train_sentences: Optional[int] = typer.Option(400, "--max-train-sentences",
                                                      help="Train the probes on the first N sentences only."),
    max_eval_sentences: Optional[int] = typer.Option(None, "--max-eval-sentences",
                                                     help="Score on the first N held-out sentences only."),
    translit: list[str] = typer.Option([], "--translit", help="none, latin or a scheme name: once for every model, "
                                       "or once per --model in the same order (a model's recorded scheme applies "
                                       "when none is asked)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="ISO 639 code of the treebank's language (for "
                                       "--translit latin)."),
    c: float = typer.Option(1.0, "--c", help="Inverse L2 strength of the logistic regression."),
    max_iter: int = typer.Option(1000, "--max-iter", help="L-BFGS iterations per probe at most."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Pieces per window (default: the model's)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output directory."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the JSON result to PATH (- = stdout)."),
) -> None:
    """Linear UPOS probes on every layer's frozen vectors (each word's first piece), one per model: what an
    adaptation or a transliteration changed in what the encoder knows about the language, in minutes."""
    from adaptlang.options import PROBE, validate_numeric

    validate_numeric(locals(), PROBE)
    from adaptlang.analysis.probe import ProbeConfig, probe_models
    from adaptlang.fileio import atomic_path, check_output, output_lock, write_json_atomic, write_text_atomic
    from adaptlang.report import plot_probe

    check_json_path(json_out)
    if lang is not None:
        from adaptlang.langs import check_lang

        lang = check_lang(lang)
    check_output(output, force, directory=True)
    apply_threads(threads)
    config = ProbeConfig(
        models=tuple(model), train=str(train), dev=str(dev) if dev else None,
        max_train_sentences=max_train_sentences, max_eval_sentences=max_eval_sentences,
        translit=tuple(translit), lang=lang, c=c, max_iter=max_iter, max_length=max_length,
    )
    with output_lock(output):
        with _LazyProgress() as bar:
            def on_event(e: Any) -> None:
                if e.kind == "step":
                    bar.update(e.stage, e.step, e.total)

            result = probe_models(config, on_event)
        check_output(output, force, directory=True)  # made meanwhile by another program: still not replaced
        with atomic_path(output) as tmp:
            tmp.mkdir()
            write_json_atomic(tmp / "probe.json", result.to_dict())
            write_text_atomic(tmp / "probe.md", result.markdown())
            plot_probe(result, tmp / "probe.png")
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    _print_probe(result, out)
    out.print(f"wrote {output}/probe.json, probe.md, probe.png")
    emit_json(result.to_dict(), json_out)


def _print_probe(result: Any, out: Any) -> None:
    from rich.table import Table

    table = Table(title="UPOS accuracy (%) of a linear probe per layer")
    table.add_column("layer", justify="right")
    for curve in result.curves:
        table.add_column(curve.label, justify="right")
    for layer in range(max(len(c.accuracy) for c in result.curves)):
        cells = []
        for curve in result.curves:
            cell = f"{curve.accuracy[layer]:.2f}" if layer < len(curve.accuracy) else ""
            cell += "" if layer >= len(curve.converged) or curve.converged[layer] else " (not converged)"
            cells.append(f"[bold]{cell}[/bold]" if layer == curve.best_layer else cell)
        table.add_row("emb" if layer == 0 else str(layer), *cells)
    table.add_row("majority tag", f"{result.majority:.2f}", *[""] * (len(result.curves) - 1))
    table.add_row("word-form lookup", f"{result.word_form:.2f}", *[""] * (len(result.curves) - 1))
    out.print(table)
    out.print(result.caption() + " Bold = best layer.")
    for curve in result.curves:
        out.print(f"{curve.label}: transliteration {curve.translit_reason}; vectors {curve.seconds_features:.0f} s, "
                  f"probes {curve.seconds_probes:.0f} s")
