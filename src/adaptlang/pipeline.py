"""``categorize``: measure whether a language is easy, intermediate or hard for a pretrained multilingual model.

Stages (each one's output under ``RUN/stages/<name>-<hash>/``, the hash taken over its configuration and the
checksums of its input files, so that a rerun skips every finished stage and an interrupted run resumes where it
stopped):

1. ``assess``: tokenizer and script profile of the corpus, the predicted category, the transliteration what-if;
2. ``data``: the training treebank cut to ``max_train_sentences`` (when asked);
3. ``adapt`` (and ``adapt+translit``): MLM adaptation of the model on the corpus (run once, seed 0; the seeds vary
   the fine-tuning runs);
4. for each seed: ``baseline`` (BiLSTM from scratch), ``direct`` (the model fine-tuned directly), ``mlm`` (the adapted
   model fine-tuned), and with transliteration ``direct+translit`` and ``mlm+translit``; each trains a tagger-parser
   and evaluates it on the test set, keeping the per-sentence counts for the bootstrap;
5. the verdict (:mod:`adaptlang.stats`) and the report (:mod:`adaptlang.report`).

Every component is called through its library entry point: :func:`adaptlang.assess.assess_corpus`,
:func:`adaptlang.adapt.adapt_model`, :func:`adaptlang.tasks.train_parser`, :func:`adaptlang.baseline.train_baseline`,
:func:`adaptlang.tasks.evaluate_model`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from adaptlang.errors import AdaptlangError, InputError, OutputExistsError, UsageError
from adaptlang.fileio import write_json_atomic

TASKS: dict[str, int] = {"upos": 1, "las": 3}  # task -> column of evaluate.sentence_counts ([words, upos, uas, las])
METRIC_COLUMNS: dict[str, int] = {"upos": 1, "uas": 2, "las": 3}
VARIANTS: tuple[str, ...] = ("baseline", "direct", "mlm", "direct+translit", "mlm+translit")
RUN_MARKER = "run.json"  # written at the top of RUN when it is created, so --force never deletes a stranger


@dataclass(frozen=True)
class CategorizeConfig:
    corpus: str  # raw text of the language, for MLM adaptation and assessment
    train: str
    test: str
    model: str
    output: str
    dev: str | None = None
    lang: str | None = None  # ISO 639 code (assess, transliteration)
    seeds: int = 3
    translit: str = "auto"  # "auto" (when assess finds a scheme that helps), "none", or a scheme name
    epochs: int = 10  # fine-tuning epochs of the transformer runs
    baseline_epochs: int | None = None  # None: the baseline's own default (with early stopping)
    baseline_corpus: bool = True  # the baseline also gets word embeddings trained on the corpus (fair: both see it)
    adapt_steps: int = 500
    adapt_method: str = "full"
    adapt_options: dict[str, Any] = field(default_factory=dict)  # other AdaptConfig fields (library use), e.g. lr
    max_train_sentences: int | None = None
    max_minutes: float | None = None  # time budget of each fine-tuning run (the loop plans its epochs to fit)
    batch_size: int = 32
    max_seq_len: int = 128  # MLM sequence length
    n_bootstrap: int = 1000
    level: float = 0.95
    device: str = "auto"
    force: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Event:
    """Progress for the CLI. ``kind``: 'stage' (a stage starts: ``index``/``total``), 'skip' (already done),
    'done' (finished, ``seconds``), 'step' (inner progress ``done``/``of``), 'note' (a message)."""

    kind: str
    stage: str = ""
    index: int = 0
    total: int = 0
    done: int = 0
    of: int = 0
    message: str = ""
    seconds: float = 0.0


Progress = Callable[[Event], None]


@dataclass(frozen=True)
class StageRecord:
    name: str
    key: str
    directory: str
    status: str  # "ran" or "reused"
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CategorizeResult:
    run_dir: str
    report: dict[str, Any]  # everything in results.json
    stages: tuple[StageRecord, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return self.report


# ---------------------------------------------------------------------------------------------------------------
# Stages: content-addressed, resumable


def file_sha256(path: str | os.PathLike) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file" if not p.exists() else "is not a regular file")
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_key(config: dict[str, Any]) -> str:
    """Short stable hash of a JSON-able configuration (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


class Interrupted(AdaptlangError):
    """The run was interrupted (Ctrl-C, SIGTERM); finished stages are kept and a rerun resumes."""

    exit_code = 130


RESUME_HINT = "finished stages are kept: rerun the same command to resume"


class StageRunner:
    """Runs named stages under ``RUN/stages``; a stage whose ``stage.json`` exists is reused, not rerun."""

    def __init__(self, run_dir: Path, total: int, progress: Progress | None, dry: bool = False):
        self.root = run_dir / "stages"
        self.total = total
        self.index = 0
        self.progress = progress or (lambda e: None)
        self.records: list[StageRecord] = []
        self.dry = dry  # plan only: report finished stages, run nothing (run() returns None for the others)

    def directory(self, name: str, config: dict[str, Any]) -> Path:
        return self.root / f"{_safe(name)}-{config_key(config)}"

    def run(self, name: str, config: dict[str, Any], fn: Callable[[Path], dict[str, Any]]) -> Any:
        self.index += 1
        key = config_key(config)
        directory = self.directory(name, config)
        done = directory / "stage.json"
        if done.is_file():
            try:
                saved = json.loads(done.read_text(encoding="utf-8"))
                self.progress(Event("skip", name, self.index, self.total))
                self.records.append(StageRecord(name, key, str(directory), "reused", saved.get("seconds", 0.0)))
                return saved["result"]
            except (ValueError, KeyError):
                pass  # a damaged record: run the stage again
        if self.dry:
            self.records.append(StageRecord(name, key, str(directory), "pending", 0.0))
            return None
        self.progress(Event("stage", name, self.index, self.total))
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "config.json", {"stage": name, "key": key, "config": config})
        start = time.monotonic()
        result = fn(directory)
        seconds = round(time.monotonic() - start, 2)
        write_json_atomic(done, {"stage": name, "key": key, "config": config, "seconds": seconds, "result": result})
        self.progress(Event("done", name, self.index, self.total, seconds=seconds))
        self.records.append(StageRecord(name, key, str(directory), "ran", seconds))
        return result


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("+", "_"))


