"""TRANSFER: does cross-lingual similarity (CKA) predict the zero-shot loss?

A tagger-parser trained on one source treebank (or an already trained one, ``--parser``) is scored on the source's
own test set and, zero-shot, on each target's test set. The *gap* of a target is the source's score minus the
target's (LAS and UPOS, points). For every layer of the encoder, CKA between the source's sentences and their
translations in each target language is computed (:mod:`adaptlang.analysis.cka`; the study used RBF CKA on
mean-pooled subword vectors without special tokens, on PUD), and the Spearman correlation between the layer's CKA
and the gap is taken over the targets: a strong link shows as a correlation near -1 (the more similar a target's
sentences are to the source's, the less the parser loses on it). Muller et al. (EACL 2021) report the strength of
this link as 0.76 for parsing and 0.74 for POS over many languages with mBERT.

With few targets the correlation is coarse (n = 4 allows 24 rank orders) and its p-value cannot be small: the
p-value here is exact (every pairing of the targets' ranks) for up to 8 targets. Steps are stages of a run
directory (:mod:`adaptlang.runs`): an interrupted run resumes, a rerun with another kernel reuses the parser.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from adaptlang.errors import InputError, UsageError
from adaptlang.events import Event, Progress, silent
from adaptlang.options import POSITIVE, SEED, THREADS, at_least, optional, validate_numeric
from adaptlang.runs import (ScoredRun, StageOutput, StageRunner, cut_treebank, file_sha256, model_fingerprint,
                            prepare_dir, train_and_score, training_treebank)
from adaptlang.specs import parser_encoder_config

METRICS = ("las", "upos")
STUDY = {"las": 0.76, "upos": 0.74}  # Muller et al. 2021: strength of the CKA-gap link (parsing, POS)
EXACT_MAX = 8  # targets up to which the p-value enumerates every pairing (8! = 40320)
OPTIONS = {"--epochs": at_least(1), "--max-minutes": optional(POSITIVE), "--batch-size": at_least(1),
           "--seed": SEED, "--threads": THREADS, "--max-train-sentences": optional(at_least(2)),
           "--max-cka-sentences": optional(at_least(4)), "--rbf-sigma": POSITIVE}


@dataclass(frozen=True)
class TransferConfig:
    output: str
    source_test: str
    targets: tuple[str, ...]
    model: str | None = None  # the encoder fine-tuned on source_train
    source_train: str | None = None
    source_dev: str | None = None  # None: the last 10% of source_train
    parser: str | None = None  # an already trained parser: no training
    cka_model: str | None = None  # default: model, else the parser's fine-tuned encoder
    cka_source: str | None = None  # default: source_test
    cka_targets: tuple[str, ...] = ()  # default: targets (PUD treebanks are parallel test sets)
    kernel: str = "rbf"
    debiased: bool = False
    rbf_sigma: float = 1.0
    max_cka_sentences: int | None = None
    max_train_sentences: int | None = None
    epochs: int = 10
    max_minutes: float | None = None
    batch_size: int = 16
    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    force: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["targets"], d["cka_targets"] = list(self.targets), list(self.cka_targets)
        return d

    def tests(self) -> tuple[str, ...]:
        return (self.source_test, *self.targets)


def check_config(c: TransferConfig) -> TransferConfig:
    """Check the options (before any work) and fill the defaults; returns the completed config."""
    validate_numeric(c, OPTIONS)
    if c.parser is None and (c.model is None or c.source_train is None):
        raise UsageError("give --model and --source-train (to train the source parser), or --parser DIR")
    if c.parser is not None and (c.source_train or c.source_dev):
        raise UsageError("--parser skips training: drop --source-train / --source-dev, or drop --parser")
    if len(c.targets) < 2:
        raise UsageError("give at least 2 --target test sets (a correlation over targets; 4 or more to mean much)")
    if len(set(c.tests())) != len(c.tests()):
        raise UsageError("--source-test and the --target files must all be different")
    cka_targets = c.cka_targets or c.targets
    if len(cka_targets) != len(c.targets):
        raise UsageError(f"give one --cka-target per --target ({len(c.targets)}), in the same order, or none")
    from adaptlang.analysis.cka import get_kernel

    get_kernel(c.kernel, c.debiased)
    if not c.cka_model and not c.model and parser_encoder_config(str(c.parser)).get("language_adapters"):
        raise UsageError(f"--parser {c.parser} was trained over language adapters; give the encoder to compare "
                         "layers with as --cka-model (e.g. its base model)")
    return dataclasses.replace(c, cka_model=c.cka_model or c.model or c.parser,
                               cka_source=c.cka_source or c.source_test, cka_targets=tuple(cka_targets))


def run_transfer(c: TransferConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train (or take) the source parser, score it on every test set, compute CKA per layer and target, and the
    per-layer Spearman correlations between CKA and the gap. Writes ``transfer.json`` into the run directory."""
    from adaptlang.fileio import write_json_atomic

    c = check_config(c)
    sha = _checksums(c)
    run_dir = prepare_dir(Path(c.output), "transfer", c.to_dict(), c.force)
    stages = StageRunner(run_dir, progress)
    stages.expect(3 if c.parser is None else 2)
    scored = _parser_stage(stages, c, sha)
    cka = _cka_stage(stages, c, sha)
    (progress or silent)(Event("note", message="computing the correlations"))
    result = transfer_table(c, scored, cka)
    result["stages"] = [r.to_dict() for r in stages.records]
    write_json_atomic(run_dir / "transfer.json", result)
    plot_transfer(result, run_dir / "transfer.png")
    return result


