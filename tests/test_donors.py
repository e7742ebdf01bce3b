"""Training with donor treebanks: the sampling proportions, the treebank embedding (the target's at prediction),
zero- and few-shot cuts, transliterated donors, the sequential schedule and resume, and the command line."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from adaptlang.data.conllu import read_conllu
from adaptlang.data.donors import epoch_counts, epoch_sample, phase_sizes, proportions
from adaptlang.errors import UsageError
from adaptlang.tasks import TrainConfig, load_parser, train_parser
from conftest import toy_sentence


pytestmark = pytest.mark.usefixtures("one_thread")

def test_proportions_follow_the_temperature() -> None:
    assert proportions([100, 0, 400], 1.0) == pytest.approx([0.2, 0.0, 0.8])
    assert proportions([100, 400], 2.0) == pytest.approx([10 / 30, 20 / 30])  # sqrt smoothing
    assert proportions([100, 400], 1e6) == pytest.approx([0.5, 0.5], abs=1e-5)  # close to uniform
    assert epoch_counts([100, 400], 2.0, 500) == [167, 333] and sum(epoch_counts([7, 3, 5], 1.5, 11)) == 11
    with pytest.raises(UsageError, match="--donor-temperature"):
        proportions([1, 2], 0)
    assert phase_sizes([5, 7, 9], "donors") == [0, 7, 9] and phase_sizes([5, 7, 9], "target") == [5, 0, 0]
    # --target-share: a floor for the target; the donors keep their smoothed ratio in the rest
    assert proportions([100, 400, 1600], 2.0, 0.5) == pytest.approx([0.5, 0.5 / 3, 1 / 3])
    assert proportions([900, 100], 2.0, 0.5) == pytest.approx([0.75, 0.25])  # above the floor already: unchanged
    assert proportions([0, 100], 2.0, 0.5) == [0.0, 1.0] and proportions([100], 2.0, 0.5) == [1.0]  # zero-shot, alone
    assert epoch_counts([200, 3435], 2.0, 3635, 0.5) == [1818, 1817]


def test_epoch_sample_is_pure_and_fair() -> None:
    sizes = [10, 40]
    a = epoch_sample(sizes, 2.0, seed=3, epoch=2)
    assert a == epoch_sample(sizes, 2.0, seed=3, epoch=2) and a != epoch_sample(sizes, 2.0, seed=3, epoch=3)
    assert len(a) == 50 and Counter(t for t, _ in a) == {0: 17, 1: 33}
    # over the epochs every sentence of a treebank comes equally often (a stream of permutations, not draws)
    seen = Counter(i for e in range(1, 11) for t, i in epoch_sample(sizes, 2.0, 3, e) if t == 0)
    assert set(seen) == set(range(10)) and max(seen.values()) - min(seen.values()) <= 1
    assert len(epoch_sample(sizes, 2.0, 3, 1, total=8)) == 8


def _write(path: Path, n: int, seed: int, transform=None) -> Path:
    rng = random.Random(seed)
    text = "".join(toy_sentence(rng, f"{path.stem}-{k}") for k in range(n))
    path.write_text(transform(text) if transform else text, encoding="utf-8")
    return path


@pytest.fixture
def banks(tmp_path: Path) -> dict[str, Path]:
    """A target (12 sentences), its dev (4) and a donor (20) with one relation the target lacks (obl:tmod)."""
    return {"train": _write(tmp_path / "target.conllu", 12, 1), "dev": _write(tmp_path / "dev.conllu", 4, 2),
            "donor": _write(tmp_path / "donor.conllu", 20, 3, lambda t: t.replace("\tobl\t", "\tobl:tmod\t"))}


def config(tmp_path: Path, model: Path, banks: dict[str, Path], out: str = "out", **kw) -> TrainConfig:
    base = dict(train=str(banks["train"]), dev=str(banks["dev"]), out=str(tmp_path / out),
                encoder={"kind": "transformer", "model": str(model)}, epochs=2, arc_dim=16, rel_dim=8,
                encoder_lr=1e-3, head_lr=5e-3, seed=3, device="cpu", patience=0, donors=(str(banks["donor"]),))
    base.update(kw)
    return TrainConfig(**base)


def test_donors_share_labels_and_the_target_embedding_is_used_at_prediction(tmp_path: Path, tiny_bert_dir: Path,
                                                                            banks: dict[str, Path]) -> None:
    result = train_parser(config(tmp_path, tiny_bert_dir, banks))
    assert result.n_train_sentences == 32
    seen = 2 * epoch_counts([12, 20], 2.0, 32, 0.5)[0]  # two epochs of the default sample (target share 0.5)
    assert f"donors: {seen} of the 64 sentences trained on were the target's ({seen / 12:.1f} passes over its 12); " \
           f"the same steps without donors would have made {64 / 12:.1f} passes" in " ".join(result.notes)
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["heads"]["n_treebanks"] == 2 and saved["heads"]["target_treebank"] == 0
    assert saved["train"]["donors"] == [str(banks["donor"])]
    assert f"| donor 1 | `{banks['donor']}` |" in (tmp_path / "out" / "README.md").read_text()  # with its SHA-256
    loaded = load_parser(tmp_path / "out", device="cpu")
    assert "obl:tmod" in loaded.deprel.labels and "obl" in loaded.deprel.labels  # the union, subtypes as written
    weights = load_file(str(tmp_path / "out" / "heads.safetensors"))["treebank.weight"]
    assert weights.shape[0] == 2 and not torch.equal(weights[0], weights[1])  # both rows were trained
    model = loaded.model
    words = [s.forms for s in read_conllu(banks["dev"])]
    inputs = model.encoder.collate(words)
    with torch.no_grad():
        default = model(inputs).s_arc
        as_target = model({**inputs, "treebank": torch.zeros(len(words), dtype=torch.long)}).s_arc
        as_donor = model({**inputs, "treebank": torch.ones(len(words), dtype=torch.long)}).s_arc
    assert torch.equal(default, as_target) and not torch.equal(default, as_donor)


def test_zero_and_few_shot(tmp_path: Path, tiny_bert_dir: Path, banks: dict[str, Path]) -> None:
    zero = train_parser(config(tmp_path, tiny_bert_dir, banks, "zero", train=None, epochs=1))
    assert zero.n_train_sentences == 20 and zero.n_dev_sentences == 4
    assert not any(n.startswith("donors:") for n in zero.notes)  # no target to count
    assert json.loads((tmp_path / "zero" / "config.json").read_text())["heads"]["n_treebanks"] == 0
    assert any("zero-shot" in n for n in train_parser(config(tmp_path, tiny_bert_dir, banks, "zero2", epochs=1,
                                                             target_sentences=0)).notes)
    few = train_parser(config(tmp_path, tiny_bert_dir, banks, "few", target_sentences=5, epochs=1))
    assert few.n_train_sentences == 25 and any("first 5 target" in n for n in few.notes)
    alone = train_parser(config(tmp_path, tiny_bert_dir, banks, "alone", target_sentences=5, donors=(), epochs=1))
    assert alone.n_train_sentences == 5
    with pytest.raises(UsageError, match="needs --dev"):
        train_parser(config(tmp_path, tiny_bert_dir, banks, "bad", train=None, dev=None))
    with pytest.raises(UsageError, match="--train is required"):
        train_parser(config(tmp_path, tiny_bert_dir, banks, "bad", train=None, donors=()))
    with pytest.raises(UsageError, match="--donor-schedule sequential needs"):
        train_parser(config(tmp_path, tiny_bert_dir, banks, "bad", train=None, donor_schedule="sequential"))
    assert not (tmp_path / "bad").exists()


def test_donor_transliteration(tmp_path: Path, tiny_bert_dir: Path, banks: dict[str, Path]) -> None:
    from adaptlang.data.donors import read_training_data
    from adaptlang.tasks.parse import read_treebanks

    arabic = _write(tmp_path / "ar.conllu", 6, 4, lambda t: t)
    from adaptlang.data.donors import transliterate_sentences

    target = transliterate_sentences(read_conllu(arabic), "table:latn-arab", str(arabic))
    assert all(any("\u0600" <= c <= "\u06ff" for c in w) for s in target for w in s.forms if w.isalpha())
    tb = tmp_path / "ar-target.conllu"
    tb.write_text("".join(s.to_text() for s in target), encoding="utf-8")
    cfg = config(tmp_path, tiny_bert_dir, banks, train=str(tb), dev=None, donor_translit="target")
    data = read_training_data(cfg, read_treebanks)
    donor = data.treebanks[1]
    assert donor.translit == "table:latn-arab" and any("transliterated" in n for n in data.notes)
    original = read_conllu(banks["donor"])
    assert [s.deprels for s in donor.sentences] == [s.deprels for s in original]
    assert donor.sentences[0].forms != original[0].forms and "OrigForm=" in donor.sentences[0].lines[-1]
    named = read_training_data(config(tmp_path, tiny_bert_dir, banks, donor_translit="table:latn-arab"),
                               read_treebanks)
    assert named.treebanks[1].sentences[0].forms == donor.sentences[0].forms
    latin = read_training_data(config(tmp_path, tiny_bert_dir, banks, donor_translit="latin"), read_treebanks)
    assert latin.treebanks[1].translit is None  # already in Latin script
    with pytest.raises(UsageError, match="--donor-translit: unknown.*or none, target .* or latin$"):
        read_training_data(config(tmp_path, tiny_bert_dir, banks, donor_translit="table:nope"), read_treebanks)


def test_sequential_schedule_resumes_bit_exact(tmp_path: Path, tiny_bert_dir: Path, banks: dict[str, Path]) -> None:
    seq = dict(donor_schedule="sequential", char_noise=0.2, subword_dropout=0.2)
    a = train_parser(config(tmp_path, tiny_bert_dir, banks, "a", **seq))
    assert a.epochs_run == 2  # the target phase's epochs; the donor phase's are in fit.meta
    assert a.fit["meta"]["donor_phase"]["epochs"] == 2 and "las" in a.fit["meta"]["donor_phase"]["dev"]
    share = "donors: 24 of the 64 sentences trained on were the target's (2.0 passes over its 12)"  # both phases
    assert share in " ".join(a.notes)

    class Crash(Exception):
        pass

    epochs = []

    def crash_in_target_phase(event) -> None:
        if event.kind == "epoch":
            epochs.append(event.epoch)
            if len(epochs) == 3:  # donor epochs 1, 2, then target epoch 1
                raise Crash

    with pytest.raises(Crash):
        train_parser(config(tmp_path, tiny_bert_dir, banks, "b", **seq), crash_in_target_phase)
    b = train_parser(config(tmp_path, tiny_bert_dir, banks, "b", resume=True, **seq))
    assert b.resumed_from_epoch == 1 and share in " ".join(b.notes)  # the counts survive the crash
    heads_a = load_file(str(tmp_path / "a" / "heads.safetensors"))
    heads_b = load_file(str(tmp_path / "b" / "heads.safetensors"))
    assert all(torch.equal(heads_a[k], heads_b[k]) for k in heads_a)


def test_cli_train_with_donor(tmp_path: Path, tiny_bert_dir: Path, banks: dict[str, Path], run_cli) -> None:
    out = tmp_path / "cli"
    r = run_cli("train", "--train", str(banks["train"]), "--dev", str(banks["dev"]), "--donor", str(banks["donor"]),
                "--donor-temperature", "1", "--epoch-sentences", "16", "--model", str(tiny_bert_dir), "-o", str(out),
                "--epochs", "1", "--threads", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["train"]["epoch_sentences"] == 16
    r = run_cli("evaluate", str(out), str(banks["dev"]), "--bootstrap", "0", "--json", "-")
    assert r.returncode == 0 and "las" in json.loads(r.stdout)
    r = run_cli("train", "--dev", str(banks["dev"]), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--train is required" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train", "--train", str(banks["train"]), "--donor", str(banks["donor"]), "--donor-temperature", "0",
                "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--donor-temperature must be a positive" in r.stderr
    r = run_cli("train", "--train", str(banks["train"]), "--donor", str(banks["donor"]), "--donor-schedule", "zigzag",
                "--model", str(tiny_bert_dir), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--donor-schedule 'zigzag'" in r.stderr and not (tmp_path / "x").exists()


def test_cli_baseline_with_donor_and_char_noise(tmp_path: Path, banks: dict[str, Path], run_cli) -> None:
    out = tmp_path / "bl"
    r = run_cli("baseline", "--train", str(banks["train"]), "--dev", str(banks["dev"]), "--donor", str(banks["donor"]),
                "--char-noise", "0.1", "--target-sentences", "6", "-o", str(out), "--epochs", "2", "--hidden", "8",
                "--layers", "1", "--threads", "1", "-q", "--json", "-")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n_train_sentences"] == 26
    saved = json.loads((out / "config.json").read_text())
    assert saved["heads"]["n_treebanks"] == 2 and saved["train"]["char_noise"] == 0.1
    assert saved["train"]["target_sentences"] == 6
    r = run_cli("baseline", "--train", str(banks["train"]), "--donor", str(banks["donor"]), "--char-noise", "1.5",
                "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--char-noise must be a number in [0, 1)" in r.stderr


def test_runs_without_donors_compare_as_before_for_resume(tmp_path: Path, tiny_bert_dir: Path,
                                                          banks: dict[str, Path]) -> None:
    """A checkpoint written before the donor and noise options existed resumes under a plain run's options."""
    from adaptlang.engine import check_resumable
    from adaptlang.tasks.parse import _comparable
    from adaptlang.data.donors import TRANSFER_FIELDS

    plain = _comparable(config(tmp_path, tiny_bert_dir, banks, donors=()))
    assert not set(TRANSFER_FIELDS) & set(plain)
    check_resumable(dict(plain), plain)
    with pytest.raises(UsageError, match="--donor"):
        check_resumable(plain, _comparable(config(tmp_path, tiny_bert_dir, banks)))
    assert _comparable(config(tmp_path, tiny_bert_dir, banks))["donors"] == [str(banks["donor"])]


def test_donor_checkpoints_from_before_the_target_share_refuse_resume(tmp_path: Path, tiny_bert_dir: Path,
                                                                     banks: dict[str, Path]) -> None:
    """A donor run saved before --target-share existed sampled as --target-share 0 does: it resumes under that
    value and is refused under the new default, which would change its epochs."""
    from adaptlang.engine import check_resumable
    from adaptlang.tasks.parse import _comparable

    old = _comparable(config(tmp_path, tiny_bert_dir, banks, target_share=0.0))
    assert "target_share" not in old  # what such a checkpoint holds
    check_resumable(dict(old), _comparable(config(tmp_path, tiny_bert_dir, banks, target_share=0.0)))
    with pytest.raises(UsageError, match="target"):
        check_resumable(old, _comparable(config(tmp_path, tiny_bert_dir, banks)))
