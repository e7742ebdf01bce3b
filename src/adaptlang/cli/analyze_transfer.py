"""``adaptlang analyze transfer``: zero-shot from one source treebank to several targets, per-layer CKA between the
source and each target, and the per-layer Spearman correlation between CKA and the cross-lingual gap
(:mod:`adaptlang.pipeline.transfer`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import typer

from adaptlang.cli.common import THREADS_HELP, apply_threads, check_json_path, console, emit_json, err_console

_TARGET = typer.Option(..., "--target", help="A target language's test treebank (CoNLL-U), scored zero-shot; "
                       "repeat (PUD treebanks are parallel, so they also give the CKA sentences).")
_CKA_TARGET = typer.Option([], "--cka-target", help="Parallel sentences of each --target, in the same order "
                           "(default: the --target files themselves).")
_PARSER = typer.Option(None, "--parser", help="An already trained parser directory (skips training).")
_CKA_MODEL = typer.Option(None, "--cka-model", help="Encoder for CKA (default: --model, else the --parser's "
                          "fine-tuned encoder).")


def transfer_command(
    source_test: Path = typer.Option(..., "--source-test", help="The source language's test treebank (e.g. "
                                     "English PUD, parallel to the targets)."),
    target: list[Path] = _TARGET,
    output: Path = typer.Option(..., "-o", "--output", help="Run directory: stages, transfer.json, .tsv, .png."),
    model: Optional[str] = typer.Option(None, "--model", help="Encoder to fine-tune on --source-train."),
    source_train: Optional[Path] = typer.Option(None, "--source-train", help="Source training treebank."),
    source_dev: Optional[Path] = typer.Option(None, "--source-dev", help="Source dev treebank (default: hold out "
                                              "the last 10% of --source-train)."),
    parser: Optional[str] = _PARSER,
    cka_model: Optional[str] = _CKA_MODEL,
    cka_source: Optional[Path] = typer.Option(None, "--cka-source", help="Source sentences for CKA (default: "
                                              "--source-test)."),
    cka_target: list[Path] = _CKA_TARGET,
    kernel: str = typer.Option("rbf", "--kernel", help="CKA kernel: rbf (the study's) or linear."),
    debiased: bool = typer.Option(False, "--debiased", help="Unbiased HSIC estimator (fair on few sentences)."),
    rbf_sigma: float = typer.Option(1.0, "--rbf-sigma", help="RBF bandwidth as a multiple of the median distance."),
    max_cka_sentences: Optional[int] = typer.Option(None, "--max-cka-sentences", help="CKA on the first N pairs."),
    max_train_sentences: Optional[int] = typer.Option(None, "--max-train-sentences", help="Budget: first N only."),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs (at most)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Training time budget."),
    batch_size: int = typer.Option(16, "--batch-size", help="Sentences per batch."),
    seed: int = typer.Option(42, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", help="Redo every stage (default: reuse finished ones)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the JSON result to PATH (- = stdout)."),
) -> None:
    """Zero-shot transfer from one source to several targets against per-layer CKA: the cross-lingual gap (source
    score minus target score, LAS and UPOS) and its Spearman correlation with CKA at every layer. Resumable."""
    from adaptlang.fileio import output_lock, write_text_atomic
    from adaptlang.pipeline.transfer import TransferConfig, run_transfer

    check_json_path(json_out)
    apply_threads(threads)
    config = TransferConfig(
        output=str(output), source_test=str(source_test), targets=tuple(str(t) for t in target), model=model,
        source_train=str(source_train) if source_train else None, source_dev=str(source_dev) if source_dev else None,
        parser=parser, cka_model=cka_model, cka_source=str(cka_source) if cka_source else None,
        cka_targets=tuple(str(t) for t in cka_target), kernel=kernel, debiased=debiased, rbf_sigma=rbf_sigma,
        max_cka_sentences=max_cka_sentences, max_train_sentences=max_train_sentences, epochs=epochs,
        max_minutes=max_minutes, batch_size=batch_size, seed=seed, device=device, threads=threads, force=force)
    with output_lock(output):
        try:
            result = run_transfer(config, _on_event)
        except KeyboardInterrupt:
            from adaptlang.runs import RESUME_HINT, Interrupted

            raise Interrupted(f"interrupted; {RESUME_HINT}") from None
        write_text_atomic(output / "transfer.tsv", transfer_tsv(result))
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    print_transfer(result, out)
    out.print(f"wrote {output}/transfer.json, transfer.tsv, transfer.png")
    emit_json(result, json_out)


def _on_event(e: Any) -> None:
    if e.kind == "skip" or (e.kind == "done" and e.index):
        err_console.print(f"[{e.index}/{e.count}] {e.stage}: " +
                          ("reused (already done)" if e.kind == "skip" else f"done in {e.seconds:.0f} s"))
    elif e.kind == "stage":
        err_console.print(f"[{e.index}/{e.count}] {e.stage} ...")
    elif e.kind == "epoch" and e.metrics:
        err_console.print(f"  epoch {e.epoch}/{e.epochs}: dev " +
                          " ".join(f"{k.upper()} {v:.1f}" for k, v in e.metrics.items()), highlight=False)


def _fmt(x: Any, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def transfer_tsv(r: dict[str, Any]) -> str:
    """One row per layer: CKA per target, then rho and p per metric."""
    labels = [t["label"] for t in r["targets"]]
    head = ["layer", *(f"cka_{x}" for x in labels), "rho_las", "p_las", "rho_upos", "p_upos"]
    lines = ["\t".join(head)]
    for layer in range(len(r["targets"][0]["cka"])):
        cells = [str(layer), *(_fmt(t["cka"][layer], 4) for t in r["targets"])]
        for m in ("las", "upos"):
            row = r["correlation"][m][layer]
            cells += [_fmt(row["rho"], 4), _fmt(row["p"], 4)]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def print_transfer(r: dict[str, Any], out: Any) -> None:
    from rich.table import Table

    src = r["source"]["scores"]
    scores = Table(title=f"Zero-shot from {Path(r['source']['path']).name}: LAS {src['las']:.2f}, UPOS "
                         f"{src['upos']:.2f} on its own test set")
    for col in ("target", "LAS", "LAS gap", "UPOS", "UPOS gap"):
        scores.add_column(col, justify="left" if col == "target" else "right")
    for t in r["targets"]:
        scores.add_row(t["label"], f"{t['scores']['las']:.2f}", f"{t['gap']['las']:.2f}",
                       f"{t['scores']['upos']:.2f}", f"{t['gap']['upos']:.2f}")
    out.print(scores)
    n = r["n_targets"]
    table = Table(title=f"{r['config']['kernel']} CKA with the source per layer, and Spearman rho(CKA, gap) over "
                        f"{n} targets")
    table.add_column("layer", justify="right")
    for t in r["targets"]:
        table.add_column(f"CKA {t['label']}", justify="right")
    for m in ("LAS", "UPOS"):
        table.add_column(f"rho {m}", justify="right")
        table.add_column("p", justify="right")
    for layer in range(len(r["targets"][0]["cka"])):
        cells = [_fmt(t["cka"][layer]) for t in r["targets"]]
        for m in ("las", "upos"):
            row = r["correlation"][m][layer]
            cells += [_fmt(row["rho"], 2), _fmt(row["p"], 3)]
        table.add_row("emb" if layer == 0 else str(layer), *cells)
    out.print(table)
    weak = (f"; with n = {n} the smallest possible p is {r['min_p']:.3f}: read the p-values as weak"
            if r.get("min_p") is not None else "")
    out.print(f"gap = source score - target score (points); a strong link shows as rho near -1 (the study: "
              f"strength {r['study']['las']} parsing, {r['study']['upos']} POS); p: {r['p_value']}{weak}",
              highlight=False)
