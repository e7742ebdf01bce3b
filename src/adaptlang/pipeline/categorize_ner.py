"""``categorize --task ner`` (or ``both``): the study's verdict for named-entity recognition.

The NER stages of a categorize run, next to the parser's (:mod:`adaptlang.pipeline.categorize`), sharing its assess
stage and its MLM adaptations (one adapted model serves both tasks):

1. ``ner data``: the NER training file cut to ``max_train_sentences`` (when asked);
2. for each seed and variant: ``ner baseline`` (the from-scratch character + word BiLSTM-CRF, with the parser
   baseline's settings), ``ner direct`` (the model fine-tuned with the CRF tagging head), ``ner mlm`` (the adapted
   model fine-tuned), and the transliterated variants when the run has them; each is
   :func:`adaptlang.runs.ner.train_and_score_ner`, keeping per-sentence entity counts (correct, predicted, gold);
3. the NER verdict: the parser's rule (:func:`adaptlang.stats.task_verdict`) on paired bootstrap differences of entity
   F1 (:func:`adaptlang.stats.paired_bootstrap_f1_diff`: F1 recomputed from each sample's summed counts, seeds
   resampled too); with ``both`` the overall verdict is the hardest of UPOS, LAS and NER.

Files: the treebank stays ``--train/--dev/--test`` (CoNLL-U) and the NER files are ``--ner-train/--ner-dev/--ner-test``
(CoNLL-2003 style, or CoNLL-U with MISC ``NE=`` when named ``*.conllu``): with ``both`` a run needs the two sets, in
two formats, and an option keeps one meaning whatever the task.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from adaptlang.errors import InputError, UsageError
from adaptlang.events import Progress
from adaptlang.pipeline.results import MLM_VARIANTS, CategorizeResult, RunResult, TaskComparison, unconverged_variants
from adaptlang.runs import (ScoredRun, StageOutput, StageRecord, StageRunner, config_key, file_sha256,
                            training_settings)
from adaptlang.runs.ner import cut_ner, read_ner_file, train_and_score_ner
from adaptlang.stats import Difference, MeanSd, TaskVerdict
from adaptlang.translit.choice import Resolved

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.pipeline.categorize import CategorizeConfig

TASK_CHOICES = ("parse", "ner", "both")
NER_VARIANTS = ("baseline", "direct", "mlm", "direct+translit", "mlm+translit")
NER_STATISTICS = ("paired bootstrap over test sentences, seeds of each variant resampled too; each sample's entity F1 "
                  "is recomputed from its summed counts (correct, predicted, gold entities), never averaged over "
                  "sentences; percentile interval of the difference of seed-averaged F1")


def has_parse(c: "CategorizeConfig") -> bool:
    return getattr(c, "task", "parse") in ("parse", "both")


def has_ner(c: "CategorizeConfig") -> bool:
    return getattr(c, "task", "parse") in ("ner", "both")


def check_task_options(c: "CategorizeConfig") -> None:
    """``--task`` and the files each task needs (one line naming the option and what to give)."""
    if c.task not in TASK_CHOICES:
        raise UsageError(f"--task must be one of {', '.join(TASK_CHOICES)}, not {c.task!r}")
    ner_files = {"--ner-train": c.ner_train, "--ner-dev": c.ner_dev, "--ner-test": c.ner_test}
    if has_parse(c) and (c.train is None or c.test is None):
        raise UsageError(f"--task {c.task} needs --train and --test (CoNLL-U treebanks)")
    if not has_parse(c) and any(p is not None for p in (c.train, c.dev, c.test)):
        raise UsageError("--train/--dev/--test are the treebank of --task parse or both; with --task ner give the NER "
                         "files as --ner-train/--ner-dev/--ner-test")
    if has_ner(c) and (c.ner_train is None or c.ner_test is None):
        raise UsageError(f"--task {c.task} needs --ner-train and --ner-test (CoNLL-2003-style NER files)")
    if not has_ner(c):
        given = [o for o, p in ner_files.items() if p is not None] + (["--lenient"] if c.lenient else [])
        if given:
            raise UsageError(f"{', '.join(given)}: for --task ner or both (this run is --task {c.task})")
    for option, path in ner_files.items():
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{option} {path}: no such file")


@dataclass(frozen=True)
class NERInputs:
    """Content fingerprints of the NER files (the stage keys are taken over them, never over their paths)."""

    train: str
    test: str
    dev: str | None


def check_ner_inputs(c: "CategorizeConfig") -> NERInputs | None:
    """Read every NER file once (a malformed tag fails now, naming its file and line); their fingerprints."""
    if not has_ner(c):
        return None
    for path in (c.ner_train, c.ner_dev, c.ner_test):
        if path is not None:
            read_ner_file(path, c.lenient)
    return NERInputs(file_sha256(c.ner_train), file_sha256(c.ner_test),  # type: ignore[arg-type]
                     file_sha256(c.ner_dev) if c.ner_dev else None)


def ner_variants(variants: Sequence[str]) -> list[str]:
    """The NER variants of a run whose parser variants are ``variants`` (those NER has)."""
    return [v for v in variants if v in NER_VARIANTS]


def ner_stage_count(c: "CategorizeConfig", variants: Sequence[str]) -> int:
    return 1 + c.seeds * len(ner_variants(variants)) if has_ner(c) else 0


# ---------------------------------------------------------------------------------------------------------------
# Stages


def ner_data_stage(stages: StageRunner, c: "CategorizeConfig", inputs: NERInputs) -> StageOutput:
    return stages.run("ner data", {"task": "ner", "train": inputs.train, "test": inputs.test,
                                   "max": c.max_train_sentences, "lenient": c.lenient},
                      lambda directory, _: cut_ner(directory, c.ner_train, c.max_train_sentences,  # type: ignore
                                                   c.ner_test, c.lenient))


def submit_ner_runs(stages: StageRunner, c: "CategorizeConfig", inputs: Any, data: StageOutput,
                    adapted: Mapping[str | None, StageOutput], scheme: str | None,
                    variants: Sequence[str]) -> dict[str, list[StageOutput]]:
    """Queue every NER run (``inputs``: the run's fingerprints, with the NER files' as ``inputs.ner``)."""
    return {v: [_ner_model_stage(stages, c, inputs, data, adapted, scheme, v, seed) for seed in range(1, c.seeds + 1)]
            for v in ner_variants(variants)}


def _ner_model_stage(stages: StageRunner, c: "CategorizeConfig", inputs: Any, data: StageOutput,
                     adapted: Mapping[str | None, StageOutput], scheme: str | None, variant: str,
                     seed: int) -> StageOutput:
    translit = scheme if variant.endswith("+translit") else None
    if variant == "baseline":
        encoder_key: dict[str, Any] = {"kind": "bilstm-crf", "corpus": inputs.corpus if c.baseline_corpus else None}
    elif variant.startswith("direct"):
        encoder_key = {"kind": "transformer", "model": inputs.model, "translit": translit}
    else:
        encoder_key = {"kind": "transformer", "adapted": adapted[translit].key}
    epochs = c.run_epochs(variant, "ner")
    if c.mode == "features" and variant != "baseline":
        encoder_key = {**encoder_key, "mode": "features", "corpus": inputs.corpus if c.baseline_corpus else None}
    cut = (data.result or {}).get("train_cut")
    train = str(data.directory / cut) if cut else c.ner_train
    after = (adapted[translit],) if variant.startswith("mlm") else ()
    adapted_model = str(adapted[translit].directory / "model") if variant.startswith("mlm") else None
    settings = training_settings(ner_trainer(c, variant, translit, adapted_model, train, seed, "")[0])
    return stages.submit(f"ner {variant} seed {seed}", {
        "task": "ner", "variant": variant, "seed": seed, "encoder": encoder_key, "epochs": epochs, "data": data.key,
        "dev": inputs.ner.dev, "test": inputs.ner.test, "batch_size": c.batch_size, "max_minutes": c.max_minutes,
        "lenient": c.lenient, "settings": settings},
        functools.partial(_ner_train_and_score, c, variant, translit, adapted_model, train, seed), after=after)


def _ner_train_and_score(c: "CategorizeConfig", variant: str, translit: str | None, adapted_model: str | None,
                         train: str, seed: int, directory: Path, progress: Progress) -> dict[str, Any]:
    """An NER stage's job (module level: it runs in a worker process with ``jobs`` > 1)."""
    config, baseline = ner_trainer(c, variant, translit, adapted_model, train, seed, str(directory / "model"))
    return train_and_score_ner(config, [c.ner_test], progress, c.batch_size,  # type: ignore[list-item]
                               baseline=baseline).to_dict()


