"""Training on a target treebank plus related (*donor*) treebanks: reading them, the few-shot and zero-shot cuts of
the target, transliterating donors, and the temperature-smoothed sampling of each epoch's sentences.

Sampling follows MaChAmp's smoothing (van der Goot et al. 2021): treebank ``i`` of ``n_i`` sentences is drawn with
probability proportional to ``n_i ** (1 / T)`` (``T = 1``: in proportion to size; larger ``T``: closer to uniform,
so a small target is not drowned by a large donor). **An epoch is as many sentences as the treebanks of the phase
hold together** (``T = 1`` is one pass over everything), unless ``epoch_sentences`` says otherwise. Each treebank's
share is rounded to whole sentences (largest remainder) and taken from an endless stream of seeded permutations of
that treebank, so that over the epochs every sentence of a treebank is seen equally often; epoch ``e``'s sample is
a pure function of (seed, e), as the training core needs for bit-exact resume.

Treebank 0 is always the target (empty in zero-shot training); donors follow in the order given. Torch-free.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from adaptlang.data.conllu import Sentence, parse_conllu_text, read_conllu
from adaptlang.errors import InputError, UsageError

# The training options of transfer from donors and of noise (TrainConfig's and BaselineConfig's field names): a run
# that leaves them at their defaults is a plain single-treebank run
TRANSFER_FIELDS = ("donors", "donor_temperature", "target_share", "donor_schedule", "donor_translit",
                   "target_sentences", "epoch_sentences", "subword_dropout", "char_noise")

SCHEDULES = ("mixed", "sequential")
PHASES = ("mixed", "donors", "target")
TARGET_SCRIPT = "target"  # --donor-translit target: the scheme from each donor's script to the target's


@dataclass(frozen=True)
class Treebank:
    name: str  # the file it was read from
    sentences: list[Sentence]
    translit: str | None = None  # the scheme its FORMs were transliterated with


@dataclass
class TrainingData:
    """The treebanks of one run (target first), the target's dev sentences and notes for the user."""

    treebanks: list[Treebank]
    dev: list[Sentence]
    dev_source: str
    notes: list[str] = field(default_factory=list)

    @property
    def sentences(self) -> list[Sentence]:
        return [s for tb in self.treebanks for s in tb.sentences]

    @property
    def treebank_ids(self) -> list[int]:
        return [i for i, tb in enumerate(self.treebanks) for _ in tb.sentences]

    @property
    def sizes(self) -> list[int]:
        return [len(tb.sentences) for tb in self.treebanks]

    @property
    def n_embedded(self) -> int:
        """Treebank-embedding rows: one per treebank when donors join a target with training data; 0 (no embedding)
        for a single treebank, and in zero-shot training, where the target's row could never be learned."""
        return len(self.treebanks) if len(self.treebanks) > 1 and self.sizes[0] > 0 else 0


def read_training_data(config: Any, read_target: Callable[[Any], tuple[list[Sentence], list[Sentence], str]]
                       ) -> TrainingData:
    """The target (``config.train`` cut to ``config.target_sentences``, or none at all) and ``config.donors``.

    ``read_target(config)`` reads the target's training and dev sentences as a single-treebank run does (holding
    out dev sentences when there is no ``config.dev``)."""
    donors = tuple(config.donors or ())
    n = config.target_sentences
    if config.donor_schedule not in SCHEDULES:
        raise UsageError(f"--donor-schedule {config.donor_schedule!r}; valid: {', '.join(SCHEDULES)}")
    if config.train is None and not donors:
        raise UsageError("--train is required (or give --donor for zero-shot training on related treebanks)")
    if config.train is None or (n == 0 and config.dev):
        if not config.dev:
            raise UsageError("zero-shot training (no --train) needs --dev: the target's dev treebank picks the epoch")
        train, dev, source = [], read_conllu(config.dev, require_tree=True), config.dev
    else:
        train, dev, source = read_target(config)
    notes = []
    if config.train is None or n == 0:
        train = []
        notes.append(f"zero-shot: no target training sentences (dev: {source})")
    elif n is not None and n < len(train):
        train = train[:n]
        notes.append(f"few-shot: the first {n} target training sentences")
    elif n is not None and n > len(train):
        notes.append(f"--target-sentences {n}: the target has only {len(train)} training sentences; all are used")
    if not donors and not train:
        raise UsageError("--target-sentences 0 leaves nothing to train on; add --donor treebanks")
    treebanks = [Treebank(config.train or "(none)", train)]
    scheme_of = _donor_schemes(config.donor_translit, train or dev)
    for path in donors:
        sents = read_conllu(path, require_tree=True)
        if not sents:
            raise InputError(path, "no sentences in the donor treebank")
        scheme = scheme_of(sents)
        treebanks.append(Treebank(path, transliterate_sentences(sents, scheme, path) if scheme else sents, scheme))
        if scheme:
            notes.append(f"donor {path}: FORMs transliterated with {scheme}")
    if config.donor_schedule == "sequential" and not (donors and train):
        raise UsageError("--donor-schedule sequential needs --donor treebanks and target training sentences")
    return TrainingData(treebanks, dev, source, notes)


