"""Numeric options: one set of rules (adaptlang.options), checked by every command before any work."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from adaptlang import options
from adaptlang.errors import UsageError
from adaptlang.options import (
    FRACTION, POSITIVE, PROBABILITY, at_least, in_range, optional, validate_numeric,
)


@pytest.mark.parametrize("rule, good, bad", [
    (POSITIVE, [1e-5, 3, 1e9], [0, -1.0, math.nan, math.inf, True, "1"]),
    (FRACTION, [0, 0.1, 0.999], [1, 2, -0.1, math.nan]),
    (PROBABILITY, [0.15, 0.5], [0, 1, math.nan]),
    (at_least(1), [1, 7, 2.0], [0, -3, 1.5, math.inf]),
    (at_least(0), [0, 5], [-1]),
    (in_range(0, 0.5, lo_open=True), [0.5, 0.01], [0, 0.51]),
    (optional(POSITIVE), [None, 2.5], [0, math.nan]),
])
def test_rules_accept_good_and_reject_bad_values(rule, good, bad) -> None:
    for v in good:
        rule.check("--x", v)
    for v in bad:
        with pytest.raises(UsageError, match=r"^--x must be "):
            rule.check("--x", v)
    with pytest.raises(UsageError):
        POSITIVE.check("--x", None)  # None passes only an optional rule


def test_message_names_the_flag_the_rule_and_the_value() -> None:
    with pytest.raises(UsageError) as e:
        validate_numeric({"lr": -1.0}, {"--lr": POSITIVE})
    assert str(e.value) == "--lr must be a positive finite number, got -1.0"
    with pytest.raises(UsageError, match=r"--warmup must be a number in \[0, 1\), got 2"):
        validate_numeric({"warmup": 2}, {"--warmup": FRACTION})


@dataclass
class _Config:
    encoder_lr: float = 5e-5
    max_minutes: float | None = None


def test_validate_numeric_reads_objects_and_renamed_fields() -> None:
    spec = {"--lr": POSITIVE, "--max-minutes": optional(POSITIVE)}
    validate_numeric(_Config(), spec, names={"--lr": "encoder_lr"})
    with pytest.raises(UsageError, match="--lr must be"):
        validate_numeric(_Config(encoder_lr=math.nan), spec, names={"--lr": "encoder_lr"})
    with pytest.raises(UsageError, match="--max-minutes must be"):
        validate_numeric({"encoder_lr": 1.0, "max_minutes": -1.0}, spec, names={"--lr": "encoder_lr"})
    with pytest.raises(KeyError):  # a spec naming a field that does not exist is a bug, not a user error
        validate_numeric(_Config(), spec)


def test_every_command_spec_names_real_parameters() -> None:
    """Each spec's flags are options of its command (so ``locals()`` has them) with defaults that pass."""
    import inspect

    from adaptlang.cli import adapt, analyze, assess, baseline, categorize, train, transliterate

    commands = {
        "TRAIN": train.train, "EVALUATE": train.evaluate, "PREDICT": train.predict, "BASELINE": baseline.baseline,
        "ADAPT": adapt.adapt, "CATEGORIZE": categorize.categorize_command, "CKA": analyze.cka_command,
        "RANDOM_INIT": analyze.random_init_command, "TRANSLITERATE": transliterate.transliterate_command,
        "ASSESS": assess.assess_command,
    }
    for name, fn in commands.items():
        spec = getattr(options, name)
        params = inspect.signature(fn).parameters
        for flag in spec:
            param = params[flag.lstrip("-").replace("-", "_")]
            assert flag in param.default.param_decls, (name, flag)
        validate_numeric({k: p.default.default for k, p in params.items()}, spec)  # the defaults are valid


@pytest.mark.parametrize("args, message", [
    (["train", "--train", "t.conllu", "--model", "m", "-o", "{out}", "--lr", "-1"], "--lr must be a positive"),
    (["train", "--train", "t.conllu", "--model", "m", "-o", "{out}", "--head-lr", "nan"], "--head-lr must be"),
    (["train", "--train", "t.conllu", "--model", "m", "-o", "{out}", "--max-tokens", "0"], "--max-tokens must be"),
    (["train", "--train", "t.conllu", "--model", "m", "-o", "{out}", "--warmup", "2"], "--warmup must be"),
    (["train", "--train", "t.conllu", "--model", "m", "-o", "{out}", "--max-minutes", "-1"], "--max-minutes must"),
    (["baseline", "--train", "t.conllu", "-o", "{out}", "--max-minutes", "-1"], "--max-minutes must be"),
    (["baseline", "--train", "t.conllu", "-o", "{out}", "--dropout", "1.5"], "--dropout must be"),
    (["evaluate", "m", "t.conllu", "--bootstrap", "-1"], "--bootstrap must be an integer >= 0"),
    (["evaluate", "m", "t.conllu", "--batch-size", "0"], "--batch-size must be an integer >= 1"),
    (["evaluate", "m", "t.conllu", "--seed", "-1"], "--seed must be an integer >= 0"),
    (["predict", "m", "t.conllu", "-o", "{out}", "--batch-size", "0"], "--batch-size must be"),
    (["adapt", "c.txt", "--model", "m", "-o", "{out}", "--weight-decay", "-0.1"], "--weight-decay must be"),
    (["categorize", "--corpus", "c", "--train", "t", "--test", "t", "--model", "m", "-o", "{out}", "--level", "1"],
     "--level must be"),
    (["analyze", "cka", "--model", "m", "--source", "s", "--target", "t", "-o", "{out}", "--rbf-sigma", "0"],
     "--rbf-sigma must be"),
    (["assess", "c.txt", "--sample-sentences", "0"], "--sample-sentences must be"),
])
def test_commands_reject_bad_numbers_with_one_line_and_write_nothing(run_cli, tmp_path: Path, args, message) -> None:
    out = tmp_path / "out"
    r = run_cli(*[a.replace("{out}", str(out)) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()