def ner_trainer(c: "CategorizeConfig", variant: str, translit: str | None, adapted_model: str | None, train: str,
                seed: int, out: str) -> tuple[Any, Any]:
    """The NER training configuration of one run, and the BiLSTM settings when it is the BiLSTM-CRF (the baseline,
    or any variant in ``features`` mode)."""
    from adaptlang.baseline import BaselineConfig
    from adaptlang.runs.ner import ner_format
    from adaptlang.tasks.ner import NERConfig, baseline_ner_config

    if c.is_bilstm(variant):
        epochs = {"epochs": c.run_epochs(variant, "ner")}
        features = {} if variant == "baseline" else {
            "embeddings": adapted_model or c.model, "embedding_translit": translit if adapted_model is None else None}
        b = BaselineConfig(train=train, dev=c.ner_dev, out=out, seed=seed, device=c.device,
                           corpus=c.corpus if c.baseline_corpus else None, max_minutes=c.max_minutes, resume=True,
                           cpu_bf16=c.cpu_bf16, **epochs, **features)
        return baseline_ner_config(b, data_format=ner_format(train), lenient=c.lenient), b
    if variant.startswith("direct"):
        encoder: dict[str, Any] = {"kind": "transformer", "model": c.model, "translit": translit}
    else:
        encoder = {"kind": "transformer", "model": adapted_model}
    return NERConfig(train=train, dev=c.ner_dev, out=out, encoder=encoder, data_format=ner_format(train),
                     lenient=c.lenient, epochs=c.epochs, batch_size=c.batch_size, seed=seed, device=c.device,
                     max_minutes=c.max_minutes, resume=True, cpu_bf16=c.cpu_bf16), None


