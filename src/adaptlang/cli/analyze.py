"""``adaptlang analyze``: cross-lingual analyses of an encoder (CKA similarity; layer re-initialisation)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import typer

from adaptlang.cli.common import console, emit_json, err_console

analyze_app = typer.Typer(
    help="Cross-lingual analyses: CKA similarity of parallel sentences per layer; re-initialised layers.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
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
    model: Path = typer.Option(..., "--model", help="Hugging Face model directory (or adapted model directory)."),
    source: Path = typer.Option(..., "--source", help="CoNLL-U file of the source-language sentences (e.g. English PUD)."),
    target: list[Path] = typer.Option(..., "--target", help="Parallel CoNLL-U file (repeat for several languages)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output directory: cka.json, cka.tsv, cka.png."),
    model_after: Optional[Path] = typer.Option(
        None, "--model-after", help="Second model (e.g. after fine-tuning): its curves go on the same plot."
    ),
    kernel: str = typer.Option("linear", "--kernel", help="CKA kernel: linear or rbf."),
    rbf_sigma: float = typer.Option(1.0, "--rbf-sigma", help="RBF bandwidth as a multiple of the median distance."),
    max_sentences: Optional[int] = typer.Option(None, "--max-sentences", help="Use the first N aligned pairs only."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sentences per forward pass."),
    max_length: int = typer.Option(256, "--max-length", help="Subword tokens per sentence (longer ones are cut)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output directory."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the JSON result to PATH (- = stdout)."),
) -> None:
    """Linear (or RBF) CKA between the mean-pooled hidden states of parallel sentences, at every layer."""
    from adaptlang.analysis.cka import CkaConfig, run_cka
    from adaptlang.fileio import atomic_path, check_output, write_json_atomic, write_text_atomic
    from adaptlang.report import plot_cka

    check_output(output, force)
    config = CkaConfig(
        model=str(model), source=str(source), targets=tuple(str(t) for t in target),
        model_after=str(model_after) if model_after else None, kernel=kernel, rbf_sigma=rbf_sigma,
        max_sentences=max_sentences, batch_size=batch_size, max_length=max_length,
    )
    with _LazyProgress() as bar:
        result = run_cka(config, lambda what, done, total: bar.update(f"encoding {what}", done, total))
    data = result.to_dict()
    with atomic_path(output) as tmp:
        tmp.mkdir()
        write_json_atomic(tmp / "cka.json", data)
        write_text_atomic(tmp / "cka.tsv", _tsv(result))
        plot_cka(result, tmp / "cka.png")
    _print_table(result)
    console.print(f"wrote {output}/cka.json, cka.tsv, cka.png")
    emit_json(data, json_out)


def _columns(result: Any) -> list[tuple[str, Any]]:
    from adaptlang.analysis.cka import language_label

    both = any(c.role == "after" for c in result.curves)
    return [(language_label(c.target) + (f" {c.role}" if both else ""), c) for c in result.curves]


def _tsv(result: Any) -> str:
    cols = _columns(result)
    n_layers = max(len(c.scores) for _, c in cols)
    lines = ["layer\t" + "\t".join(name for name, _ in cols)]
    for layer in range(n_layers):
        lines.append(f"{layer}\t" + "\t".join(_fmt(c.scores[layer]) for _, c in cols))
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4f}"


def _print_table(result: Any) -> None:
    from rich.table import Table

    from adaptlang.analysis.cka import language_label

    cols = _columns(result)
    table = Table(
        title=f"{result.config.kernel} CKA with {language_label(result.config.source)} "
        f"({cols[0][1].n_sentences} sentence pairs)"
    )
    table.add_column("layer", justify="right")
    for name, _ in cols:
        table.add_column(name, justify="right")
    n_layers = max(len(c.scores) for _, c in cols)
    for layer in range(n_layers):
        cells = []
        for _, c in cols:
            cell = _fmt(c.scores[layer])
            cells.append(f"[bold]{cell}[/bold]" if layer == c.peak_layer else cell)
        table.add_row("emb" if layer == 0 else str(layer), *cells)
    console.print(table)
    console.print("bold = peak layer of each curve; layer 0 = embedding output")