def _checksums(c: TransferConfig) -> dict[str, str]:
    from adaptlang.data.conllu import read_conllu

    files = {"--source-train": c.source_train, "--source-dev": c.source_dev, "--source-test": c.source_test,
             **{f"--target {t}": t for t in c.targets}}
    for option, path in files.items():
        if path is not None and not read_conllu(path, require_tree=True):
            raise InputError(path, f"no sentences ({option.split()[0]}); give a CoNLL-U treebank")
    cka_files = (c.cka_source, *c.cka_targets)
    return {p: file_sha256(p) for p in (*files.values(), *cka_files) if p is not None}


def _parser_stage(stages: StageRunner, c: TransferConfig, sha: dict[str, str]) -> ScoredRun:
    """The source parser's scores on the source test set and every target (training it first without --parser)."""
    tests = c.tests()
    if c.parser is not None:
        parser = c.parser

        def score(directory: Path, progress: Progress) -> dict[str, Any]:
            return score_parser(parser, tests, c.device, c.batch_size).to_dict()

        key = {"parser": model_fingerprint(parser), "tests": [sha[t] for t in tests]}
        return ScoredRun.from_dict(stages.run("score parser", key, score).result or {})
    assert c.model is not None and c.source_train is not None
    model, train_file = c.model, c.source_train
    data = stages.run("data", {"train": sha[train_file], "max": c.max_train_sentences},
                      lambda directory, _: cut_treebank(directory, train_file, c.max_train_sentences))
    return ScoredRun.from_dict(_train_stage(stages, c, sha, data, model, train_file).result or {})


def _train_stage(stages: StageRunner, c: TransferConfig, sha: dict[str, str], data: StageOutput, model: str,
                 train_file: str) -> StageOutput:
    from adaptlang.tasks import TrainConfig

    encoder = {"kind": "transformer", "model": model}
    train = training_treebank(data.directory, data.result, train_file)

    def do_run(directory: Path, progress: Progress) -> dict[str, Any]:
        config = TrainConfig(train=train, dev=c.source_dev, out=str(directory / "model"), encoder=encoder,
                             epochs=c.epochs, max_minutes=c.max_minutes, seed=c.seed, batch_size=c.batch_size,
                             device=c.device, threads=c.threads, resume=True)
        return train_and_score(config, c.tests(), progress, c.batch_size).to_dict()

    key = {"encoder": {**encoder, "model": model_fingerprint(model)}, "data": data.key,
           "dev": sha[c.source_dev] if c.source_dev else None, "tests": [sha[t] for t in c.tests()],
           "epochs": c.epochs, "max_minutes": c.max_minutes, "seed": c.seed, "batch_size": c.batch_size}
    return stages.run("source parser", key, do_run)


def score_parser(parser: str, tests: Sequence[str], device: str, batch_size: int) -> ScoredRun:
    """Score a trained parser directory on each test set in memory (as :func:`adaptlang.runs.train_and_score`
    does after training)."""
    from adaptlang.data.conllu import read_conllu
    from adaptlang.runs import TestScores, TrainSummary
    from adaptlang.runs.train import METRICS as SCORED
    from adaptlang.tasks import load_parser
    from adaptlang.tasks.parse_model import score_loaded

    loaded = load_parser(parser, device)
    scored = []
    for test in tests:
        scores, counts, _, _ = score_loaded(loaded, read_conllu(test, require_tree=True), gold_name=test,
                                            batch_size=batch_size)
        scored.append(TestScores(test, {m: getattr(scores, m) for m in SCORED} | scores.extra, counts.tolist()))
    summary = TrainSummary.read(Path(parser)) if (Path(parser) / "train.json").is_file() else \
        TrainSummary(None, None, None, None, False, None)
    return ScoredRun(summary, tuple(scored))