# ---------------------------------------------------------------------------------------------------------------
# The pipeline


def check_config(c: CategorizeConfig) -> None:
    if c.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if c.epochs < 1 or (c.baseline_epochs is not None and c.baseline_epochs < 1):
        raise UsageError("--epochs and --baseline-epochs must be at least 1")
    if c.adapt_steps < 1:
        raise UsageError("--adapt-steps must be at least 1")
    if c.max_train_sentences is not None and c.max_train_sentences < 2:
        raise UsageError("--max-train-sentences must be at least 2")
    if c.max_minutes is not None and not c.max_minutes > 0:
        raise UsageError("--max-minutes must be positive")
    if c.n_bootstrap < 100:
        raise UsageError("--bootstrap must be at least 100")
    if not 0.5 <= c.level < 1.0:
        raise UsageError("--level must be in [0.5, 1)")
    if c.adapt_method not in ("full", "lora"):
        raise UsageError(f"--adapt-method must be full or lora, not {c.adapt_method!r}")
    if c.adapt_options:
        from adaptlang.adapt.config import AdaptConfig

        reserved = {"corpus", "model", "output", "method", "translit", "lang", "steps", "batch_size", "max_seq_len",
                    "seed", "resume", "force"}
        allowed = {f.name for f in dataclasses.fields(AdaptConfig)} - reserved
        unknown = sorted(set(c.adapt_options) - allowed)
        if unknown:
            raise UsageError(f"adapt_options: unknown or reserved {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}")
    if c.translit not in ("auto", "none", "latin"):
        from adaptlang.translit import get_transliterator

        get_transliterator(c.translit, lang=c.lang)  # an unknown scheme fails now, listing the valid ones
    for option, path in (("--corpus", c.corpus), ("--train", c.train), ("--test", c.test), ("--dev", c.dev)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{option} {path}: no such file")


def preflight(c: CategorizeConfig) -> None:
    """Read the treebanks once before any slow work, so that a malformed file fails in seconds, with its line."""
    from adaptlang.data.conllu import read_conllu

    for option, path in (("--train", c.train), ("--dev", c.dev), ("--test", c.test)):
        if path is not None and not read_conllu(path, require_tree=True):
            raise InputError(path, f"no sentences ({option}); give a CoNLL-U treebank")


def check_run_dir(run: Path, kind: str) -> None:
    """Refuse a path that is a file, or a non-empty directory that is not a ``kind`` run."""
    marker = run / RUN_MARKER
    if run.exists():
        if not run.is_dir():
            raise OutputExistsError(run, "it is not a directory; choose another -o")
        try:
            existing = json.loads(marker.read_text(encoding="utf-8")).get("kind") if marker.is_file() else None
        except ValueError:
            existing = None
        if existing != kind and any(run.iterdir()):
            raise OutputExistsError(run, f"it is not a {kind} run directory; choose another -o")


def prepare_dir(run: Path, kind: str, config: dict[str, Any], force: bool) -> Path:
    """Create a run directory (or reuse it to resume); ``force`` wipes the stages of an earlier run of the same kind
    there. A non-empty directory that is not such a run is never touched."""
    marker = run / RUN_MARKER
    check_run_dir(run, kind)
    if run.exists():
        if force:
            shutil.rmtree(run / "stages", ignore_errors=True)
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, {"kind": kind, "config": config})
    return run