@dataclass(frozen=True)
class NERMeasured:
    """What the NER stages measured (``None`` parts: pending in a plan)."""

    data: dict[str, Any] | None
    runs: dict[str, list[RunResult | None]]


def collect_ner(data: StageOutput, submitted: Mapping[str, Sequence[StageOutput]],
                result: Callable[[StageOutput], dict[str, Any] | None]) -> NERMeasured:
    """The finished NER runs (``result``: a stage's result, from the runner once the queue has run)."""
    runs: dict[str, list[RunResult | None]] = {
        v: [None if result(out) is None else RunResult.of(str(out.directory / "model"),
                                                          ScoredRun.from_dict(result(out)))  # type: ignore[arg-type]
            for out in outs] for v, outs in submitted.items()}
    return NERMeasured(data.result, runs)


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class NERVariantResult:
    f1: MeanSd
    precision: MeanSd
    recall: MeanSd
    train_seconds: MeanSd
    runs: tuple[RunResult, ...]

    @classmethod
    def of(cls, runs: Sequence[RunResult]) -> "NERVariantResult":
        from adaptlang.stats import mean_sd

        return cls(*(mean_sd([r.scores[m] for r in runs]) for m in ("f1", "precision", "recall")),
                   mean_sd([r.train.train_seconds or 0.0 for r in runs]), tuple(runs))

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": len(self.runs), "f1": self.f1.to_dict(), "precision": self.precision.to_dict(),
                "recall": self.recall.to_dict(), "train_seconds": self.train_seconds.to_dict(),
                "runs": [r.to_dict() for r in self.runs]}


@dataclass(frozen=True)
class NERResult:
    """The NER part of a categorize result: data sizes, scores per variant, differences and the NER verdict."""

    data: dict[str, Any]
    variants: dict[str, NERVariantResult]
    comparison: TaskComparison
    verdict: TaskVerdict | None  # None: a subset of the variants without baseline, direct or mlm (no verdict)
    unconverged: dict[str, str]
    missing: tuple[str, ...] = ()  # the variants the verdict needs that were not run

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "variants": {v: r.to_dict() for v, r in self.variants.items()},
                "still_improving": self.unconverged, "statistics": NER_STATISTICS}