def _cka_stage(stages: StageRunner, c: TransferConfig, sha: dict[str, str]) -> list[list[float]]:
    """CKA per target (rows, in --target order) and layer (columns)."""
    from adaptlang.analysis.cka import CkaConfig, run_cka

    assert c.cka_model is not None and c.cka_source is not None
    cka_config = CkaConfig(model=c.cka_model, source=c.cka_source, targets=c.cka_targets, kernel=c.kernel,
                           debiased=c.debiased, rbf_sigma=c.rbf_sigma, max_sentences=c.max_cka_sentences,
                           control=False)

    def do_cka(directory: Path, progress: Progress) -> dict[str, Any]:
        result = run_cka(cka_config, lambda what, done, total: progress(
            Event("step", message=f"encoding {what}", step=done, total=total)))
        return {"scores": [[None if math.isnan(s) else s for s in curve.scores] for curve in result.curves],
                "n_sentences": [curve.n_sentences for curve in result.curves]}

    key = {"model": model_fingerprint(c.cka_model), "source": sha[c.cka_source],
           "targets": [sha[t] for t in c.cka_targets], "kernel": c.kernel, "debiased": c.debiased,
           "rbf_sigma": c.rbf_sigma, "max": c.max_cka_sentences}
    out = stages.run("cka", key, do_cka).result or {}
    return [[math.nan if s is None else float(s) for s in row] for row in out["scores"]]


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rho (scipy) and its two-sided p-value: exact (every pairing of the ranks) for up to
    :data:`EXACT_MAX` points, scipy's t approximation above. NaN for fewer than 3 points or a constant input."""
    from scipy.stats import rankdata, spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.isnan(x).any() or np.isnan(y).any() or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    res = spearmanr(x, y)
    rho = float(res.statistic)
    if len(x) > EXACT_MAX:
        return rho, float(res.pvalue)
    rx, ry = rankdata(x), rankdata(y)
    perms = ry[np.array(list(itertools.permutations(range(len(ry)))))]  # [n!, n]: every pairing
    rx_c = rx - rx.mean()
    pc = perms - perms.mean(axis=1, keepdims=True)
    rhos = (pc @ rx_c) / (np.linalg.norm(pc, axis=1) * np.linalg.norm(rx_c))  # [n!]
    return rho, float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))


def transfer_table(c: TransferConfig, scored: ScoredRun, cka: list[list[float]]) -> dict[str, Any]:
    """The result: scores, gaps, CKA per layer, and per layer and metric the correlation over the targets."""
    from adaptlang.analysis.cka import language_label

    source = scored.tests[0].scores
    targets = []
    for t, s, row in zip(c.targets, scored.tests[1:], cka):
        targets.append({"path": t, "label": language_label(t), "scores": s.scores,
                        "gap": {m: round(source[m] - s.scores[m], 4) for m in METRICS}, "cka": row})
    n_layers = len(cka[0])
    correlation: dict[str, list[dict[str, Any]]] = {}
    for m in METRICS:
        gaps = [t["gap"][m] for t in targets]
        rows = []
        for layer in range(n_layers):
            rho, p = spearman([t["cka"][layer] for t in targets], gaps)
            rows.append({"layer": layer, "rho": None if math.isnan(rho) else round(rho, 4),
                         "p": None if math.isnan(p) else round(p, 4)})
        correlation[m] = rows
    n = len(targets)
    return {"kind": "transfer", "config": c.to_dict(), "source": {"path": c.source_test, "scores": source},
            "train": scored.train.to_dict(), "targets": targets, "n_targets": n, "correlation": correlation,
            "p_value": "exact (all pairings)" if n <= EXACT_MAX else "t approximation",
            "min_p": (2.0 / math.factorial(n)) if n <= EXACT_MAX else None, "study": STUDY}


def plot_transfer(result: dict[str, Any], path: str | Path) -> None:
    """Left: CKA per layer, one line per target; right: Spearman(CKA, gap) per layer for LAS and UPOS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adaptlang.fileio import atomic_path

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for t in result["targets"]:
        left.plot(range(len(t["cka"])), t["cka"], marker="o", markersize=3,
                  label=f"{t['label']} (LAS gap {t['gap']['las']:.1f})")
    left.set_xlabel("layer (0 = embeddings)")
    left.set_ylabel(f"{result['config']['kernel']} CKA with the source")
    left.legend(fontsize=8)
    for m, style in zip(METRICS, ("-", "--")):
        rows = result["correlation"][m]
        right.plot([r["layer"] for r in rows], [math.nan if r["rho"] is None else r["rho"] for r in rows], style,
                   marker="o", markersize=3, label=f"{m.upper()} gap")
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_ylim(-1.05, 1.05)
    right.set_xlabel("layer (0 = embeddings)")
    right.set_ylabel("Spearman rho (CKA, gap)")
    right.set_title(f"over {result['n_targets']} targets (strong link: near -1)", fontsize=10)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.set_xticks(list(range(len(result["targets"][0]["cka"]))))
        ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