def prepare_run_dir(c: CategorizeConfig) -> Path:
    return prepare_dir(Path(c.output), "categorize", c.to_dict(), c.force)


def run_categorize(c: CategorizeConfig, progress: Progress | None = None, plan: bool = False) -> CategorizeResult:
    """Run (or resume) every stage of ``c`` and write RUN/results.json, RUN/report.md and the plots.

    ``plan``: run nothing, write nothing; the result's stages say which are done and which are pending (the
    transliterated variants are listed once the assess stage that decides them is done, or when asked for).
    """
    check_config(c)
    preflight(c)
    say = progress or (lambda e: None)
    if plan:
        check_run_dir(Path(c.output), "categorize")
        run_dir = Path(c.output)
    else:
        run_dir = prepare_run_dir(c)
    inputs = {
        "corpus": file_sha256(c.corpus), "train": file_sha256(c.train), "test": file_sha256(c.test),
        "dev": file_sha256(c.dev) if c.dev else None,
    }
    baseline_epochs = c.baseline_epochs or _baseline_default_epochs()
    # assess, data, then (adapt, and per seed baseline/direct/mlm) and the same again with transliteration
    n_translit_guess = 0 if c.translit == "none" else 1
    total = 2 + 1 + 3 * c.seeds + n_translit_guess * (1 + 2 * c.seeds)
    stages = StageRunner(run_dir, total, say, dry=plan)

    # 1. assess ---------------------------------------------------------------------------------------------------
    def do_assess(directory: Path) -> dict[str, Any]:
        from adaptlang.assess import assess_corpus

        report = assess_corpus(
            c.corpus, model=c.model, lang=c.lang,
            translit="auto" if c.translit in ("auto", "none", "latin") else c.translit,
        )
        data = report.to_dict()
        write_json_atomic(directory / "assess.json", data)
        return data

    assess = stages.run("assess", {"corpus": inputs["corpus"], "model": c.model, "lang": c.lang,
                                   "translit": c.translit}, do_assess)
    if assess is None:  # plan mode, assess pending
        scheme, scheme_reason = (c.translit, f"{c.translit} (asked with --translit)") \
            if c.translit not in ("auto", "none", "latin") else (None, "decided by the assess stage (pending)")
    else:
        scheme, scheme_reason = choose_translit(c.translit, assess, c.lang)
    if scheme is None:
        stages.total -= n_translit_guess * (1 + 2 * c.seeds)
    say(Event("note", message=f"transliteration: {scheme_reason}"))

    # 2. data -----------------------------------------------------------------------------------------------------
    def do_data(directory: Path) -> dict[str, Any]:
        from adaptlang.data.conllu import read_conllu, write_conllu

        sents = read_conllu(c.train, require_tree=True)
        n_total = len(sents)
        if c.max_train_sentences is not None and c.max_train_sentences < n_total:
            sents = sents[: c.max_train_sentences]
            write_conllu(directory / "train.conllu", sents)
            cut = str(directory / "train.conllu")
        else:
            cut = None
        test = read_conllu(c.test, require_tree=True)
        return {"train_cut": cut, "n_train_sentences": len(sents), "n_train_sentences_total": n_total,
                "n_train_words": sum(s.n_words for s in sents), "n_test_sentences": len(test),
                "n_test_words": sum(s.n_words for s in test)}

    data = stages.run("data", {"train": inputs["train"], "test": inputs["test"], "max": c.max_train_sentences},
                      do_data)
    train_path = (data or {}).get("train_cut") or c.train

    # 3. adaptation -----------------------------------------------------------------------------------------------
    def adapt_stage(translit: str | None) -> str:
        """Run (or reuse) one adaptation; return the adapted model's directory."""
        def do_adapt(directory: Path) -> dict[str, Any]:
            from adaptlang.adapt import AdaptConfig, adapt_model
            from adaptlang.adapt import Interrupted as AdaptInterrupted

            def on_event(e: Any) -> None:
                if getattr(e, "kind", "") == "step":
                    say(Event("step", "adapt", done=e.step, of=e.total))

            try:
                result = adapt_model(AdaptConfig(
                    corpus=c.corpus, model=c.model, output=str(directory / "model"), method=c.adapt_method,
                    translit=translit, lang=c.lang, steps=c.adapt_steps, batch_size=min(c.batch_size, 16),
                    max_seq_len=c.max_seq_len, seed=0, resume=True, **c.adapt_options,
                ), on_event)
            except AdaptInterrupted:  # adapt saved a checkpoint; its own hint (--resume) does not apply here
                raise Interrupted(f"interrupted during MLM adaptation (checkpoint saved); {RESUME_HINT}") from None
            return {"model": str(directory / "model"), "result": result.to_dict()}

        name = "adapt" if translit is None else "adapt+translit"
        config = {"corpus": inputs["corpus"], "model": c.model, "method": c.adapt_method, "translit": translit,
                  "steps": c.adapt_steps, "lang": c.lang, "max_seq_len": c.max_seq_len,
                  "batch_size": min(c.batch_size, 16), "options": c.adapt_options}
        adaptations[translit] = stages.run(name, config, do_adapt)
        return str(stages.directory(name, config) / "model")

    adaptations: dict[str | None, Any] = {}
    adapted = {None: adapt_stage(None)}
    if scheme is not None:
        adapted[scheme] = adapt_stage(scheme)

    # 4. fine-tuning runs -----------------------------------------------------------------------------------------
    def model_stage(variant: str, seed: int) -> dict[str, Any]:
        translit = scheme if variant.endswith("+translit") else None
        if variant == "baseline":
            encoder: dict[str, Any] = {"kind": "bilstm", "corpus": inputs["corpus"] if c.baseline_corpus else None}
            epochs = baseline_epochs
        elif variant.startswith("direct"):
            encoder = {"kind": "transformer", "model": c.model, "translit": translit}
            epochs = c.epochs
        else:
            encoder = {"kind": "transformer", "model": adapted[translit]}
            epochs = c.epochs
        stage_config = {"variant": variant, "seed": seed, "encoder": encoder, "epochs": epochs,
                        "train": inputs["train"], "max_train": c.max_train_sentences, "dev": inputs["dev"],
                        "test": inputs["test"], "batch_size": c.batch_size, "max_minutes": c.max_minutes}

        def do_run(directory: Path) -> dict[str, Any]:
            model_dir = directory / "model"
            if not (model_dir / "train.json").is_file():
                train_one(variant, encoder, train_path, c.dev, str(model_dir), seed, epochs, c, say)
            return evaluate_one(str(model_dir), c.test, directory / "test.pred.conllu", c)

        return stages.run(f"{variant} seed {seed}", stage_config, do_run)

    runs: dict[str, list[dict[str, Any]]] = {}
    variants = ["baseline", "direct", "mlm"] + (["direct+translit", "mlm+translit"] if scheme else [])
    for seed in range(1, c.seeds + 1):
        for variant in variants:
            runs.setdefault(variant, []).append(model_stage(variant, seed))

    if plan:
        return CategorizeResult(str(run_dir), {
            "kind": "categorize-plan", "translit": {"scheme": scheme, "reason": scheme_reason},
            "stages": [r.to_dict() for r in stages.records],
        }, tuple(stages.records))

    # 5. verdict and report ---------------------------------------------------------------------------------------
    report = build_results(c, assess, scheme, scheme_reason, data, adaptations, runs, stages.records)
    from adaptlang.report import write_categorize_report

    report["files"] = write_categorize_report(run_dir, report)
    return CategorizeResult(str(run_dir), report, tuple(stages.records))


