"""RANDOM-INIT: which layers of a pretrained encoder matter for same-language and cross-language transfer?

Fine-tune the model once as it is (REF), and once per pair of transformer layers re-initialised with the encoder's
own initialiser before fine-tuning (as in Muller et al., EACL 2021). Each model is evaluated on the same-language
test set and on every cross-language test set; the table gives each run's score change against REF, with a paired
bootstrap interval over the test sentences. Runs are stages (see :mod:`adaptlang.pipeline`): an interrupted sweep
resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from adaptlang.errors import InputError, UsageError

METRICS: dict[str, int] = {"upos": 1, "las": 3}  # metric -> column of evaluate.sentence_counts


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

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["pairs"], d["test_cross"] = list(self.pairs), list(self.test_cross)
        return d


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


def run_random_init(c: RandomInitConfig, progress: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Train REF and one model per re-initialised range; return (and write) the score-change table."""
    from adaptlang.data.conllu import read_conllu
    from adaptlang.fileio import write_json_atomic
    from adaptlang.pipeline import Event, StageRunner, file_sha256, prepare_dir
    from adaptlang.stats import paired_bootstrap_diff

    if c.epochs < 1 or c.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    if c.max_train_sentences is not None and c.max_train_sentences < 2:
        raise UsageError("--max-train-sentences must be at least 2")
    tests = (c.test, *c.test_cross)
    if len(set(tests)) != len(tests):
        raise UsageError("--test and --test-cross must be different files")
    treebanks = {"--train": c.train, "--dev": c.dev, **{f"--test {t}": t for t in tests}}
    for option, path in treebanks.items():
        if path is not None and not read_conllu(path, require_tree=True):
            raise InputError(path, f"no sentences ({option.split()[0]}); give a CoNLL-U treebank")
    n_layers = _n_layers(c.model)
    for pair in c.pairs:
        hi = int(pair.partition("-")[2] or pair.partition("-")[0])
        if hi > n_layers:
            raise UsageError(f"--pairs: {pair} is beyond the model's {n_layers} transformer layers")
    run_dir = prepare_dir(Path(c.output), "random-init", c.to_dict(), c.force)
    say = progress or (lambda e: None)
    stages = StageRunner(run_dir, 1 + 1 + len(c.pairs), say)
    sha = {p: file_sha256(p) for p in {c.train, *tests, *( [c.dev] if c.dev else [])}}

    def do_data(directory: Path) -> dict[str, Any]:
        from adaptlang.data.conllu import write_conllu

        sents = read_conllu(c.train, require_tree=True)
        if c.max_train_sentences is not None and c.max_train_sentences < len(sents):
            write_conllu(directory / "train.conllu", sents[: c.max_train_sentences])
            return {"train_cut": str(directory / "train.conllu"), "n_train_sentences": c.max_train_sentences,
                    "n_train_sentences_total": len(sents)}
        return {"train_cut": None, "n_train_sentences": len(sents), "n_train_sentences_total": len(sents)}

    data = stages.run("data", {"train": sha[c.train], "max": c.max_train_sentences}, do_data)
    train_path = data["train_cut"] or c.train

    def model_stage(reinit: str | None) -> dict[str, Any]:
        name = "REF" if reinit is None else f"random-init {reinit}"
        encoder = {"kind": "transformer", "model": c.model, "random_init": reinit}
        stage_config = {"encoder": encoder, "train": sha[c.train], "max": c.max_train_sentences,
                        "dev": sha[c.dev] if c.dev else None, "tests": [sha[t] for t in tests], "epochs": c.epochs,
                        "seed": c.seed, "batch_size": c.batch_size}

        def do_run(directory: Path) -> dict[str, Any]:
            from adaptlang.pipeline import _FitProgress
            from adaptlang.tasks import TrainConfig, evaluate_model, train_parser

            model_dir = directory / "model"
            if not (model_dir / "train.json").is_file():
                train_parser(TrainConfig(train=train_path, dev=c.dev, out=str(model_dir), encoder=encoder,
                                         epochs=c.epochs, seed=c.seed, batch_size=c.batch_size, device=c.device,
                                         resume=True), _FitProgress(say, name))
            out: dict[str, Any] = {"model": str(model_dir), "tests": {}}
            for k, test in enumerate(tests):
                from adaptlang.evaluate import sentence_counts

                pred = directory / f"test{k}.pred.conllu"
                result = evaluate_model(str(model_dir), test, n_bootstrap=0, device=c.device,
                                        predictions_out=str(pred), force=True)
                counts = sentence_counts(read_conllu(test, require_tree=True), read_conllu(pred), test, str(pred))
                out["tests"][test] = {"scores": {m: getattr(result.scores, m) for m in ("upos", "uas", "las")},
                                      "counts": counts.tolist()}
            return out

        return stages.run(name, stage_config, do_run)

    ref = model_stage(None)
    runs = {pair: model_stage(pair) for pair in c.pairs}
    say(Event("note", message="computing the intervals"))

    rows = []
    for pair, run in runs.items():
        row: dict[str, Any] = {"reinit": pair, "tests": {}}
        for test in tests:
            ref_counts = np.array(ref["tests"][test]["counts"])  # [n_sentences, 4]
            run_counts = np.array(run["tests"][test]["counts"])
            cell = {}
            for metric, col in METRICS.items():
                d = paired_bootstrap_diff(run_counts[None, :, col], ref_counts[None, :, col], ref_counts[:, 0],
                                          a=f"random-init {pair}", b="REF", n_bootstrap=c.n_bootstrap,
                                          level=c.level, seed=col)
                cell[metric] = {"score": run["tests"][test]["scores"][metric], **d.to_dict()}
            row["tests"][test] = cell
        rows.append(row)
    result = {
        "kind": "random-init",
        "config": c.to_dict(),
        "data": data,
        "n_layers": n_layers,
        "tests": [{"path": t, "role": "same-language" if t == c.test else "cross-language"} for t in tests],
        "ref": {t: ref["tests"][t]["scores"] for t in tests},
        "rows": rows,
        "stages": [r.to_dict() for r in stages.records],
    }
    write_json_atomic(run_dir / "random-init.json", result)
    from adaptlang.report import plot_random_init

    plot_random_init(result, run_dir / "random-init.png")
    return result


def _n_layers(model: str) -> int:
    from adaptlang.models.transformer import read_model_info

    info = read_model_info(model)
    base = info.get("base_model") if info.get("adapter") else model
    path = Path(str(base)) / "config.json"
    if not path.is_file():
        raise UsageError(f"--model {model}: give a local model directory (config.json not found)")
    import json

    cfg = json.loads(path.read_text(encoding="utf-8"))
    n = cfg.get("num_hidden_layers") or cfg.get("n_layers")
    if not n:
        raise UsageError(f"--model {model}: config.json does not give num_hidden_layers")
    return int(n)
