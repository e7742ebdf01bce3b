"""Transfer from related treebanks and training-time noise, as parts of the parsing task (:mod:`adaptlang.tasks.parse`):

- :class:`TransferPlan` makes each epoch's batches from the target and donor treebanks
  (:func:`adaptlang.data.donors.epoch_sample`), with each sentence's treebank id for the parser's treebank embedding,
  character noise in the words and a seed per batch for subword noise (:mod:`adaptlang.data.noise`); all of it a pure
  function of (seed, epoch), so ``--resume`` stays bit-exact;
- :func:`fit_schedule` runs the training core once (``--donor-schedule mixed``, the default) or twice
  (``sequential``: the donors, then the target from the donors' best weights; each phase gets half of
  ``--max-minutes`` and its own warmup and decay, and picks its epoch on the target's dev set).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from adaptlang.data.donors import TrainingData, epoch_sample, phase_sizes
from adaptlang.data.noise import PieceSplitter, alphabet, noise_words
from adaptlang.engine import FitConfig, FitResult, fit
from adaptlang.errors import UsageError
from adaptlang.events import Event, Progress
from adaptlang.tasks.batching import bucket_batches


class Batch(list):
    """A micro-batch of examples, with each one's treebank id and the batch's noise seed."""

    def __init__(self, examples: Sequence[Any], treebanks: Sequence[int], seed: int):
        super().__init__(examples)
        self.treebanks = list(treebanks)
        self.seed = seed


@dataclass
class TransferPlan:
    treebank_ids: list[int]  # per training example (examples are ordered treebank by treebank)
    sizes: list[int]  # sentences per treebank (0: the target in zero-shot training)
    config: Any  # the run's TrainConfig
    embed: bool  # give the parser each sentence's treebank id
    letters: list[str]  # what character noise inserts and substitutes
    splitter: PieceSplitter | None = None
    phase: str = "mixed"  # mixed | donors | target

    @classmethod
    def build(cls, config: Any, data: TrainingData, encoder: Any) -> "TransferPlan | None":
        """The plan of a run with donors or noise (None for a plain single-treebank run)."""
        if not (config.donors or config.char_noise or config.subword_dropout):
            return None
        splitter = None
        if config.subword_dropout:
            tokenizer = getattr(encoder, "tokenizer", None)
            if tokenizer is None or not hasattr(tokenizer, "get_vocab"):
                raise UsageError("--subword-dropout needs a subword encoder (a transformer --model)")
            splitter = PieceSplitter.from_tokenizer(tokenizer)
        letters = alphabet(w for tb in data.treebanks for s in tb.sentences for w in s.forms) \
            if config.char_noise else []
        return cls(data.treebank_ids, data.sizes, config, data.n_embedded > 0, letters, splitter,
                   "donors" if config.donor_schedule == "sequential" else "mixed")

    def batches(self, epoch: int, examples: Sequence[Any]) -> list[Batch]:
        c = self.config
        offsets = [sum(self.sizes[:t]) for t in range(len(self.sizes))]
        sample = [offsets[t] + i for t, i in epoch_sample(phase_sizes(self.sizes, self.phase), c.donor_temperature,
                                                          c.seed, epoch, c.epoch_sentences, c.target_share)]
        rng = random.Random(f"char-noise/{c.seed}/{epoch}")
        chosen = [examples[k] for k in sample]
        if c.char_noise:
            chosen = [replace(e, words=noise_words(e.words, c.char_noise, rng, self.letters)) for e in chosen]
        idx = bucket_batches([len(e.words) for e in chosen], c.batch_size, c.max_tokens, shuffle=True,
                             seed=c.seed * 1000 + epoch)
        return [Batch([chosen[i] for i in b], [self.treebank_ids[sample[i]] for i in b],
                      (c.seed * 1_000_003 + epoch) * 100_003 + n) for n, b in enumerate(idx)]

    def collate(self, encoder: Any, batch: Batch) -> dict[str, torch.Tensor]:
        words = [e.words for e in batch]
        splitter = self.splitter
        if splitter is not None:
            rng, p = random.Random(batch.seed), self.config.subword_dropout
            inputs = encoder.collate(words, split=lambda ids: splitter.split(ids, p, rng))
        else:
            inputs = encoder.collate(words)
        if self.embed:
            inputs["treebank"] = torch.tensor(batch.treebanks, dtype=torch.long)
        return inputs


def fit_schedule(task: Any, cfg: FitConfig, workdir: Path, *, progress: Progress, resume: bool,
                 meta: dict[str, Any], output: Path) -> FitResult:
    """One run of the core, or two for the sequential schedule (the target's checkpoints under the donors')."""
    plan: TransferPlan | None = getattr(task, "plan", None)
    checkpoints = workdir / "checkpoints"
    if plan is None or plan.config.donor_schedule != "sequential":
        return fit(task, cfg, checkpoints, progress=progress, resume=resume, meta=meta,
                   metrics_file=workdir / "metrics.json", output=output)
    half = replace(cfg, max_minutes=cfg.max_minutes / 2 if cfg.max_minutes else None)
    plan.phase = "donors"
    progress(Event("phase", message="phase 1 of 2: the donor treebanks"))
    first = fit(task, half, checkpoints, progress=progress, resume=resume, meta=meta,
                metrics_file=workdir / "donor-metrics.json", output=output)
    donor_phase = {"epochs": len(first.epochs), "best_epoch": first.best_epoch, "dev": first.best_dev,
                   "stop_reason": first.stop_reason, "seconds": first.train_seconds}
    plan.phase = "target"
    progress(Event("phase", message=f"phase 2 of 2: the target treebank, from the donor phase's epoch "
                                    f"{first.best_epoch} (target dev " + ", ".join(
                                        f"{k.upper()} {v:.2f}" for k, v in first.best_dev.items()) + ")"))
    second = checkpoints / "target"
    result = fit(task, half, second, progress=progress, resume=(second / "latest.json").is_file(), meta=meta,
                 metrics_file=workdir / "metrics.json", output=output)
    units = {k: first.units.get(k, 0) + result.units.get(k, 0) for k in {**first.units, **result.units}}
    return replace(result, units=units,  # both phases' sentences
                   meta={**result.meta, "donor_phase": donor_phase})  # train.json: fit.meta.donor_phase


def target_share_notes(units: dict[str, int], n_target: int) -> tuple[str, ...]:
    """A run with donors: how many of the sentences trained on were the target's (train.json's notes)."""
    seen, total = units.get("target_sentences"), units.get("sentences", 0)
    if seen is None or not n_target or not total:
        return ()
    return (f"donors: {seen:,} of the {total:,} sentences trained on were the target's ({seen / n_target:.1f} passes "
            f"over its {n_target:,}); the same steps without donors would have made {total / n_target:.1f} passes, "
            "so a run that a time budget stops while it still improves has had fewer target updates than a run "
            "alone in the same minutes",)
