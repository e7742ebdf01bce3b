"""``adaptlang categorize``: the measured easy / intermediate / hard verdict for a language, with its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from adaptlang.cli.common import (CPU_BF16_OPT, THREADS_HELP, apply_threads, check_json_path, console, emit_json,
                                  err_console)
from adaptlang.cli.ner import LENIENT_OPTION, NER_DEV_OPTION, NER_TEST_OPTION, NER_TRAIN_OPTION, TASK_OPTION, task_files
from adaptlang.cli.train import DONOR_TRANSLIT_OPT
from adaptlang.events import Event


def register(app: typer.Typer) -> None:
    app.command("categorize")(categorize_command)


MODE_OPTION = typer.Option("finetune", "--mode", help="How the direct, mlm and translit variants use the model: "
                           "finetune (fine-tuned as the parser's encoder: the study's definition) or features (the "
                           "baseline plus the model's frozen contextual vectors, UDPipe 2 style: a CPU can train it "
                           "to convergence; epochs as --baseline-epochs).")


BASELINE_CORPUS_OPTION = typer.Option(True, "--baseline-corpus/--no-baseline-corpus", help="Give the baseline word "
                                      "embeddings trained on --corpus (both sides then see the raw text).")
ADAPT_STEPS_OPTION = typer.Option(None, "--adapt-steps", help="MLM adaptation steps (default: passes over the corpus "
                                  "to convergence, see --adapt-epochs).")
ADAPT_EPOCHS_OPTION = typer.Option(40.0, "--adapt-epochs", help="MLM adaptation: passes over the corpus at most; "
                                   "early stopping on the held-out MLM loss ends it first.")
ADAPT_MINUTES_OPTION = typer.Option(60.0, "--adapt-minutes", help="Time budget of each MLM adaptation (and of its "
                                    "LR schedule), in minutes (a GPU's early stopping ends it long before).")
VARIANTS_OPTION = typer.Option(None, "--variants", help="Comma-separated variants to run (default: baseline,direct,"
                               "mlm and the translit ones when a scheme is chosen); scratch adds a monolingual BERT "
                               "trained from scratch on --corpus. The verdict needs baseline, direct and mlm.")
DONOR_OPTION = typer.Option(None, "--donor", help="A related treebank (CoNLL-U; repeatable): adds the direct+donor "
                            "variant, the direct one trained on --train plus the donors (as `train --donor`); "
                            "compared with baseline and direct, not in the verdict.")
SCRATCH_MINUTES_OPTION = typer.Option(15.0, "--scratch-minutes", help="Time budget of the scratch model's "
                                      "pretraining, in minutes.")


def mlm_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The MLM adaptation's budget, the variants and the scratch pretraining's budget, as CategorizeConfig fields."""
    names = values["variants"]
    return {"adapt_epochs": values["adapt_epochs"], "adapt_minutes": values["adapt_minutes"],
            "scratch_minutes": values["scratch_minutes"],
            "variants": None if names is None else tuple(v.strip() for v in names.split(",") if v.strip())}


