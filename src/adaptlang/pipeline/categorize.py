"""``categorize``: measure whether a language is easy, intermediate or hard for a pretrained multilingual model.

Stages (each one's output under ``RUN/stages/<name>-<key>/``, keyed by content: see :mod:`adaptlang.runs`), so
that a rerun skips every finished stage and an interrupted run resumes where it stopped:

1. ``assess``: tokenizer and script profile of the corpus, the predicted category, the transliteration what-if;
   it decides whether the transliterated variants run;
2. ``data``: the training treebank cut to ``max_train_sentences`` (when asked);
3. ``adapt`` (and ``adapt+translit``): MLM adaptation of the model on the corpus (run once, seed 0; the seeds vary
   the fine-tuning runs);
4. for each seed: ``baseline`` (BiLSTM from scratch), ``direct`` (the model fine-tuned directly), ``mlm`` (the adapted
   model fine-tuned), and with transliteration ``direct+translit`` and ``mlm+translit``; each is
   :func:`adaptlang.runs.train_and_score`, keeping the per-sentence counts for the bootstrap; with ``mode="features"``
   each pretrained variant is the baseline's run plus the frozen vectors of the model or the adapted model;
   with ``jobs`` above 1, the adaptations and these runs go to worker processes, each run as soon as what it builds
   on is done (an ``mlm`` run waits for its adaptation); the results do not depend on ``jobs``;
5. the verdict (:mod:`adaptlang.pipeline.results`) and the report (:mod:`adaptlang.report`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptlang.errors import InputError, UsageError
from adaptlang.events import Event, Progress, silent
from adaptlang.options import FRACTION
from adaptlang.pipeline.categorize_ner import (NERInputs, build_ner_results, check_ner_inputs, check_task_options,
                                               collect_ner, has_ner, has_parse, ner_data_stage, ner_stage_count,
                                               submit_ner_runs, with_ner)
from adaptlang.pipeline.results import CategorizeResult, RunResult, build_results
from adaptlang.runs import (RESUME_HINT, Interrupted, ScoredRun, StageOutput, StageRecord, StageRunner, check_run_dir,
                            cut_treebank, file_sha256, model_fingerprint, prepare_dir, train_and_score,
                            training_settings, training_treebank)
from adaptlang.translit.choice import AUTO, LATIN, SCHEME, Resolved, TranslitChoice, check_scheme, resolve_translit

VARIANTS: tuple[str, ...] = ("baseline", "direct", "mlm", "direct+translit", "mlm+translit")
# Extra variants, run when named in ``variants``: ``scratch`` (a small monolingual BERT trained from scratch on the
# corpus, then used like the model: the study's fourth system) and ``direct+donor`` (the direct variant trained with
# donor treebanks too, see adaptlang.data.donors: run whenever ``donors`` are given; compared with baseline and
# direct); shown beside the others, not in the verdict.
DONOR_VARIANT = "direct+donor"
EXTRA_VARIANTS: tuple[str, ...] = ("scratch", DONOR_VARIANT)
# How the pretrained variants use the model: "finetune" (the study's definition: the transformer is fine-tuned as
# the parser's encoder) or "features" (the baseline plus the model's frozen contextual vectors, UDPipe 2 style:
# cheap enough to train to convergence on a CPU).
MODES: tuple[str, ...] = ("finetune", "features")
KIND = "categorize"
# Epochs of each parsing BiLSTM run (the baseline; every variant in features mode) unless --baseline-epochs says
# otherwise: on Wolof-WTB (1,188 sentences) the baseline's 40 left 3 of 3 runs still improving by the convergence
# rule (test LAS 76.45 mean); 80 converged all three (77.39) and the three features-mode direct runs (77.98).
PARSE_BASELINE_EPOCHS = 80


@dataclass(frozen=True)
class CategorizeConfig:
    corpus: str  # raw text of the language, for MLM adaptation and assessment
    train: str | None  # the treebank (CoNLL-U) of the parser's tasks; None with task="ner"
    test: str | None
    model: str
    output: str
    dev: str | None = None
    lang: str | None = None  # ISO 639 code (assess, transliteration)
    seeds: int = 3
    translit: str = "auto"  # see adaptlang.translit.choice: auto, none, latin, or a scheme name
    epochs: int = 10  # fine-tuning epochs of the transformer runs
    baseline_epochs: int | None = None  # None: the baseline's own default
    baseline_corpus: bool = True  # the baseline also gets word embeddings trained on the corpus (fair: both see it)
    adapt_steps: int | None = None  # MLM adaptation steps; None: passes (adapt_epochs) to convergence
    adapt_epochs: float = 40.0  # MLM passes over the corpus at most: early stopping on held-out loss ends it first
    adapt_minutes: float | None = 60.0  # time budget of each MLM adaptation (None: none); 20 left e5-small's
    # Wolof adaptation unconverged on one CPU core (loss still falling), 60 converged (benchmarks/RESULTS.md)
    adapt_method: str = "full"
    adapt_options: dict[str, Any] = field(default_factory=dict)  # other AdaptConfig fields (library use), e.g. lr
    max_train_sentences: int | None = None
    max_minutes: float | None = None  # time budget of each fine-tuning run (the loop plans its epochs to fit)
    batch_size: int = 32
    max_seq_len: int = 128  # MLM sequence length
    n_bootstrap: int = 1000
    level: float = 0.95
    device: str = "auto"
    cpu_bf16: bool = False  # bf16 autocast on the CPU in every adaptation and training run (TrainConfig.cpu_bf16)
    force: bool = False
    mode: str = "finetune"  # see MODES
    variants: tuple[str, ...] | None = None  # a subset of VARIANTS + EXTRA_VARIANTS; None: VARIANTS (translit ones
    # when a scheme is decided)
    scratch_options: dict[str, Any] = field(default_factory=dict)  # ScratchConfig fields (layers, hidden, lr, ...)
    scratch_minutes: float | None = 15.0  # time budget of the from-scratch pretraining
    jobs: int = 1  # stages run at once (worker processes); the results do not depend on it at equal ``threads``
    threads: int | None = None  # torch threads of each stage run in a worker (None: this process's threads / jobs)
    task: str = "parse"  # parse (UPOS + LAS), ner, or both (see pipeline.categorize_ner)
    ner_train: str | None = None  # NER files (CoNLL-2003 style, or CoNLL-U with MISC NE=) with task ner or both
    ner_dev: str | None = None
    ner_test: str | None = None
    lenient: bool = False  # read malformed NER tag sequences as conlleval does instead of refusing them
    donors: tuple[str, ...] = ()  # related treebanks (CoNLL-U) of the direct+donor variant
    donor_translit: str | None = None  # their FORMs' transliteration (see adaptlang.data.donors: target, latin, ...)
    donor_temperature: float = 2.0  # treebank sampling temperature (TrainConfig.donor_temperature)
    target_share: float = 0.5  # the target's least share of an epoch (TrainConfig.target_share)

    def to_dict(self) -> dict[str, Any]:
        """The options, and the epochs each BiLSTM run got (``bilstm_epochs``: --baseline-epochs resolved per
        task)."""
        return {**dataclasses.asdict(self), "bilstm_epochs": {t: self.bilstm_epochs(t) for t in ("parse", "ner")}}

    def bilstm_epochs(self, task: str = "parse") -> int:
        """Epochs of each BiLSTM run of ``task`` (the baseline, and every variant in features mode):
        ``--baseline-epochs``, else :data:`PARSE_BASELINE_EPOCHS` for parsing and the baseline's own default for
        NER."""
        if self.baseline_epochs:
            return self.baseline_epochs
        return PARSE_BASELINE_EPOCHS if task == "parse" else _baseline_default_epochs()

    def is_bilstm(self, variant: str) -> bool:
        """Whether ``variant``'s runs are the BiLSTM (the baseline; every variant in features mode), trained for
        :meth:`bilstm_epochs`, rather than the fine-tuned model, trained for ``epochs``."""
        return variant == "baseline" or self.mode == "features"

    def run_epochs(self, variant: str, task: str = "parse") -> int:
        """The epochs each run of ``variant`` gets."""
        return self.bilstm_epochs(task) if self.is_bilstm(variant) else self.epochs


@dataclass(frozen=True)
class Inputs:
    """Content fingerprints of the inputs: what the stage keys are taken over (never their paths)."""

    corpus: str
    train: str | None
    test: str | None
    dev: str | None
    model: str
    ner: NERInputs | None = None
    donors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategorizePlan:
    """What a run would do: each stage done (reused) or pending; nothing is run or written."""

    run_dir: str
    translit: Resolved
    stages: tuple[StageRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorize-plan", "translit": self.translit.to_dict(),
                "stages": [r.to_dict() for r in self.stages]}


@dataclass(frozen=True)
class Measured:
    """What the stages measured (``None`` parts: pending in a plan)."""

    assess: dict[str, Any] | None
    translit: Resolved
    data: dict[str, Any] | None
    adaptation: dict[str, dict[str, Any] | None]
    runs: dict[str, list[RunResult | None]]
    ner: Any = None  # pipeline.categorize_ner.NERMeasured with task ner or both


# ---------------------------------------------------------------------------------------------------------------
# Entry points


def run_categorize(c: CategorizeConfig, progress: Progress | None = None) -> CategorizeResult:
    """Run (or resume) every stage of ``c`` and write RUN/results.json, RUN/report.md and the plots. Every input is
    checked before the run directory is created."""
    from adaptlang.report import write_categorize_report

    inputs = check_inputs(c)
    run_dir = prepare_dir(Path(c.output), KIND, c.to_dict(), c.force)
    stages = StageRunner(run_dir, progress, jobs=c.jobs, threads=c.threads or _worker_threads(c.jobs))
    m = run_stages(c, inputs, stages, progress or silent)
    adaptation = {("none" if k is None else k): v for k, v in m.adaptation.items()}
    result = build_results(c, m.assess or {}, m.translit, m.data or {}, adaptation, m.runs, stages.records,
                           str(run_dir)) if has_parse(c) else None
    if has_ner(c):
        ner = build_ner_results(c, m.ner, m.translit.scheme, adaptation)
        result = with_ner(result, ner, c, m.assess or {}, m.translit, adaptation, stages.records, str(run_dir))
    files = write_categorize_report(run_dir, result)
    return dataclasses.replace(result, files=tuple(files))


def plan_categorize(c: CategorizeConfig) -> CategorizePlan:
    """Which stages of ``c`` are done and which are pending; runs nothing, writes nothing. The transliterated
    variants are listed once the assess stage that decides them is done, or when asked for by name."""
    inputs = check_inputs(c)
    check_run_dir(Path(c.output), KIND)
    stages = StageRunner(Path(c.output), dry=True)
    m = run_stages(c, inputs, stages, silent)
    return CategorizePlan(c.output, m.translit, tuple(stages.records))


def run_stages(c: CategorizeConfig, inputs: Inputs, stages: StageRunner, say: Progress) -> Measured:
    """The stages of a categorize run, in order; the stage count is fixed once assess has decided the variants."""
    assess = assess_stage(stages, c, inputs).result
    translit = decide_translit(c, assess)
    say(Event("note", message=f"transliteration: {translit.reason}"))
    settings = [None] + ([translit.scheme] if translit.scheme else [])
    variants = selected_variants(c, translit.scheme)
    settings = [t for t in settings if ("mlm" if t is None else "mlm+translit") in variants]  # what an mlm run needs
    parse = has_parse(c)
    stages.expect(parse * (1 + c.seeds * len(variants)) + len(settings) + ("scratch" in variants)
                  + ner_stage_count(c, variants))
    data = data_stage(stages, c, inputs) if parse else None
    ner_data = ner_data_stage(stages, c, inputs.ner) if inputs.ner else None
    adapted = {t: adapt_stage(stages, c, inputs, t) for t in settings}
    scratch = scratch_stage(stages, c, inputs) if "scratch" in variants else None
    submitted = {v: [model_stage(stages, c, inputs, data, adapted, translit.scheme, v, seed,  # type: ignore[arg-type]
                                 scratch) for seed in range(1, c.seeds + 1)] for v in variants} if parse else {}
    ner = submit_ner_runs(stages, c, inputs, ner_data, adapted, translit.scheme, variants) if ner_data else {}
    done = stages.finish()  # the queued adaptations and runs (at once with jobs > 1)

    def result(out: StageOutput) -> dict[str, Any] | None:
        return out.result if out.result is not None else done.get(out.directory)

    runs: dict[str, list[RunResult | None]] = {
        v: [None if result(out) is None
            else RunResult.of(str(out.directory / "model"), ScoredRun.from_dict(result(out)))  # type: ignore[arg-type]
            for out in outs] for v, outs in submitted.items()}
    return Measured(assess, translit, data.result if data else None,
                    {**{t: (result(a) or {}).get("result") for t, a in adapted.items()},
                     **({"scratch": (result(scratch) or {}).get("result")} if scratch else {})}, runs,
                    collect_ner(ner_data, ner, result) if ner_data else None)


def _worker_threads(jobs: int) -> int:
    """Torch threads of each worker process when ``threads`` is not given: torch's default (the cores) split
    between the jobs. Float sums depend on the thread count: results are identical across ``jobs`` only at equal
    threads per stage."""
    import torch

    return max(1, torch.get_num_threads() // max(1, jobs))


# ---------------------------------------------------------------------------------------------------------------
# Checks (all before the run directory exists)


def check_inputs(c: CategorizeConfig) -> Inputs:
    """Check the options and read every input once, so that bad input fails in seconds with one line (and leaves
    no run directory behind); return the inputs' fingerprints."""
    check_config(c)
    _check_corpus(c.corpus)
    from adaptlang.data.conllu import read_conllu

    for option, path in (("--train", c.train), ("--dev", c.dev), ("--test", c.test)):
        if path is not None and not read_conllu(path, require_tree=True):
            raise InputError(path, f"no sentences ({option}); give a CoNLL-U treebank")
    return Inputs(corpus=file_sha256(c.corpus), train=file_sha256(c.train) if c.train else None,
                  test=file_sha256(c.test) if c.test else None, dev=file_sha256(c.dev) if c.dev else None,
                  model=model_fingerprint(c.model), ner=check_ner_inputs(c), donors=_check_donors(c))


