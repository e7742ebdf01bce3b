"""NER in the studies: ``categorize --task ner|both`` (stages, entity-F1 bootstrap, verdict, report, resume, option
errors), ``analyze random-init --task ner``, and the Naija training file's invalid IOB2 transition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaptlang.errors import InputError, UsageError
from adaptlang.pipeline import CategorizeConfig, plan_categorize, run_categorize
from adaptlang.stats import f1_per_seed, paired_bootstrap_diff, paired_bootstrap_f1_diff
from test_ner import NER, toy_ner

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ner_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ner-toy")
    files = {name: d / f"{name}.txt" for name in ("train", "dev", "test")}
    for (name, path), (n, seed) in zip(files.items(), ((24, 1), (6, 2), (10, 3))):
        path.write_text(toy_ner(n, seed), encoding="utf-8")
    words = [line.split()[0] for line in files["train"].read_text(encoding="utf-8").splitlines() if line.strip()]
    files["corpus"] = d / "corpus.txt"
    files["corpus"].write_text("\n".join(" ".join(words[i:i + 8]) for i in range(0, len(words), 8)) * 3 + "\n",
                               encoding="utf-8")
    return files


def _config(files: dict[str, Path], model: Path, out: Path, **kw: object) -> CategorizeConfig:
    base = dict(corpus=str(files["corpus"]), train=None, test=None, model=str(model), output=str(out), task="ner",
                ner_train=str(files["train"]), ner_dev=str(files["dev"]), ner_test=str(files["test"]), seeds=2,
                translit="none", epochs=1, baseline_epochs=1, adapt_steps=2, n_bootstrap=200, device="cpu",
                baseline_corpus=False, max_train_sentences=20, adapt_options={"pppl_tokens": 8})
    base.update(kw)
    return CategorizeConfig(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# Statistics: entity F1 from summed counts


def test_f1_bootstrap_recomputes_f1_from_summed_counts() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 4, size=50)
    pred_a, pred_b = rng.integers(0, 4, size=(2, 50))
    a = np.stack([np.minimum(gold, pred_a), pred_a, gold], axis=-1)[None]  # [1 seed, 50 sentences, 3]
    b = np.stack([np.minimum(gold, pred_b) // 2, pred_b, gold], axis=-1)[None]
    f1 = lambda c: 200.0 * c[..., 0].sum() / (c[..., 1].sum() + c[..., 2].sum())  # noqa: E731
    assert f1_per_seed(a)[0] == pytest.approx(f1(a))
    d = paired_bootstrap_f1_diff(a, b, a="a", b="b", n_bootstrap=500, seed=1)
    assert d.diff == pytest.approx(f1(a) - f1(b)) and d.ci_low < d.diff < d.ci_high and not d.within_noise
    # Not a mean of per-sentence F1s: that would give another point estimate.
    per_sentence = [200.0 * c / max(p + g, 1) for c, p, g in a[0]]
    assert abs(np.mean(per_sentence) - f1(a)) > 0.5
    same = paired_bootstrap_f1_diff(a, a, n_bootstrap=100)
    assert same.diff == 0 and same.ci_low == same.ci_high == 0
    # Two seeds: the point estimate is the mean of the seeds' F1; seed resampling widens the interval.
    two = np.concatenate([a, b])
    d2 = paired_bootstrap_f1_diff(two, b, n_bootstrap=300, seed=2)
    assert d2.diff == pytest.approx((f1(a) + f1(b)) / 2 - f1(b))
    fixed = paired_bootstrap_f1_diff(two, b, n_bootstrap=300, seed=2, resample_seeds=False)
    assert d2.ci_high - d2.ci_low > fixed.ci_high - fixed.ci_low
    with pytest.raises(ValueError, match="correct entities"):
        paired_bootstrap_f1_diff(np.array([[[3, 1, 1]]]), np.array([[[0, 1, 1]]]))
    # The accuracy bootstrap is unchanged (same call, same result shape).
    assert paired_bootstrap_diff(np.array([[1, 2]]), np.array([[1, 1]]), np.array([2, 2]), n_bootstrap=10).diff == 25


# ---------------------------------------------------------------------------------------------------------------
# categorize --task ner


@pytest.mark.parametrize("kw, message", [
    ({"task": "pos"}, "--task must be one of parse, ner, both"),
    ({"train": "x.conllu"}, "with --task ner give the NER files as --ner-train"),
    ({"ner_test": None}, "--task ner needs --ner-train and --ner-test"),
    ({"task": "parse", "train": "a", "test": "b"}, "--ner-train, --ner-dev, --ner-test: for --task ner or both"),
    ({"task": "both"}, "--task both needs --train and --test"),
    ({"ner_dev": "/nonexistent/dev.txt"}, "--ner-dev /nonexistent/dev.txt: no such file"),
])
def test_categorize_task_option_errors(ner_files: dict[str, Path], tmp_path: Path, kw: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("-", r"\-").replace(".", r"\.")):
        plan_categorize(_config(ner_files, tmp_path / "model", tmp_path / "run", **kw))
    assert not (tmp_path / "run").exists()


def test_categorize_ner_bad_tag_names_file_line_and_lenient(ner_files: dict[str, Path], tiny_bert_dir: Path,
                                                            tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Awa B-PER\nDakar I-LOC\n\nXam O\nFatou B-PER\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.txt:2: I-LOC follows B-PER.*--lenient") as e:
        run_categorize(_config({**ner_files, "train": bad}, tiny_bert_dir, tmp_path / "run"))
    assert "\n" not in str(e.value) and not (tmp_path / "run").exists()


def test_categorize_ner_end_to_end_and_resume(ner_files: dict[str, Path], tiny_bert_dir: Path,
                                              tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _config(ner_files, tiny_bert_dir, run)
    planned = plan_categorize(config)
    names = [s.name for s in planned.stages]
    assert names == ["assess", "ner data", "adapt"] + [f"ner {v} seed {s}" for v in ("baseline", "direct", "mlm")
                                                       for s in (1, 2)]
    result = run_categorize(config)
    r = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert list(r["verdict"]["tasks"]) == ["ner"] and r["verdict"]["category"] == result.verdict.category
    assert set(r["differences"]["ner"]) >= {"direct - baseline", "mlm - baseline", "mlm - direct", "best adapted"}
    ner = r["ner"]
    assert ner["data"]["n_train_sentences"] == 20 and ner["data"]["n_train_sentences_total"] == 24
    assert set(ner["variants"]) == {"baseline", "direct", "mlm"} and ner["variants"]["baseline"]["seeds"] == 2
    # The verdict's difference is the difference of the seed-mean F1 of the two variants' runs.
    v = ner["variants"]
    direct = r["verdict"]["tasks"]["ner"]["direct_vs_baseline"]
    assert direct["diff"] == pytest.approx(v["direct"]["f1"]["mean"] - v["baseline"]["f1"]["mean"], abs=1e-3)
    counts = result.ner.variants["baseline"].runs[0].counts
    assert len(counts) == 10 and all(len(row) == 3 for row in counts)  # correct, predicted, gold per sentence
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "| NER |" in report and "## NER test scores" in report and "entity F1" in report
    # A rerun reuses every stage.
    assert all(s.status == "reused" for s in plan_categorize(config).stages)


def test_categorize_ner_subset_of_variants_gives_no_verdict(ner_files: dict[str, Path], tiny_bert_dir: Path,
                                                           tmp_path: Path) -> None:
    from adaptlang.stats import INCOMPLETE

    result = run_categorize(_config(ner_files, tiny_bert_dir, tmp_path / "run", seeds=1,
                                    variants=("baseline", "direct")))
    assert result.verdict.category == INCOMPLETE and result.verdict.missing == ("mlm",)
    assert list(result.tasks["ner"].differences) == ["direct - baseline"] and result.ner.verdict is None
    assert "No category" in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")


def test_categorize_both_tasks_share_the_adaptation(ner_files: dict[str, Path], toy_treebanks: dict[str, Path],
                                                    tiny_bert_dir: Path, tmp_path: Path) -> None:
    config = _config(ner_files, tiny_bert_dir, tmp_path / "run", task="both", train=str(toy_treebanks["train"]),
                     dev=str(toy_treebanks["dev"]), test=str(toy_treebanks["test"]), seeds=1, max_train_sentences=12)
    names = [s.name for s in plan_categorize(config).stages]
    assert names.count("adapt") == 1 and "data" in names and "ner data" in names
    assert {"baseline seed 1", "ner baseline seed 1", "mlm seed 1", "ner mlm seed 1"} <= set(names)
    result = run_categorize(config)
    assert [t.task for t in result.verdict.per_task] == ["upos", "las", "ner"]
    from adaptlang.stats import CATEGORIES, UNDECIDED

    hardest = max((t.measured for t in result.verdict.per_task), key=CATEGORIES.index)
    assert result.verdict.measured == hardest and result.verdict.category in (hardest, UNDECIDED)
    assert "## NER test scores" in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")


def test_categorize_cli_ner_errors_are_one_line(run_cli, ner_files: dict[str, Path], tmp_path: Path) -> None:
    r = run_cli("categorize", "--task", "ner", "--corpus", str(ner_files["corpus"]), "--train",
                str(ner_files["train"]), "--model", "x", "-o", str(tmp_path / "run"))
    code, err = r.returncode, r.stderr
    assert code != 0 and "--ner-train" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------------------------
# analyze random-init --task ner


def test_random_init_ner(ner_files: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path) -> None:
    from adaptlang.pipeline.randominit import RandomInitConfig, run_random_init

    config = RandomInitConfig(train=str(ner_files["train"]), test=str(ner_files["test"]), model=str(tiny_bert_dir),
                              output=str(tmp_path / "ri"), pairs=("1-2",), dev=str(ner_files["dev"]),
                              test_cross=(str(ner_files["dev"]),), epochs=1, n_bootstrap=100, device="cpu",
                              task="ner")
    r = run_random_init(config)
    assert r["metrics"] == ["f1"] and r["task"] == "ner"
    cell = r["rows"][0]["tests"][str(ner_files["test"])]["f1"]
    assert cell["diff"] == pytest.approx(cell["score"] - r["ref"][str(ner_files["test"])]["f1"], abs=1e-3)
    assert (tmp_path / "ri" / "random-init.png").is_file()
    with pytest.raises(UsageError, match="--task"):
        run_random_init(RandomInitConfig(**{**config.__dict__, "task": "pos", "force": True}))


# ---------------------------------------------------------------------------------------------------------------
# The Naija training file


def test_naija_invalid_transition_names_file_line_and_lenient() -> None:
    path = NER / "pcm" / "train.txt"
    if not path.is_file():
        pytest.skip("shared NER data not available")
    from adaptlang.data.ner import read_ner
    from adaptlang.evaluate_ner import entity_spans

    with pytest.raises(InputError) as e:
        read_ner(path)
    msg = str(e.value)
    assert "train.txt" in msg and "train.txt:120015:" in msg and "I-DATE follows B-LOC" in msg and "--lenient" in msg
    sents = read_ner(path, strict=False)
    [bad] = [s for s in sents if 120015 in s.tag_lines]
    k = bad.tag_lines.index(120015)
    assert bad.tokens[k - 1:k + 1] == ["Nasarawa", "state"] and bad.tags[k - 1:k + 1] == ["B-LOC", "B-DATE"]
    # seqeval's default mode and conlleval read the original sequence the same way: LOC, then a DATE entity.
    raw = [line.split()[-1] for line in path.read_text(encoding="utf-8").splitlines()[bad.first_line - 1:
                                                                                    bad.tag_lines[-1]]]
    assert entity_spans(raw, "conlleval") == entity_spans(bad.tags, "strict")


def test_cut_ner_keeps_the_format_and_the_tags(ner_files: dict[str, Path], tmp_path: Path) -> None:
    from adaptlang.runs.ner import cut_ner, read_ner_file

    conllu = tmp_path / "train.conllu"
    conllu.write_text("".join(f"# sent_id = {k}\n1\tAwa\t_\tPROPN\t_\t_\t2\tnsubj\t_\tNE=B-PER\n"
                              f"2\tdem\t_\tVERB\t_\t_\t0\troot\t_\t_\n3\tDakar\t_\tPROPN\t_\t_\t2\tobl\t_\tNE=B-LOC\n\n"
                              for k in range(5)), encoding="utf-8")
    for source, name in ((conllu, "train.conllu"), (ner_files["train"], "train.txt")):
        out = tmp_path / f"cut-{name}"
        out.mkdir()
        data = cut_ner(out, str(source), 3, test=str(ner_files["test"]))
        assert data["train_cut"] == name and data["n_train_sentences"] == 3 and data["n_test_sentences"] == 10
        kept = read_ner_file(str(out / name))
        assert [s.tags for s in kept] == [s.tags for s in read_ner_file(str(source))[:3]]
    assert cut_ner(tmp_path, str(conllu), None)["train_cut"] is None