def donor_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The donor treebanks and their transliteration, as CategorizeConfig fields."""
    return {"donors": tuple(str(d) for d in values["donors"] or ()), "donor_translit": values["donor_translit"]}


def categorize_command(
    corpus: Path = typer.Option(..., "--corpus", help="Raw text of the language (MLM adaptation, assessment)."),
    train: Optional[Path] = typer.Option(None, "--train", help="Training treebank (CoNLL-U; --task parse or both)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Test treebank (CoNLL-U); the verdict is measured on it."),
    model: str = typer.Option(..., "--model", help="Pretrained encoder: Hugging Face model directory or hub id."),
    output: Path = typer.Option(..., "-o", "--output", help="Run directory (stages, report.md, results.json, plots)."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Dev treebank (default: hold out 10% of train)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="ISO 639 code of the language (assess, transliteration)."),
    seeds: int = typer.Option(3, "--seeds", help="Fine-tuning runs per variant (different seeds)."),
    translit: str = typer.Option(
        "auto", "--translit",
        help="Transliterated variants: auto (when assess finds a scheme that helps), none, latin (best scheme to "
        "Latin script for the corpus's script and --lang), or a scheme name (adaptlang transliterate --list).",
    ),
    mode: str = MODE_OPTION,
    task: str = TASK_OPTION,
    ner_train: Optional[Path] = NER_TRAIN_OPTION,
    ner_dev: Optional[Path] = NER_DEV_OPTION,
    ner_test: Optional[Path] = NER_TEST_OPTION,
    lenient: bool = LENIENT_OPTION,
    epochs: int = typer.Option(10, "--epochs", help="Fine-tuning epochs (budget option)."),
    baseline_epochs: Optional[int] = typer.Option(None, "--baseline-epochs",
                                                  help="Epochs of each BiLSTM run: the baseline, and every variant in "
                                                  "--mode features (default: 80 for parsing, 40 for NER)."),
    baseline_corpus: bool = BASELINE_CORPUS_OPTION,
    adapt_steps: Optional[int] = ADAPT_STEPS_OPTION, adapt_epochs: float = ADAPT_EPOCHS_OPTION,
    adapt_minutes: Optional[float] = ADAPT_MINUTES_OPTION, scratch_minutes: Optional[float] = SCRATCH_MINUTES_OPTION,
    variants: Optional[str] = VARIANTS_OPTION,
    donors: Optional[list[Path]] = DONOR_OPTION, donor_translit: Optional[str] = DONOR_TRANSLIT_OPT,
    adapt_method: str = typer.Option("full", "--adapt-method", help="MLM adaptation: full or lora."),
    max_train_sentences: Optional[int] = typer.Option(None, "--max-train-sentences", help="Train on the first N "
                                                      "sentences only (budget option; NER files too)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Time budget of each fine-tuning run, in "
                                                "minutes (budget option)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sentences per fine-tuning batch."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap samples for the intervals."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of the intervals."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."), cpu_bf16: bool = CPU_BF16_OPT,
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Stages run at once, each in its own process with --threads "
                             "threads (default: cores / N) or sharing the GPU; at equal --threads, same results."),
    force: bool = typer.Option(False, "--force", help="Redo every stage (default: reuse finished stages)."),
    plan: bool = typer.Option(False, "--plan", help="Run nothing: list the stages, done or pending, and exit."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write results.json to PATH (- = stdout)."),
) -> None:
    """Assess, adapt, fine-tune and compare with a from-scratch baseline over several seeds; measured verdict.

    Resumable: rerun the same command after an interruption and finished stages are reused.
    """
    from adaptlang.options import CATEGORIZE, validate_numeric

    validate_numeric(locals(), CATEGORIZE)
    from adaptlang.data.text import check_text_file
    from adaptlang.fileio import output_lock
    from adaptlang.pipeline import RESUME_HINT, CategorizeConfig, Interrupted, plan_categorize, run_categorize

    check_json_path(json_out)
    check_text_file(corpus, "--corpus")  # before the run directory exists: a binary corpus leaves nothing behind
    apply_threads(threads)

    config = CategorizeConfig(
        corpus=str(corpus), model=model, output=str(output), **task_files(locals()),
        dev=str(dev) if dev else None, lang=lang, seeds=seeds, translit=translit, epochs=epochs,
        baseline_epochs=baseline_epochs, baseline_corpus=baseline_corpus, adapt_steps=adapt_steps,
        adapt_method=adapt_method, max_train_sentences=max_train_sentences, max_minutes=max_minutes,
        batch_size=batch_size, n_bootstrap=bootstrap, level=level, device=device, cpu_bf16=cpu_bf16, force=force,
        jobs=jobs, mode=mode, threads=threads, **mlm_settings(locals()), **donor_settings(locals()))
    if plan:
        print_plan(plan_categorize(config).to_dict(), err_console if json_out == "-" else console)
        return
    try:
        with output_lock(output), _StageProgress() as bar:  # a second run into the same -o fails at once
            result = run_categorize(config, bar.event)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {RESUME_HINT}") from None
    report = result.to_dict()
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    print_verdict(report, out)
    out.print(f"report: {output}/report.md  ({', '.join(f for f in result.files if f != 'report.md')})")
    emit_json(report, json_out)


class _StageProgress:
    """Stage lines plus a progress bar for each running stage (stderr; several with --jobs), started at the first
    event."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}  # running stage -> its bar

    def _start(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=err_console, transient=True)
        self._bar.start()

    def event(self, e: Event) -> None:
        """Stage lines (``[index/count]``; the count is known once assess has decided the variants), and a bar
        over each running job's steps."""
        if self._bar is None:
            self._start()
        where = f"[{e.index}/{e.count}]" if e.count else f"[{e.index}]"
        task = self._tasks.get(e.stage)
        if e.kind == "skip":
            self._bar.console.print(f"{where} {e.stage}: reused (already done)")
        elif e.kind == "stage":
            self._drop(e.stage)
            self._tasks[e.stage] = self._bar.add_task(f"{where} {e.stage}", total=None)
        elif e.kind == "done" and e.index:  # a stage finished (a job inside it reports done with no index)
            self._bar.console.print(f"{where} {e.stage}: done in {e.seconds:.0f} s")
            self._drop(e.stage)
        elif e.kind in ("start", "step") and task is not None:
            self._bar.update(task, completed=e.step, total=e.total or None)
        elif e.kind == "note":  # the study's own notes, or a job's inside a stage (named then)
            self._bar.console.print(f"{e.stage}: {e.message}" if e.stage else e.message)

    def _drop(self, stage: str) -> None:
        task = self._tasks.pop(stage, None)
        if task is not None:
            self._bar.remove_task(task)

    def __enter__(self) -> "_StageProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_plan(r: dict[str, Any], out: Any) -> None:
    from rich.table import Table

    table = Table(title="categorize plan (nothing was run)")
    for col in ("#", "stage", "status", "directory"):
        table.add_column(col)
    for i, s in enumerate(r["stages"], start=1):
        status = "done" if s["status"] == "reused" else "pending"
        table.add_row(str(i), s["name"], status, Path(s["directory"]).name)
    out.print(table)
    out.print(f"transliteration: {r['translit']['reason']}")
    n_pending = sum(s["status"] != "reused" for s in r["stages"])
    out.print(f"{n_pending} stage(s) to run" if n_pending else "every stage is done: a run only writes the report")