def choose_translit(choice: str, assess: dict[str, Any], lang: str | None = None) -> tuple[str | None, str]:
    """The transliteration scheme of the translit variants (or None) and why. ``choice``: ``auto`` (the scheme of
    assess's what-if when it helps the tokenizer), ``none``, ``latin`` (the best scheme to Latin script for the
    corpus's script and language), or a scheme name."""
    if choice == "none":
        return None, "not requested (--translit none)"
    if choice == "latin":
        from adaptlang.translit import pick_scheme

        script = (assess.get("scripts") or {}).get("dominant_script")
        picked = pick_scheme(script, lang, "Latn")
        if picked is None:
            return None, f"not run: the corpus is already in Latin script ({script})"
        return picked, f"{picked} (--translit latin, for {script} script)"
    if choice != "auto":
        return choice, f"{choice} (asked with --translit)"
    what_if = assess.get("translit") or {}
    scheme = what_if.get("scheme")
    if scheme and what_if.get("helps"):
        return scheme, f"{scheme} (assess: the tokenizer does better on the transliterated sample)"
    if scheme:
        return None, f"not run: assess found {scheme} but it does not help the tokenizer"
    return None, f"not run: assess needs none ({what_if.get('note') or what_if.get('status') or 'no scheme'})"


def _baseline_default_epochs() -> int:
    from adaptlang.baseline import BaselineConfig

    return int(BaselineConfig.__dataclass_fields__["epochs"].default)


