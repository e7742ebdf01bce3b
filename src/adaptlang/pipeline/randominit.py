"""RANDOM-INIT: which layers of a pretrained encoder matter for same-language and cross-language transfer?

Fine-tune the model once as it is (REF), and once per pair of transformer layers re-initialised with the encoder's
own initialiser before fine-tuning (as in Muller et al., EACL 2021). Each model is evaluated on the same-language
test set and on every cross-language test set; the table gives each run's score change against REF, with a paired
bootstrap interval over the test sentences. Runs are stages (see :mod:`adaptlang.runs`): an interrupted sweep
resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adaptlang.errors import InputError, UsageError
from adaptlang.evaluate import EXTRA_METRICS
from adaptlang.events import Event, Progress, silent
from adaptlang.runs import (ScoredRun, StageOutput, StageRunner, cut_treebank, file_sha256, model_fingerprint,
                            prepare_dir, train_and_score, training_treebank)

METRICS: dict[str, int] = {"upos": 1, "las": 3}  # metric -> column of evaluate.sentence_counts
TASK_METRICS: dict[str, tuple[str, ...]] = {"parse": tuple(METRICS), "ner": ("f1",)}  # NER: entity F1


@dataclass(frozen=True)
class RandomInitConfig:
    train: str
    test: str
    model: str
    output: str
    pairs: tuple[str, ...]  # layer specs, e.g. ("1-2", "3-4")
    dev: str | None = None
    test_cross: tuple[str, ...] = ()
    epochs: int = 10
    seed: int = 42
    batch_size: int = 32
    max_train_sentences: int | None = None
    n_bootstrap: int = 1000
    level: float = 0.95
    device: str = "auto"
    force: bool = False
    task: str = "parse"  # parse (UPOS, LAS; CoNLL-U treebanks) or ner (entity F1; NER files as train --task ner)
    lenient: bool = False  # NER: read malformed tag sequences as conlleval does instead of refusing them

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["pairs"], d["test_cross"] = list(self.pairs), list(self.test_cross)
        return d

    def tests(self) -> tuple[str, ...]:
        """The same-language test set, then the cross-language ones."""
        return (self.test, *self.test_cross)


def parse_pairs(spec: str) -> tuple[str, ...]:
    """``"1-2,3-4"`` -> ``("1-2", "3-4")``; each item is a layer or a range of layers (1-based)."""
    items = tuple(p.strip() for p in spec.split(",") if p.strip())
    if not items:
        raise UsageError("--pairs: give layer ranges like 1-2,3-4")
    for item in items:
        lo, _, hi = item.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or int(lo) < 1 or (hi and int(hi) < int(lo)):
            raise UsageError(f"--pairs {spec!r}: {item!r} is not a layer range like 1-2 (layers count from 1)")
    if len(set(items)) != len(items):
        raise UsageError(f"--pairs {spec!r}: a range is repeated")
    return items


def run_random_init(c: RandomInitConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train REF and one model per re-initialised range; return (and write) the score-change table. Every input
    is checked before the run directory is created."""
    from adaptlang.fileio import write_json_atomic
    from adaptlang.report import plot_random_init

    inputs = check_inputs(c)
    run_dir = prepare_dir(Path(c.output), "random-init", c.to_dict(), c.force)
    stages = StageRunner(run_dir, progress)
    stages.expect(2 + len(c.pairs))
    data = stages.run("data", {"train": inputs.sha[c.train], "max": c.max_train_sentences,
                               **({"task": "ner", "lenient": c.lenient} if c.task == "ner" else {})},
                      lambda directory, _: _cut(c, directory))
    ref = model_stage(stages, c, inputs, data, None)
    runs = {pair: model_stage(stages, c, inputs, data, pair) for pair in c.pairs}
    (progress or silent)(Event("note", message="computing the intervals"))
    tests = c.tests()
    result = {
        "kind": "random-init",
        "task": c.task,
        "metrics": list(TASK_METRICS[c.task]),
        "config": c.to_dict(),
        "data": data.result,
        "n_layers": inputs.n_layers,
        "tests": [{"path": t, "role": "same-language" if t == c.test else "cross-language"} for t in tests],
        "ref": {t: s.scores for t, s in zip(tests, ref.tests)},
        "rows": [score_changes(c, pair, run, ref) for pair, run in runs.items()],
        "stages": [r.to_dict() for r in stages.records],
    }
    write_json_atomic(run_dir / "random-init.json", result)
    plot_random_init(result, run_dir / "random-init.png")
    return result


@dataclass(frozen=True)
class Inputs:
    n_layers: int
    sha: dict[str, str]  # treebank path -> checksum
    model: str  # the model's content fingerprint


def check_inputs(c: RandomInitConfig) -> Inputs:
    """Check the options and read every treebank once: the model's layer count and the content fingerprints that
    the stage keys are taken over."""
    from adaptlang.data.conllu import read_conllu
    from adaptlang.runs.ner import read_ner_file

    if c.task not in TASK_METRICS:
        raise UsageError(f"--task must be one of {', '.join(TASK_METRICS)}, not {c.task!r}")
    if c.epochs < 1 or c.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    if c.max_train_sentences is not None and c.max_train_sentences < 2:
        raise UsageError("--max-train-sentences must be at least 2")
    tests = c.tests()
    if len(set(tests)) != len(tests):
        raise UsageError("--test and --test-cross must be different files")
    treebanks = {"--train": c.train, "--dev": c.dev, **{f"--test {t}": t for t in tests}}
    for option, path in treebanks.items():
        if path is not None and c.task == "ner":
            read_ner_file(path, c.lenient)  # a malformed tag fails now, with its file and line
        elif path is not None and not read_conllu(path, require_tree=True):
            raise InputError(path, f"no sentences ({option.split()[0]}); give a CoNLL-U treebank")
    n_layers = _n_layers(c.model)
    for pair in c.pairs:
        hi = int(pair.partition("-")[2] or pair.partition("-")[0])
        if hi > n_layers:
            raise UsageError(f"--pairs: {pair} is beyond the model's {n_layers} transformer layers")
    sha = {p: file_sha256(p) for p in treebanks.values() if p is not None}
    return Inputs(n_layers, sha, model_fingerprint(c.model))


