"""The NER side of ``adaptlang train --task ner``, ``baseline --task ner``, ``evaluate`` and ``predict``: the
commands read their options, then hand them here when the task (or the model directory's kind) is NER.

Torch-free at import: the CLI imports this module at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TASKS = ("parse", "ner")
NER_KIND = "adaptlang-ner"


def check_task(task: str) -> None:
    from adaptlang.errors import UsageError

    if task not in TASKS:
        raise UsageError(f"--task {task!r}; valid: {', '.join(TASKS)}")


def is_ner_model(model_dir: str) -> bool:
    """True when ``model_dir/config.json`` says it is an NER model (anything else goes to the parser's loader,
    which explains what is wrong with it)."""
    try:
        return json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8")).get("kind") == NER_KIND
    except (OSError, ValueError, AttributeError):
        return False


def data_format(path: str) -> str:
    """NER training data in CoNLL-U (MISC NE=) when the file is named ``*.conllu``, else CoNLL-2003 style."""
    return "conllu" if str(path).endswith(".conllu") else "conll"


def train_ner_cmd(o: dict[str, Any]) -> None:
    """``adaptlang train --task ner`` with the options of ``train`` (``o``: its locals)."""
    from adaptlang.cli.common import console, emit_json
    from adaptlang.tasks.ner import NERConfig, train_ner

    encoder = {"kind": "transformer", "model": o["model"], "pooling": o["pooling"], "scalar_mix": o["scalar_mix"],
               "random_init": o["random_init"], "freeze_embeddings": o["freeze_embeddings"],
               "freeze_layers": o["freeze_layers"], "max_length": o["max_length"],
               **({"allow_causal": True} if o["allow_causal"] else {}),
               **({"translit": "strip-diacritics"} if o["strip_diacritics"] else {})}
    config = NERConfig(train=o["train_file"], dev=o["dev_file"], out=o["output"], encoder=encoder,
                       data_format=data_format(o["train_file"]), scheme=o["scheme"], lenient=o["lenient"],
                       epochs=o["epochs"], batch_size=o["batch_size"], max_tokens=o["max_tokens"],
                       encoder_lr=o["lr"], head_lr=o["head_lr"], warmup=o["warmup"], patience=o["patience"],
                       seed=o["seed"], device=o["device"], max_minutes=o["max_minutes"], threads=o["threads"],
                       force=o["force"], resume=o["resume"], grad_accum=o["grad_accum"], log_dir=o["log_dir"],
                       cpu_bf16=o["cpu_bf16"])
    with o["progress"](o["quiet"]) as progress:  # the train command's progress bar
        result = train_ner(config, progress)
    _print_train(result, o["json_path"], console)
    print_notes(result.notes)
    emit_json(result, o["json_path"])


def baseline_ner_cmd(o: dict[str, Any]) -> None:
    """``adaptlang baseline --task ner``: the BiLSTM-CRF with the options of ``baseline`` (``o``: its locals)."""
    from adaptlang.baseline import BaselineConfig
    from adaptlang.cli.common import console, emit_json
    from adaptlang.tasks.ner import baseline_ner_config, train_ner_baseline

    b = BaselineConfig(train=o["train_file"], dev=o["dev_file"], out=o["output"], corpus=o["corpus"],
                       epochs=o["epochs"], max_minutes=o["max_minutes"], seed=o["seed"], lr=o["lr"],
                       adam_beta2=o["beta2"], batch_size=o["batch_size"], patience=o["patience"],
                       char_model=o["char_model"], hidden=o["hidden"], n_layers=o["layers"], dropout=o["dropout"],
                       word_dropout=o["word_dropout"], device=o["device"], force=o["force"], resume=o["resume"],
                       log_dir=o["log_dir"], embeddings=o.get("embeddings"), cpu_bf16=o["cpu_bf16"],
                       embedding_layers=o.get("embedding_layers", 4), embedding_mix=o.get("embedding_mix", "mean"))
    config = baseline_ner_config(b, data_format=data_format(o["train_file"]), scheme=o["scheme"],
                                 lenient=o["lenient"])
    with o["TrainProgress"](o["quiet"]) as progress:  # the baseline command's progress bar (threads applied)
        result = train_ner_baseline(b, config, progress)
    _print_train(result, o["json_path"], console)
    print_notes(result.notes)
    emit_json(result, o["json_path"])


def print_notes(notes: Any) -> None:
    from adaptlang.cli.common import err_console

    for note in notes:
        err_console.print(f"note: {note}", highlight=False)


def _print_train(result: Any, json_path: str | None, console: Any) -> None:
    if json_path == "-":
        return
    d = result.dev
    console.print(f"[bold]{result.out}[/]: trained on {result.n_train_sentences} sentences; best epoch "
                  f"{result.best_epoch}/{result.epochs_run}, dev entity F1 {d.get('f1', 0):.2f} (P "
                  f"{d.get('precision', 0):.2f}, R {d.get('recall', 0):.2f}); {result.train_seconds / 60:.1f} min, "
                  f"peak memory {result.peak_memory_mb:.0f} MB")


def refuse_language_adapter(model_dir: str, language_adapter: list[str]) -> None:
    """``evaluate`` / ``predict`` of an NER model take no ``--language-adapter`` (only parsers trained over one)."""
    if language_adapter:
        from adaptlang.errors import UsageError

        raise UsageError(f"--language-adapter: {model_dir} is an NER model; adapters are swapped only under parsers "
                         "trained with `train --language-adapter`; drop the option")


def evaluate_ner_cmd(model_dir: str, test_file: str, *, bootstrap: int, seed: int, device: str, batch_size: int,
                     scheme: str, save_predictions: str | None, force: bool, json_path: str | None,
                     threads: int | None) -> None:
    """``adaptlang evaluate`` on an NER model directory: entity P/R/F1 overall and per type, with 95% CIs."""
    import contextlib

    from adaptlang.cli.common import apply_threads, console, emit_json
    from adaptlang.fileio import output_lock
    from adaptlang.tasks.ner import evaluate_ner_model

    apply_threads(threads)
    with output_lock(save_predictions) if save_predictions else contextlib.nullcontext():
        result = evaluate_ner_model(model_dir, test_file, n_bootstrap=bootstrap, seed=seed, device=device,
                                    batch_size=batch_size, scheme=scheme, data_format=data_format(test_file),
                                    predictions_out=save_predictions, force=force)
    if json_path != "-":
        from rich.table import Table

        s = result.scores
        table = Table(title=f"{test_file}: {s.n_sentences} sentences, {s.n_tokens} tokens, "
                            f"{s.overall.n_gold} entities")
        for col, justify in (("entity type", "left"), ("precision", "right"), ("recall", "right"),
                             ("F1", "right"), (f"F1 {int(s.ci_level * 100)}% CI", "right"), ("gold", "right")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        lo_hi = s.ci.get("f1")
        rows = [("all", s.overall, f"{lo_hi[0]:.2f}-{lo_hi[1]:.2f}" if lo_hi else "-")]
        rows += [(t, v, "") for t, v in s.per_type.items()]
        for name, v, ci in rows:
            table.add_row(name, f"{v.precision:.2f}", f"{v.recall:.2f}", f"{v.f1:.2f}", ci, str(v.n_gold))
        console.print(table)
        if s.unseen_types:
            console.print(f"gold entity types unseen in training (always errors): {', '.join(s.unseen_types)}",
                          highlight=False)
    emit_json(result, json_path)


def predict_ner_cmd(model_dir: str, input_file: str, output: str, *, input_format: str, scheme: str,
                    device: str, batch_size: int, force: bool, json_path: str | None, threads: int | None,
                    quiet: bool = False) -> None:
    """``adaptlang predict`` with an NER model directory."""
    from adaptlang.cli.common import apply_threads, emit_json, err_console
    from adaptlang.fileio import output_lock
    from adaptlang.tasks.ner import predict_ner

    apply_threads(threads)
    with output_lock(output):
        result = predict_ner(model_dir, input_file, output, input_format=input_format, scheme=scheme,
                             device=device, batch_size=batch_size, force=force)
    if output != "-" and json_path != "-" and not quiet:
        err_console.print(f"{result.output}: {result.n_sentences} sentences, {result.n_words} tokens "
                          f"({result.input_format} input, {scheme.upper()} tags, {result.seconds:.1f} s)")
    emit_json(result, json_path)


def print_ner_categorize(ner: dict[str, Any], out: Any) -> None:
    """``categorize --task ner|both``: the NER scores per variant (entity F1, P, R; mean ± sd over seeds)."""
    from rich.table import Table

    table = Table(title=f"NER test scores (entity level), mean ± sd over seeds; "
                        f"{ner['data'].get('n_test_entities')} test entities")
    for col in ("variant", "F1", "precision", "recall"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for name, d in ner["variants"].items():
        table.add_row(f"{name} (BiLSTM-CRF)" if name == "baseline" else name,
                      *(f"{d[m]['mean']:.2f} ± {d[m]['sd']:.2f}" if d[m].get("n", 2) > 1 else f"{d[m]['mean']:.2f}"
                        for m in ("f1", "precision", "recall")))
    out.print(table)


# ``categorize``'s NER options (module level: the command's signature stays short)
def _typer_option(default: Any, *names: str, help: str) -> Any:
    import typer

    return typer.Option(default, *names, help=help)


TASK_OPTION = _typer_option("parse", "--task", help="What the verdict is measured on: parse (UPOS and LAS, from "
                            "--train/--test), ner (entity F1, from --ner-train/--ner-test), or both (the hardest task "
                            "sets the category). One MLM adaptation serves both.")
NER_TRAIN_OPTION = _typer_option(None, "--ner-train", help="NER training file (CoNLL-2003 style: TOKEN ... TAG; or "
                                 "CoNLL-U with MISC NE= when named *.conllu).")
NER_DEV_OPTION = _typer_option(None, "--ner-dev", help="NER dev file (default: hold out 10% of --ner-train).")
NER_TEST_OPTION = _typer_option(None, "--ner-test", help="NER test file; the NER verdict is measured on it.")
LENIENT_OPTION = _typer_option(False, "--lenient", help="NER files: read an I-X that does not continue an X entity "
                               "as conlleval and seqeval do (it starts one) instead of refusing the file.")


def task_files(o: dict[str, Any]) -> dict[str, Any]:
    """The task and data-file fields of ``CategorizeConfig`` from the command's options (``o``: its locals)."""
    files = {k: str(o[k]) if o[k] else None for k in ("train", "test", "ner_train", "ner_dev", "ner_test")}
    return {"task": o["task"], "lenient": o["lenient"], **files}