def train_one(variant: str, encoder: dict[str, Any], train: str, dev: str | None, out: str, seed: int, epochs: int,
              c: CategorizeConfig, say: Progress) -> None:
    """Train one tagger-parser (resuming an interrupted one) through the owning component's entry point."""
    from adaptlang.tasks import TrainConfig

    callbacks = _FitProgress(say, variant)
    if variant == "baseline":
        from adaptlang.baseline import BaselineConfig, train_baseline

        train_baseline(BaselineConfig(train=train, dev=dev, out=out, epochs=epochs, seed=seed, device=c.device,
                                      corpus=c.corpus if c.baseline_corpus else None, max_minutes=c.max_minutes,
                                      resume=True), callbacks)
        return
    from adaptlang.tasks import train_parser

    train_parser(TrainConfig(train=train, dev=dev, out=out, encoder=encoder, epochs=epochs, seed=seed,
                             batch_size=c.batch_size, device=c.device, max_minutes=c.max_minutes, resume=True),
                 callbacks)


class _FitProgress:
    """Adapts the training loop's callbacks to categorize's progress events."""

    def __init__(self, say: Progress, stage: str):
        self.say, self.stage = say, stage
        self.steps_per_epoch, self.n_epochs = 1, 1

    def on_start(self, n_epochs: int, steps_per_epoch: int, start_epoch: int) -> None:
        self.n_epochs, self.steps_per_epoch = n_epochs, max(1, steps_per_epoch)
        self.say(Event("step", self.stage, done=start_epoch * self.steps_per_epoch, of=n_epochs * self.steps_per_epoch))

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        done = (epoch - 1) * self.steps_per_epoch + step
        self.say(Event("step", self.stage, done=done, of=self.n_epochs * self.steps_per_epoch))

    def on_epoch(self, record: Any) -> None:
        pass


def evaluate_one(model_dir: str, test: str, pred_path: Path, c: CategorizeConfig) -> dict[str, Any]:
    """Scores of one model on the test set, with the per-sentence counts the bootstrap needs."""
    from adaptlang.data.conllu import read_conllu
    from adaptlang.evaluate import sentence_counts
    from adaptlang.tasks import evaluate_model

    result = evaluate_model(model_dir, test, n_bootstrap=0, device=c.device, predictions_out=str(pred_path),
                            force=True)
    counts = sentence_counts(read_conllu(test, require_tree=True), read_conllu(pred_path), test, str(pred_path))
    train_info = json.loads((Path(model_dir) / "train.json").read_text(encoding="utf-8"))
    return {
        "model": model_dir,
        "scores": {k: getattr(result.scores, k) for k in ("upos", "uas", "las")},
        "counts": counts.tolist(),  # [n_sentences, 4]: words, upos, uas, las correct
        "train_seconds": train_info.get("train_seconds"),
        "best_epoch": train_info.get("best_epoch"),
        "epochs_run": train_info.get("epochs_run"),
        "dev": train_info.get("dev"),
    }


# ---------------------------------------------------------------------------------------------------------------
# From measured runs to the verdict