class _NERComparisons:
    """Paired bootstrap differences of entity F1 between variants (counts [seeds, sentences, 3] per variant)."""

    def __init__(self, counts: Mapping[str, np.ndarray], n_bootstrap: int, level: float):
        self.counts, self.n_bootstrap, self.level = counts, n_bootstrap, level

    def diff(self, a: str, b: str) -> Difference:
        from adaptlang.stats import paired_bootstrap_f1_diff

        seed = int(config_key({"a": a, "b": b, "task": "ner"}), 16)
        return paired_bootstrap_f1_diff(self.counts[a], self.counts[b], a=a, b=b, n_bootstrap=self.n_bootstrap,
                                        level=self.level, seed=seed)

    def comparison(self, scheme: str | None) -> TaskComparison:
        from adaptlang.stats import best_f1_of

        names = list(self.counts)
        adapted = {v: self.counts[v] for v in MLM_VARIANTS if v in self.counts}
        best = best_f1_of(adapted) if adapted else ""  # "": no MLM-adapted variant was run
        differences = {f"{v} - baseline": self.diff(v, "baseline") for v in names
                       if v != "baseline" and "baseline" in names}
        if "mlm" in names and "direct" in names:
            differences["mlm - direct"] = self.diff("mlm", "direct")
        gain = {f"{a} - {b}": self.diff(a, b) for a, b in (("direct+translit", "direct"), ("mlm+translit", "mlm"))
                if scheme and a in names and b in names}
        return TaskComparison(differences, best, gain)


def build_ner_results(c: "CategorizeConfig", measured: NERMeasured, scheme: str | None,
                      adaptation: Mapping[str, Any] | None = None) -> NERResult:
    """Means over seeds, F1 differences with intervals, and the NER verdict (none without ``baseline``, ``direct``
    and ``mlm``: a subset of the variants)."""
    from adaptlang.stats import task_verdict

    runs = {v: [r for r in rs if r is not None] for v, rs in measured.runs.items()}
    counts = {v: np.array([r.counts for r in rs], dtype=np.int64) for v, rs in runs.items()}  # [seeds, n, 3]
    gold = next(iter(counts.values()))[0, :, 2]
    for v, arr in counts.items():
        if arr.shape[1] != len(gold) or not (arr[:, :, 2] == gold[None, :]).all():
            raise InputError(c.ner_test or "", f"NER runs of {v} were scored on a different test file; rerun with "
                                               "--force")
    compare = _NERComparisons(counts, c.n_bootstrap, c.level)
    comparison = compare.comparison(scheme)
    variants = {v: NERVariantResult.of(rs) for v, rs in runs.items()}
    unconverged = {v: f"in the NER runs, {need}"
                   for v, need in unconverged_variants(c, variants, adaptation, task="ner").items()}  # type: ignore
    missing = tuple(v for v in ("baseline", "direct", "mlm") if v not in runs)
    verdict = None if missing else task_verdict("ner", compare.diff("direct", "baseline"),
                                                compare.diff(comparison.best_adapted, "baseline"), unconverged)
    return NERResult(measured.data or {}, variants, comparison, verdict, unconverged, missing)


def with_ner(parse: CategorizeResult | None, ner: NERResult, c: "CategorizeConfig", assess: dict[str, Any],
             translit: Resolved, adaptation: dict[str, dict[str, Any]], stages: Sequence[StageRecord],
             run_dir: str) -> CategorizeResult:
    """The categorize result with the NER task: its verdict joins the parser's (the hardest task sets the overall
    category), or stands alone with ``--task ner``."""
    from adaptlang.stats import overall_verdict

    verdicts = [*(parse.verdict.per_task if parse else ()), *([ner.verdict] if ner.verdict else [])]
    if ner.verdict is None or (parse is not None and not parse.verdict.per_task):  # a subset of the variants
        from adaptlang.stats import incomplete_verdict

        verdict = incomplete_verdict(ner.missing or parse.verdict.missing)  # type: ignore[union-attr]
    else:
        verdict = overall_verdict(verdicts)
    if parse is None:
        return CategorizeResult(run_dir, c, {}, translit, assess, adaptation, {}, {"ner": ner.comparison}, verdict,
                                tuple(stages), ner=ner)
    return dataclasses.replace(parse, tasks={**parse.tasks, "ner": ner.comparison}, verdict=verdict, ner=ner)
