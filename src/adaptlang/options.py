"""Checks of numeric options, in one place for every command and library entry point.

A *spec* maps an option's flag to a rule::

    TRAIN = {"--lr": POSITIVE, "--warmup": FRACTION, "--max-minutes": optional(POSITIVE), "--epochs": at_least(1)}
    validate_numeric({"lr": 5e-5, "warmup": 0.1, "max_minutes": None, "epochs": 3}, TRAIN)

The value of ``--max-minutes`` is looked up under ``max_minutes`` (the flag without dashes, ``-`` -> ``_``, which is
also the name typer gives the parameter); ``names`` maps flags whose field is called otherwise (``{"--lr":
"encoder_lr"}``). A bad value raises :class:`~adaptlang.errors.UsageError` naming the flag, what it must be and what
it got: ``--lr must be a positive finite number, got -1.0``. NaN and infinities fail every rule but ``optional``'s
``None``; booleans are not numbers here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from adaptlang.errors import UsageError


@dataclass(frozen=True)
class Rule:
    """A test on a value plus the words for what a good value is (``"a positive finite number"``)."""

    test: Callable[[Any], bool]
    expects: str
    allow_none: bool = False

    def check(self, flag: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        if not (_is_number(value) and self.test(value)):
            raise UsageError(f"{flag} must be {self.expects}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def at_least(n: int) -> Rule:
    """An integer >= n (``at_least(1)`` for counts and sizes, ``at_least(0)`` where 0 means none or off)."""
    return Rule(lambda v: _is_int(v) and v >= n, f"an integer >= {n}")


def in_range(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """A number between lo and hi; ``lo_open`` / ``hi_open`` exclude the bound."""
    def test(v: float) -> bool:
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return Rule(test, f"a number in {left}{_fmt(lo)}, {_fmt(hi)}{right}")


def optional(rule: Rule) -> Rule:
    """The same rule, or ``None`` (an option left unset)."""
    return Rule(rule.test, rule.expects, allow_none=True)


POSITIVE = Rule(lambda v: v > 0, "a positive finite number")
NON_NEGATIVE = Rule(lambda v: v >= 0, "0 or a positive finite number")
FRACTION = in_range(0, 1, hi_open=True)  # warmup, dropout: a share of something, 1 excluded
PROBABILITY = in_range(0, 1, lo_open=True, hi_open=True)  # a rate that must do something and not everything
SEED = at_least(0)  # numpy's generators refuse negative seeds
THREADS = optional(at_least(1))


def validate_numeric(values: Mapping[str, Any] | object, spec: Mapping[str, Rule],
                     names: Mapping[str, str] | None = None) -> None:
    """Check every option of ``spec`` in ``values`` (a mapping such as a command's ``locals()`` or
    ``dataclasses.asdict(config)``, or an object with attributes such as the config itself).

    Raises :class:`UsageError` for the first bad value (in the spec's order) and ``KeyError`` when ``values`` has no
    field for a flag: a spec that names a missing option is a programming error, not a user's.
    """
    names = names or {}
    for flag, rule in spec.items():
        key = names.get(flag) or flag.lstrip("-").replace("-", "_")
        if isinstance(values, Mapping):
            value = values[key]
        elif hasattr(values, key):
            value = getattr(values, key)
        else:
            raise KeyError(key)
        rule.check(flag, value)


# ---- the commands' specs (the library entry points may check the same ones with ``names``) ----------------------
EVALUATE = {"--bootstrap": at_least(0), "--seed": SEED, "--batch-size": at_least(1), "--threads": THREADS}
PREDICT = {"--batch-size": at_least(1), "--threads": THREADS}
# transfer from donor treebanks and training-time noise (train, and the TrainConfig fields of the same names)
DONORS = {"--donor-temperature": POSITIVE, "--target-share": FRACTION, "--target-sentences": optional(at_least(0)),
          "--epoch-sentences": optional(at_least(1)), "--char-noise": FRACTION}  # baseline and train
TRANSFER = {**DONORS, "--subword-dropout": FRACTION}
TRAIN = {
    "--epochs": at_least(1), "--lr": POSITIVE, "--head-lr": POSITIVE, "--batch-size": at_least(1),
    "--max-tokens": at_least(1), "--warmup": FRACTION, "--patience": at_least(0),
    "--max-minutes": optional(POSITIVE), "--seed": SEED, "--threads": THREADS, "--max-length": optional(at_least(4)),
    "--tag-weight": NON_NEGATIVE, **TRANSFER,
}
BASELINE = {
    "--epochs": at_least(1), "--max-minutes": optional(POSITIVE), "--seed": SEED, "--lr": POSITIVE,
    "--beta2": FRACTION, "--batch-size": at_least(1), "--patience": at_least(0), "--hidden": at_least(1),
    "--layers": at_least(1), "--dropout": FRACTION, "--word-dropout": FRACTION, "--threads": at_least(0),
    "--tag-weight": NON_NEGATIVE, **DONORS,
}
ADAPT = {
    "--extend-vocab": at_least(0), "--max-seq-len": at_least(8), "--batch-size": optional(at_least(1)),
    "--grad-accum": at_least(1), "--steps": optional(at_least(1)), "--epochs": optional(POSITIVE),
    "--lr": optional(POSITIVE), "--warmup": FRACTION, "--weight-decay": NON_NEGATIVE,
    "--mlm-probability": PROBABILITY, "--heldout-fraction": in_range(0, 0.5, lo_open=True),
    "--pppl-tokens": at_least(0), "--lora-r": at_least(1), "--lora-alpha": at_least(1), "--save-every": at_least(1),
    "--seed": SEED, "--max-minutes": optional(POSITIVE), "--threads": THREADS,
    "--eval-every": optional(at_least(1)), "--patience": at_least(0), "--head-lr": POSITIVE,
}
PRETRAIN = {
    "--vocab-size": at_least(100), "--layers": at_least(1), "--hidden": at_least(8), "--heads": at_least(1),
    "--epochs": POSITIVE, "--max-minutes": optional(POSITIVE), "--eval-every": optional(at_least(1)),
    "--patience": at_least(0), "--lr": POSITIVE, "--batch-size": at_least(1), "--max-seq-len": at_least(8),
    "--seed": SEED, "--threads": THREADS,
}
CATEGORIZE = {
    "--seeds": at_least(1), "--epochs": at_least(1), "--baseline-epochs": optional(at_least(1)),
    "--adapt-steps": optional(at_least(1)), "--max-train-sentences": optional(at_least(2)),
    "--adapt-epochs": POSITIVE, "--adapt-minutes": optional(POSITIVE), "--scratch-minutes": optional(POSITIVE),
    "--max-minutes": optional(POSITIVE), "--batch-size": at_least(1), "--bootstrap": at_least(100),
    "--level": in_range(0.5, 1, hi_open=True), "--threads": THREADS, "--jobs": at_least(1),
}
CKA = {"--rbf-sigma": POSITIVE, "--max-sentences": optional(at_least(2)), "--batch-size": at_least(1),
       "--threads": THREADS, "--max-length": at_least(4)}
RANDOM_INIT = {"--epochs": at_least(1), "--seed": SEED, "--batch-size": at_least(1),
               "--max-train-sentences": optional(at_least(2)), "--bootstrap": at_least(1), "--threads": THREADS}
TRANSLITERATE = {"--workers": optional(at_least(1))}
PROBE = {"--max-train-sentences": optional(at_least(1)), "--max-eval-sentences": optional(at_least(1)),
         "--c": POSITIVE, "--max-iter": at_least(1), "--threads": THREADS, "--max-length": optional(at_least(4))}
ASSESS = {"--sample-sentences": at_least(1), "--seed": SEED}