def build_results(
    c: CategorizeConfig,
    assess: dict[str, Any],
    scheme: str | None,
    scheme_reason: str,
    data: dict[str, Any],
    adapted: dict[str | None, dict[str, Any]],
    runs: dict[str, list[dict[str, Any]]],
    records: Sequence[StageRecord],
) -> dict[str, Any]:
    """Everything results.json holds: per-variant mean ± sd, differences with intervals, the verdicts."""
    from adaptlang.stats import mean_sd, overall_verdict, paired_bootstrap_diff, task_verdict

    counts = {v: np.array([r["counts"] for r in rs], dtype=np.int64) for v, rs in runs.items()}  # [seeds, n, 4]
    words = counts["baseline"][0, :, 0]
    for v, arr in counts.items():
        if not np.array_equal(arr[:, :, 0], np.broadcast_to(words, arr[:, :, 0].shape)):
            raise InputError(c.test, f"runs of {v} were scored on a different test set; rerun with --force")

    variants: dict[str, Any] = {}
    for v, rs in runs.items():
        variants[v] = {
            "seeds": len(rs),
            **{m: mean_sd([r["scores"][m] for r in rs]).to_dict() for m in METRIC_COLUMNS},
            "train_seconds": mean_sd([r["train_seconds"] or 0.0 for r in rs]).to_dict(),
            "runs": [{k: r[k] for k in ("model", "scores", "train_seconds", "best_epoch", "epochs_run")} for r in rs],
        }

    cache: dict[tuple[str, str, str], Any] = {}

    def diff(a: str, b: str, task: str) -> Any:
        """One interval per (a, b, task), the same wherever it is shown; its bootstrap seed derives from the names."""
        if (a, b, task) not in cache:
            col = TASKS[task]
            seed = int(config_key({"a": a, "b": b, "task": task}), 16)
            cache[a, b, task] = paired_bootstrap_diff(counts[a][:, :, col], counts[b][:, :, col], words, a=a, b=b,
                                                      n_bootstrap=c.n_bootstrap, level=c.level, seed=seed)
        return cache[a, b, task]

    mlm_variants = [v for v in ("mlm", "mlm+translit") if v in runs]
    verdicts = []
    differences: dict[str, dict[str, Any]] = {}
    translit_gain: dict[str, dict[str, Any]] = {}
    for task, col in TASKS.items():
        best_mlm = max(mlm_variants, key=lambda v: (counts[v][:, :, col].sum(axis=1).mean(), -mlm_variants.index(v)))
        verdicts.append(task_verdict(task, diff("direct", "baseline", task), diff(best_mlm, "baseline", task)))
        differences[task] = {f"{v} - baseline": diff(v, "baseline", task).to_dict() for v in runs if v != "baseline"}
        differences[task]["mlm - direct"] = diff("mlm", "direct", task).to_dict()
        differences[task]["best adapted"] = best_mlm
        if scheme:
            translit_gain[task] = {
                "direct+translit - direct": diff("direct+translit", "direct", task).to_dict(),
                "mlm+translit - mlm": diff("mlm+translit", "mlm", task).to_dict(),
            }
    overall = overall_verdict(verdicts)
    prediction = assess.get("prediction") or {}
    # A run whose best dev epoch is its last was still improving when its budget ended.
    at_last = {v: sum(1 for r in rs if r.get("best_epoch") and r["best_epoch"] == r.get("epochs_run")) for v, rs in runs.items()}
    budget = {
        "best_epoch_is_last": {v: {"runs": n, "of": len(runs[v])} for v, n in at_last.items()},
        "still_improving": [v for v, n in at_last.items() if 2 * n > len(runs[v])],
    }
    predicted = prediction.get("category")
    return {
        "kind": "categorize",
        "config": c.to_dict(),
        "data": data,
        "translit": {"scheme": scheme, "reason": scheme_reason},
        "assess": {
            "prediction": prediction,
            "tokenizer": assess.get("tokenizer"),
            "translit_what_if": assess.get("translit"),
            "scripts": assess.get("scripts"),
            "language": assess.get("language"),
        },
        "adaptation": {("none" if k is None else k): v["result"] for k, v in adapted.items()},
        "variants": variants,
        "differences": differences,
        "translit_gain": translit_gain,
        "verdict": overall.to_dict(),
        "budget": budget,
        "prediction_vs_measured": {
            "predicted": predicted, "measured": overall.category,
            "agree": predicted == overall.category if predicted else None,
        },
        "stages": [r.to_dict() for r in records],
        "statistics": {
            "ci_level": c.level, "n_bootstrap": c.n_bootstrap,
            "method": "paired bootstrap over test sentences, seeds of each variant resampled too; percentile "
                      "interval of the difference of seed-averaged micro accuracies",
            "beats": "a variant beats another when its mean score is higher; 'within noise' when the interval of "
                     "the difference covers 0",
            "adaptation_runs": "one MLM adaptation per transliteration setting (seed 0); the seeds vary the "
                               "fine-tuning runs",
        },
    }