def print_verdict(r: dict[str, Any], out: Any = console) -> None:
    from rich.table import Table

    from adaptlang.report import undecided_lines

    v = r["verdict"]
    for line in undecided_lines(r):  # no category from runs still improving: say so first
        out.print(line, highlight=False)
    table = Table(title=f"Measured category: {v['category'].upper()}"
                  + ("" if v["firm"] or not v["possible"] else
                     f" (within noise; possible: {', '.join(v['possible'])})"))
    table.add_column("task")
    table.add_column("category")
    table.add_column("direct − baseline", justify="right")
    table.add_column("best adapted − baseline", justify="right")
    for task, t in v["tasks"].items():
        a = t["adapted_vs_baseline"]
        table.add_row(
            task.upper(), t["category"] + ("" if t["firm"] else "?"), _diff(t["direct_vs_baseline"]),
            f"{r['differences'][task]['best adapted']}: {_diff(a)}" if a else "—",
        )
    out.print(table)
    scores = Table(title="Test scores, mean ± sd over seeds")
    for col in ("variant", "UPOS", "UAS", "LAS"):
        scores.add_column(col, justify="left" if col == "variant" else "right")
    for name, d in r["variants"].items():
        scores.add_row(name, *(_ms(d[m]) for m in ("upos", "uas", "las")))
    if r["variants"]:
        out.print(scores)
    if r.get("ner"):
        from adaptlang.cli.ner import print_ner_categorize

        print_ner_categorize(r["ner"], out)
    if any(d["f1" if "f1" in d else "upos"].get("n", 2) == 1
           for d in [*r["variants"].values(), *(r.get("ner") or {}).get("variants", {}).values()]):
        out.print("one seed: no spread over seeds to show; intervals cover the test sentences only")
    from adaptlang.report import budget_caution

    caution = budget_caution(r)
    if caution:
        out.print(f"budget: {caution}")
    pv = r["prediction_vs_measured"]
    if pv["predicted"]:
        out.print(f"assess predicted: {pv['predicted']} ({'agrees' if pv['agree'] else 'differs'})")
    out.print("intervals: paired bootstrap, "
                  f"{int(round(100 * r['statistics']['ci_level']))}%; '?' = the deciding difference is within noise")


def _diff(d: dict[str, Any]) -> str:
    note = " ~" if d["within_noise"] else ""
    return f"{d['diff']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]{note}"


def _ms(d: dict[str, Any]) -> str:
    return f"{d['mean']:.2f} ± {d['sd']:.2f}" if d.get("n", 2) > 1 else f"{d['mean']:.2f}"