def _donor_schemes(choice: str | None, target: Sequence[Sentence]) -> Callable[[list[Sentence]], str | None]:
    """``--donor-translit``: none, ``target`` (each donor to the target's script), ``latin`` (each donor to Latin
    script; with the target's files transliterated too, a shared script) or one scheme for every donor."""
    from adaptlang.translit.choice import check_scheme

    if choice is None or choice.strip().lower() in ("", "none"):
        return lambda sents: None
    key = choice.strip().lower()
    if key not in (TARGET_SCRIPT, "latin"):
        try:
            fixed = check_scheme(choice.strip())
        except UsageError as e:
            message = str(e).replace("--translit:", "--donor-translit:", 1).split("; or one of")[0]
            raise UsageError(f"{message}; or none, {TARGET_SCRIPT} (the target's script) or latin") from None
        return lambda sents: fixed
    from adaptlang.scripts import dominant_script
    from adaptlang.translit import pick_scheme

    target_script = "Latn" if key == "latin" else dominant_script(w for s in target for w in s.forms)
    if target_script is None:
        raise UsageError("--donor-translit target: the target's words have no letters to tell its script")

    def to_target(sents: list[Sentence]) -> str | None:
        script = dominant_script(w for s in sents for w in s.forms)
        if script is None or script == target_script:
            return None
        name = pick_scheme(script, None, target=target_script)
        if name is None:
            raise UsageError(f"--donor-translit {key}: no scheme from {script} to {target_script} script; give a "
                             "scheme name (adaptlang transliterate --list)")
        return name

    return to_target


def transliterate_sentences(sents: Sequence[Sentence], scheme: str, path: str) -> list[Sentence]:
    """The sentences with FORM and LEMMA transliterated (as ``adaptlang transliterate`` does to a CoNLL-U file)."""
    from adaptlang.translit import get_transliterator
    from adaptlang.translit.conllu import ConlluTransliterator

    tr = ConlluTransliterator(get_transliterator(scheme).transliterate, path)
    text = "".join("\n".join(tr.sentence(s.lines, s.first_line)) + "\n\n" for s in sents)
    return parse_conllu_text(text, require_tree=True, name=f"{path} (transliterated with {scheme})")


# ---- sampling ----------------------------------------------------------------------------------------------------
def phase_sizes(sizes: Sequence[int], phase: str) -> list[int]:
    """The sizes with the treebanks a phase does not train on set to 0 (``donors``: all but treebank 0)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    return [n if phase == "mixed" or (phase == "target") == (i == 0) else 0 for i, n in enumerate(sizes)]


def proportions(sizes: Sequence[int], temperature: float, target_share: float = 0.0) -> list[float]:
    """Sampling probability of each treebank: ``n_i ** (1 / T)``, normalised (0 for empty treebanks); with
    ``target_share``, treebank 0 (the target) gets at least that share when other treebanks are sampled too, and the
    others share the rest in their smoothed proportions."""
    if temperature <= 0:
        raise UsageError(f"--donor-temperature must be a positive finite number, got {temperature}")
    weights = [n ** (1.0 / temperature) if n > 0 else 0.0 for n in sizes]
    total = sum(weights)
    if total == 0:
        raise UsageError("no training sentences in any treebank")
    p = [w / total for w in weights]
    if weights[0] > 0 and p[0] < target_share < 1 and total > weights[0]:
        rest = (1.0 - target_share) / (total - weights[0])
        p = [target_share] + [w * rest for w in weights[1:]]
    return p


def epoch_counts(sizes: Sequence[int], temperature: float, total: int, target_share: float = 0.0) -> list[int]:
    """Sentences per treebank in one epoch of ``total`` sentences (largest-remainder rounding of the proportions)."""
    exact = [p * total for p in proportions(sizes, temperature, target_share)]
    counts = [int(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _permutation(n: int, seed: int, treebank: int, cycle: int) -> list[int]:
    order = list(range(n))
    random.Random(f"{seed}/{treebank}/{cycle}").shuffle(order)
    return order


def _stream(n: int, seed: int, treebank: int, start: int, count: int) -> list[int]:
    """Items ``start .. start + count - 1`` of the endless stream of seeded permutations of ``range(n)``."""
    out: list[int] = []
    pos = start
    while len(out) < count:
        cycle, offset = divmod(pos, n)
        take = min(n - offset, count - len(out))
        out.extend(_permutation(n, seed, treebank, cycle)[offset: offset + take])
        pos += take
    return out


def epoch_sample(sizes: Sequence[int], temperature: float, seed: int, epoch: int,
                 total: int | None = None, target_share: float = 0.0) -> list[tuple[int, int]]:
    """Epoch ``epoch``'s sentences as (treebank, sentence index) pairs, treebank by treebank (batching shuffles).

    ``total`` defaults to ``sum(sizes)``; a pure function of its arguments."""
    total = sum(sizes) if total is None else total
    counts = epoch_counts(sizes, temperature, total, target_share)
    return [(t, i) for t, (n, c) in enumerate(zip(sizes, counts)) if c
            for i in _stream(n, seed, t, (epoch - 1) * c, c)]