def _check_donors(c: CategorizeConfig) -> tuple[str, ...]:
    """Read the donor treebanks as the direct+donor runs will (transliterated with ``donor_translit``), so that a
    bad donor or scheme fails now; return their SHA-256 fingerprints."""
    if not c.donors:
        return ()
    from types import SimpleNamespace

    from adaptlang.data.conllu import read_conllu
    from adaptlang.data.donors import read_training_data

    target = read_conllu(c.train, require_tree=True)  # type: ignore[arg-type]
    view = SimpleNamespace(train=c.train, dev=c.dev, donors=c.donors, donor_translit=c.donor_translit,
                           target_sentences=None, donor_schedule="mixed")
    read_training_data(view, lambda _: (target, [], str(c.train)))
    return tuple(file_sha256(d) for d in c.donors)


def _check_corpus(path: str) -> None:
    """The corpus is UTF-8 text with at least one non-blank line (a binary file fails here, with its name)."""
    from adaptlang.data.text import iter_lines

    has_text = False
    for line in iter_lines(path):  # to the end: invalid UTF-8 deep in the file fails now, not hours later
        has_text = has_text or bool(line.strip())
    if not has_text:
        raise InputError(path, "no text (--corpus); give raw text of the language, one sentence or paragraph a line")


def check_config(c: CategorizeConfig) -> None:
    check_task_options(c)
    if c.mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {c.mode!r}")
    if c.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if c.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if c.threads is not None and c.threads < 1:
        raise UsageError("--threads must be at least 1")
    if c.epochs < 1 or (c.baseline_epochs is not None and c.baseline_epochs < 1):
        raise UsageError("--epochs and --baseline-epochs must be at least 1")
    if c.adapt_steps is not None and c.adapt_steps < 1:
        raise UsageError("--adapt-steps must be at least 1")
    if not c.adapt_epochs > 0 or (c.adapt_minutes is not None and not c.adapt_minutes > 0) or (
            c.scratch_minutes is not None and not c.scratch_minutes > 0):
        raise UsageError("--adapt-epochs, --adapt-minutes and --scratch-minutes must be positive")
    check_variants(c.variants)
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
    _check_adapt_options(c.adapt_options)
    _check_donor_options(c)
    choice = TranslitChoice.parse(c.translit)
    if choice.kind == SCHEME and choice.scheme:
        check_scheme(choice.scheme, c.lang)  # an unknown scheme fails now, listing the valid ones
    for option, path in (("--corpus", c.corpus), ("--train", c.train), ("--test", c.test), ("--dev", c.dev)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{option} {path}: no such file")


ADAPT_RESERVED = {"corpus", "model", "output", "method", "translit", "lang", "steps", "batch_size", "max_seq_len",
                  "seed", "resume", "force", "epochs", "max_minutes", "from_scratch"}


def check_variants(variants: tuple[str, ...] | None) -> None:
    """``variants`` names known variants, each once (an unknown one fails listing the valid ones)."""
    if variants is None:
        return
    valid = VARIANTS + EXTRA_VARIANTS
    unknown = [v for v in variants if v not in valid]
    if unknown or not variants or len(set(variants)) != len(variants):
        what = f"unknown {', '.join(repr(v) for v in unknown)}" if unknown else "empty or repeated names"
        raise UsageError(f"--variants: {what}; valid: {', '.join(valid)}")


def _check_donor_options(c: CategorizeConfig) -> None:
    """``donors`` (parser task only) make the direct+donor variant, which needs them."""
    if c.donors and not has_parse(c):
        raise UsageError("--donor needs --task parse or both: the donors are treebanks for the parser")
    if not c.donors and DONOR_VARIANT in (c.variants or ()):
        raise UsageError(f"--variants {DONOR_VARIANT} needs --donor treebanks")
    if not c.donor_temperature > 0:
        raise UsageError("donor_temperature must be positive")
    FRACTION.check("target_share", c.target_share)  # the rule of train's --target-share
    for path in c.donors:
        if not Path(path).is_file():
            raise UsageError(f"--donor {path}: no such file")


def selected_variants(c: CategorizeConfig, scheme: str | None) -> list[str]:
    """The variants run, in a fixed order: ``c.variants`` (or VARIANTS), the transliterated ones only when a
    scheme was decided, and direct+donor whenever there are ``donors``."""
    asked = (c.variants if c.variants is not None else VARIANTS) + ((DONOR_VARIANT,) if c.donors else ())
    return [v for v in VARIANTS + EXTRA_VARIANTS if v in asked and (scheme or not v.endswith("+translit"))]


def _check_adapt_options(options: dict[str, Any]) -> None:
    if not options:
        return
    from adaptlang.adapt.config import AdaptConfig

    allowed = {f.name for f in dataclasses.fields(AdaptConfig)} - ADAPT_RESERVED
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UsageError(f"adapt_options: unknown or reserved {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(allowed))}")


# ---------------------------------------------------------------------------------------------------------------
# Stages


def assess_stage(stages: StageRunner, c: CategorizeConfig, inputs: Inputs) -> StageOutput:
    choice = TranslitChoice.parse(c.translit)
    scheme = choice.scheme if choice.kind == SCHEME else "auto"  # the what-if, for the report, whatever is chosen

    def do_assess(directory: Path, progress: Progress) -> dict[str, Any]:
        from adaptlang.assess import assess_corpus
        from adaptlang.fileio import write_json_atomic

        data = assess_corpus(c.corpus, model=c.model, lang=c.lang, translit=scheme).to_dict()
        write_json_atomic(directory / "assess.json", data)
        return data

    return stages.run("assess", {"corpus": inputs.corpus, "model": inputs.model, "lang": c.lang,
                                 "translit": scheme}, do_assess)


def decide_translit(c: CategorizeConfig, assess: dict[str, Any] | None) -> Resolved:
    """The scheme of the transliterated variants (or none) and why; ``assess`` is None while it is pending."""
    choice = TranslitChoice.parse(c.translit)
    if assess is None and choice.kind in (AUTO, LATIN):
        return Resolved(None, "decided by the assess stage (pending)")
    script = ((assess or {}).get("scripts") or {}).get("dominant_script")
    return resolve_translit(choice, script=script, lang=c.lang, what_if=(assess or {}).get("translit"))


def data_stage(stages: StageRunner, c: CategorizeConfig, inputs: Inputs) -> StageOutput:
    return stages.run("data", {"train": inputs.train, "test": inputs.test, "max": c.max_train_sentences},
                      lambda directory, _: cut_treebank(directory, c.train, c.max_train_sentences, c.test))


def adapt_stage(stages: StageRunner, c: CategorizeConfig, inputs: Inputs, translit: str | None) -> StageOutput:
    """Queue one MLM adaptation (the adapted model is ``<stage directory>/model``)."""
    batch_size = min(c.batch_size, 16)
    name = "adapt" if translit is None else "adapt+translit"
    return stages.submit(name, {"corpus": inputs.corpus, "model": inputs.model, "method": c.adapt_method,
                                "translit": translit, "steps": c.adapt_steps, "lang": c.lang,
                                "max_seq_len": c.max_seq_len, "batch_size": batch_size, "options": c.adapt_options,
                                "epochs": None if c.adapt_steps else c.adapt_epochs, "minutes": c.adapt_minutes,
                                "settings": training_settings(_adapt_config(c, translit, batch_size, ""))},
                         functools.partial(_adapt, c, translit, batch_size))


def _adapt_config(c: CategorizeConfig, translit: str | None, batch_size: int, output: str) -> Any:
    from adaptlang.adapt import AdaptConfig

    return AdaptConfig(corpus=c.corpus, model=c.model, output=output, method=c.adapt_method, translit=translit,
                       lang=c.lang, steps=c.adapt_steps, batch_size=batch_size,
                       epochs=None if c.adapt_steps else c.adapt_epochs, max_minutes=c.adapt_minutes,
                       max_seq_len=c.max_seq_len, seed=0, resume=True, **{"cpu_bf16": c.cpu_bf16, **c.adapt_options})


def _adapt(c: CategorizeConfig, translit: str | None, batch_size: int, directory: Path,
           progress: Progress) -> dict[str, Any]:
    """The adapt stage's job (module level: it runs in a worker process with ``jobs`` > 1)."""
    from adaptlang.adapt import Interrupted as AdaptInterrupted
    from adaptlang.adapt import adapt_model

    config = _adapt_config(c, translit, batch_size, str(directory / "model"))
    try:
        return {"result": adapt_model(config, progress).to_dict()}
    except AdaptInterrupted:  # adapt saved a checkpoint; its own hint (--resume) does not apply here
        raise Interrupted(f"interrupted during MLM adaptation (checkpoint saved); {RESUME_HINT}") from None


def scratch_stage(stages: StageRunner, c: CategorizeConfig, inputs: Inputs) -> StageOutput:
    """Queue the pretraining of a small monolingual BERT from scratch on the corpus (the ``scratch`` variant's
    model is ``<stage directory>/model``)."""
    return stages.submit("scratch", {"corpus": inputs.corpus, "max_seq_len": c.max_seq_len,
                                     "minutes": c.scratch_minutes, "options": c.scratch_options,
                                     "settings": training_settings(_scratch_config(c, ""))},
                         functools.partial(_scratch, c))


def _scratch_config(c: CategorizeConfig, output: str) -> Any:
    from adaptlang.adapt.scratch import ScratchConfig

    return ScratchConfig(corpus=c.corpus, output=output, max_seq_len=c.max_seq_len, max_minutes=c.scratch_minutes,
                         resume=True, **c.scratch_options)


def _scratch(c: CategorizeConfig, directory: Path, progress: Progress) -> dict[str, Any]:
    """The scratch stage's job (module level: it runs in a worker process with ``jobs`` > 1)."""
    from adaptlang.adapt import Interrupted as AdaptInterrupted
    from adaptlang.adapt.scratch import pretrain_scratch

    config = _scratch_config(c, str(directory / "model"))
    try:
        return {"result": pretrain_scratch(config, progress).to_dict()}
    except AdaptInterrupted:
        raise Interrupted(f"interrupted during the from-scratch pretraining (checkpoint saved); "
                          f"{RESUME_HINT}") from None


def model_stage(stages: StageRunner, c: CategorizeConfig, inputs: Inputs, data: StageOutput,
                adapted: dict[str | None, StageOutput], scheme: str | None, variant: str, seed: int,
                scratch: StageOutput | None = None) -> StageOutput:
    """Queue one variant with one seed: train it and score it on the test set (an ``mlm`` run after its
    adaptation, a ``scratch`` run after the pretraining). The result is a :class:`ScoredRun` as a dict."""
    translit = scheme if variant.endswith("+translit") else None
    if variant == "baseline":
        encoder_key: dict[str, Any] = {"kind": "bilstm", "corpus": inputs.corpus if c.baseline_corpus else None}
    elif variant.startswith("direct"):
        encoder_key = {"kind": "transformer", "model": inputs.model, "translit": translit}
    elif variant == "scratch":
        encoder_key = {"kind": "transformer", "scratch": scratch.key}  # type: ignore[union-attr]
    else:
        encoder_key = {"kind": "transformer", "adapted": adapted[translit].key}
    epochs = c.run_epochs(variant)
    if c.mode == "features" and variant != "baseline":  # the baseline's run plus the model's frozen vectors
        encoder_key = {**encoder_key, "mode": "features", "corpus": inputs.corpus if c.baseline_corpus else None}
    if variant == DONOR_VARIANT:  # in this variant's key only: every other stage keeps its key
        encoder_key = {**encoder_key, "donors": list(inputs.donors), "donor_translit": c.donor_translit,
                       "donor_temperature": c.donor_temperature, "target_share": c.target_share}
    train = training_treebank(data.directory, data.result, c.train)
    pretrained = adapted[translit] if variant.startswith("mlm") else scratch if variant == "scratch" else None
    after = (pretrained,) if pretrained is not None else ()
    adapted_model = str(pretrained.directory / "model") if pretrained is not None else None
    settings = training_settings(_trainer(c, variant, translit, adapted_model, train, seed, ""))
    return stages.submit(f"{variant} seed {seed}", {
        "variant": variant, "seed": seed, "encoder": encoder_key, "epochs": epochs, "data": data.key,
        "dev": inputs.dev, "test": inputs.test, "batch_size": c.batch_size, "max_minutes": c.max_minutes,
        "settings": settings},
        functools.partial(_train_and_score, c, variant, translit, adapted_model, train, seed), after=after)


def _train_and_score(c: CategorizeConfig, variant: str, translit: str | None, adapted_model: str | None, train: str,
                     seed: int, directory: Path, progress: Progress) -> dict[str, Any]:
    """A model stage's job (module level: it runs in a worker process with ``jobs`` > 1)."""
    config = _trainer(c, variant, translit, adapted_model, train, seed, str(directory / "model"))
    return train_and_score(config, [c.test], progress, c.batch_size).to_dict()


def _trainer(c: CategorizeConfig, variant: str, translit: str | None, adapted_model: str | None, train: str,
             seed: int, out: str) -> Any:
    """The training configuration of one run."""
    from adaptlang.baseline import BaselineConfig
    from adaptlang.tasks import TrainConfig

    donors = {"donors": tuple(c.donors), "donor_translit": c.donor_translit, "donor_temperature": c.donor_temperature,
              "target_share": c.target_share} if variant == DONOR_VARIANT else {}
    if c.is_bilstm(variant):
        epochs = {"epochs": c.run_epochs(variant)}
        features = {} if variant == "baseline" else {
            "embeddings": adapted_model or c.model, "embedding_translit": translit if adapted_model is None else None}
        return BaselineConfig(train=train, dev=c.dev, out=out, seed=seed, device=c.device,
                              corpus=c.corpus if c.baseline_corpus else None, max_minutes=c.max_minutes,
                              resume=True, transfer=donors, cpu_bf16=c.cpu_bf16, **epochs, **features)
    if variant.startswith("direct"):
        encoder: dict[str, Any] = {"kind": "transformer", "model": c.model, "translit": translit}
    else:
        encoder = {"kind": "transformer", "model": adapted_model}
    return TrainConfig(train=train, dev=c.dev, out=out, encoder=encoder, epochs=c.epochs, seed=seed,
                       batch_size=c.batch_size, device=c.device, max_minutes=c.max_minutes, resume=True,
                       cpu_bf16=c.cpu_bf16, **donors)


def _baseline_default_epochs() -> int:
    from adaptlang.baseline import BaselineConfig

    return int(BaselineConfig.__dataclass_fields__["epochs"].default)