def model_stage(stages: StageRunner, c: RandomInitConfig, inputs: Inputs, data: StageOutput,
                reinit: str | None) -> ScoredRun:
    """Fine-tune the model with the layers ``reinit`` re-initialised (None: as it is, REF); score every test set."""
    from adaptlang.tasks import TrainConfig

    encoder = {"kind": "transformer", "model": c.model, "random_init": reinit}
    train = training_treebank(data.directory, data.result, c.train)

    def do_run(directory: Path, progress: Progress) -> dict[str, Any]:
        if c.task == "ner":
            return _ner_run(c, encoder, train, str(directory / "model"), progress)
        config = TrainConfig(train=train, dev=c.dev, out=str(directory / "model"), encoder=encoder, epochs=c.epochs,
                             seed=c.seed, batch_size=c.batch_size, device=c.device, resume=True)
        return train_and_score(config, c.tests(), progress, c.batch_size).to_dict()

    sha = inputs.sha
    key = {"encoder": {**encoder, "model": inputs.model}, "data": data.key,
           "dev": sha[c.dev] if c.dev else None, "tests": [sha[t] for t in c.tests()], "epochs": c.epochs,
           "seed": c.seed, "batch_size": c.batch_size}
    if c.task == "ner":  # (parse keys stay as they were: earlier sweeps are reused)
        key.update(task="ner", lenient=c.lenient)
    out = stages.run("REF" if reinit is None else f"random-init {reinit}", key, do_run)
    return ScoredRun.from_dict(out.result or {})  # the runner is not a dry one: a result is always there


def score_changes(c: RandomInitConfig, pair: str, run: ScoredRun, ref: ScoredRun) -> dict[str, Any]:
    """One table row: per test set and metric, the run's score and its change against REF with an interval."""
    from adaptlang.stats import paired_bootstrap_diff

    row: dict[str, Any] = {"reinit": pair, "tests": {}}
    for test, mine, theirs in zip(c.tests(), run.tests, ref.tests):
        run_counts, ref_counts = np.array(mine.counts), np.array(theirs.counts)  # [n_sentences, 4] (NER: 3)
        if c.task == "ner":
            row["tests"][test] = {"f1": _f1_change(c, pair, mine.scores["f1"], run_counts, ref_counts)}
            continue
        cell = {}
        for metric, col in METRICS.items():
            d = paired_bootstrap_diff(run_counts[None, :, col], ref_counts[None, :, col], ref_counts[:, 0],
                                      a=f"random-init {pair}", b="REF", n_bootstrap=c.n_bootstrap, level=c.level,
                                      seed=col)
            cell[metric] = {"score": mine.scores[metric], **d.to_dict()}
        cell["other"] = {m: {"score": mine.scores[m], "diff": mine.scores[m] - theirs.scores[m]}
                         for m in EXTRA_METRICS if m in mine.scores and m in theirs.scores}  # not in the verdict
        row["tests"][test] = cell
    return row


def _cut(c: RandomInitConfig, directory: Path) -> dict[str, Any]:
    """The data stage: the training file cut to ``max_train_sentences`` (a treebank, or an NER file)."""
    if c.task == "ner":
        from adaptlang.runs.ner import cut_ner

        return cut_ner(directory, c.train, c.max_train_sentences, lenient=c.lenient)
    return cut_treebank(directory, c.train, c.max_train_sentences)


def _ner_run(c: RandomInitConfig, encoder: dict[str, Any], train: str, out: str, progress: Progress) -> dict:
    """One NER fine-tuning run (the CRF tagging head on the encoder), scored on every test file."""
    from adaptlang.runs.ner import ner_format, train_and_score_ner
    from adaptlang.tasks.ner import NERConfig

    config = NERConfig(train=train, dev=c.dev, out=out, encoder=encoder, data_format=ner_format(train),
                       lenient=c.lenient, epochs=c.epochs, seed=c.seed, batch_size=c.batch_size, device=c.device,
                       resume=True)
    return train_and_score_ner(config, c.tests(), progress, c.batch_size).to_dict()


def _f1_change(c: RandomInitConfig, pair: str, score: float, run: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """A run's entity F1 and its change against REF (counts [n_sentences, 3]: correct, predicted, gold), with a
    paired bootstrap interval of F1 recomputed from each sample's summed counts."""
    from adaptlang.stats import paired_bootstrap_f1_diff

    d = paired_bootstrap_f1_diff(run[None], ref[None], a=f"random-init {pair}", b="REF", n_bootstrap=c.n_bootstrap,
                                 level=c.level, seed=0)
    return {"score": score, **d.to_dict()}


def _n_layers(model: str) -> int:
    from adaptlang.specs import resolve_model

    spec = resolve_model(model, purpose="encoder")
    if spec.n_layers is None:
        raise UsageError(f"--model {model}: give a local model directory whose config.json gives num_hidden_layers "
                         f"(it is {spec.describe()})")
    return spec.n_layers
