"""UPOS / UAS / LAS agree with the official CoNLL 2018 UD evaluation script (udtools' udeval)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adaptlang.data.conllu import conllu_text, parse_conllu_text, read_conllu
from adaptlang.decoding import is_tree
from adaptlang.errors import InputError
from adaptlang.evaluate import (
    attachment_scores, bootstrap_ci, evaluate_files, gold_warnings, sentence_counts, unseen_labels,
)

udeval = pytest.importorskip("udtools.udeval")

GOLD = """# sent_id = 1
# text = Del mar vino.
1-2	Del	_	_	_	_	_	_	_	_
1	De	de	ADP	_	_	3	case	_	_
2	el	el	DET	_	_	3	det	_	_
3	mar	mar	NOUN	_	_	4	nsubj:pass	_	_
4	vino	venir	VERB	_	_	0	root	_	SpaceAfter=No
5	.	.	PUNCT	_	_	4	punct	_	_

# sent_id = 2
# text = a b
1	a	_	X	_	_	0	root	_	_
2	b	_	Y	_	_	1	flat	_	_

"""


def official(gold: Path, system: Path) -> dict[str, float]:
    treebank_type = {k: 0 for k in ("no_gapping", "no_shared_parents_in_coordination",
                                    "no_shared_dependents_in_coordination", "no_control",
                                    "no_external_arguments_of_relative_clauses", "no_case_info",
                                    "no_empty_nodes", "multiple_roots_okay")}
    res = udeval.evaluate(udeval.load_conllu_file(str(gold), treebank_type),
                          udeval.load_conllu_file(str(system), treebank_type))
    return {m.lower(): 100 * res[m].f1 for m in ("UPOS", "UAS", "LAS")}


def random_tree(n: int, rng: random.Random) -> list[int]:
    """A random single-root tree over words 1..n (heads, 1-based; 0 = root)."""
    order = list(range(1, n + 1))
    rng.shuffle(order)
    heads = [0] * (n + 1)
    for k, d in enumerate(order):
        heads[d] = 0 if k == 0 else order[rng.randrange(k)]
    assert is_tree(heads)
    return heads[1:]


def perturb(sents, rng: random.Random, labels: list[str], tags: list[str]):
    out = []
    for s in sents:
        heads = list(s.heads)
        if rng.random() < 0.5:
            heads = random_tree(s.n_words, rng)
        deprels = [rng.choice(labels) if rng.random() < 0.3 else d for d in s.deprels]
        deprels = ["root" if h == 0 else ("dep" if d == "root" else d) for h, d in zip(heads, deprels)]
        upos = [rng.choice(tags) if rng.random() < 0.2 else u for u in s.upos]
        out.append(s.with_predictions(upos, heads, deprels))
    return out


def test_subtypes_ignored_and_multiword_tokens(tmp_path: Path) -> None:
    gold = parse_conllu_text(GOLD, require_tree=True)
    pred = [gold[0].with_predictions(["ADP", "DET", "NOUN", "VERB", "X"], [3, 3, 4, 0, 3],
                                     ["case", "det", "nsubj", "root", "punct"]), gold[1]]
    sc = attachment_scores(gold, pred, n_bootstrap=0)
    assert (sc.n_words, {k: sc.correct[k] for k in ("upos", "uas", "las")}) == (7, {"upos": 6, "uas": 6, "las": 6})
    (tmp_path / "g.conllu").write_text(GOLD, encoding="utf-8")
    (tmp_path / "p.conllu").write_text(conllu_text(pred), encoding="utf-8")
    off = official(tmp_path / "g.conllu", tmp_path / "p.conllu")
    assert off == pytest.approx({"upos": sc.upos, "uas": sc.uas, "las": sc.las}, abs=0.01)


@pytest.mark.parametrize("treebank", ["UD_Wolof-WTB/wo_wtb-ud-dev.conllu", "UD_English-EWT/en_ewt-ud-dev.conllu",
                                      "UD_Turkish-IMST/tr_imst-ud-dev.conllu"])
def test_agrees_with_official_scorer_on_shared_treebanks(shared_ud: Path, tmp_path: Path, treebank: str) -> None:
    gold_path = shared_ud / treebank  # English has empty nodes, Turkish multiword tokens
    gold = read_conllu(gold_path, require_tree=True)
    rng = random.Random(7)
    labels = sorted({d for s in gold for d in s.deprels}) + ["nmod:poss", "obl:tmod"]
    tags = sorted({u for s in gold for u in s.upos})
    pred = perturb(gold, rng, labels, tags)
    pred_path = tmp_path / "pred.conllu"
    pred_path.write_text(conllu_text(pred), encoding="utf-8")
    ours = evaluate_files(gold_path, pred_path, n_bootstrap=200)
    off = official(gold_path, pred_path)
    assert 5 < ours.las < ours.uas < 99
    assert off == pytest.approx({"upos": ours.upos, "uas": ours.uas, "las": ours.las}, abs=0.01)
    for metric in ("upos", "uas", "las"):
        lo, hi = ours.ci[metric]
        assert lo <= getattr(ours, metric) <= hi


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    n = rng.integers(1, 30, size=300)
    counts = np.stack([n, rng.binomial(n, 0.9), rng.binomial(n, 0.8), rng.binomial(n, 0.7)], axis=1)
    a, b = bootstrap_ci(counts, 500, seed=3), bootstrap_ci(counts, 500, seed=3)
    assert a == b
    las = 100 * counts[:, 3].sum() / counts[:, 0].sum()
    assert a["las"][0] < las < a["las"][1] and a["las"][1] - a["las"][0] < 5


def test_mismatched_tokenisation_and_missing_heads(tmp_path: Path) -> None:
    gold = parse_conllu_text(GOLD, require_tree=True)
    with pytest.raises(InputError, match="sentences"):
        sentence_counts(gold, gold[:1])
    other = parse_conllu_text(GOLD.replace("\tb\t", "\tc\t"))
    with pytest.raises(InputError, match="tokenisation"):
        sentence_counts(gold, other)
    blank = parse_conllu_text(GOLD.replace("\t1\tflat", "\t_\tflat"))
    with pytest.raises(InputError, match="predicted head"):
        sentence_counts(gold, blank)


def test_unseen_gold_labels_are_reported() -> None:
    gold = parse_conllu_text(GOLD, require_tree=True)
    sc = attachment_scores(gold, gold, n_bootstrap=0, known_labels={"upos": ["X", "Y"], "deprel": ["root", "flat"]})
    assert sc.las == 100.0
    assert sc.unseen_labels["deprel"] == ["case", "det", "nsubj:pass", "punct"]
    assert "NOUN" in sc.unseen_labels["upos"]


def test_unseen_subtypes_are_not_las_errors() -> None:
    """``obl:own`` unseen next to a known ``obl`` is listed apart: LAS compares the universal part only."""
    gold = parse_conllu_text(GOLD, require_tree=True)
    known = {"upos": ["ADP", "DET", "NOUN", "VERB", "PUNCT", "X", "Y"], "deprel": ["root", "nsubj", "case", "flat"]}
    assert unseen_labels(gold, known) == {"upos": [], "deprel": ["det", "punct"], "deprel_subtype": ["nsubj:pass"]}
    # a prediction with the known universal label scores as right under LAS, as the official scorer counts it
    pred = [gold[0].with_predictions(deprels=["case", "det", "nsubj", "root", "punct"]), gold[1]]
    sc = attachment_scores(gold, pred, n_bootstrap=0, known_labels=known)
    assert sc.las == 100.0 and sc.to_dict()["unseen_labels"]["deprel_subtype"] == ["nsubj:pass"]


def _placeholder(n_sents: int, n_words: int) -> str:
    rows = []
    for k in range(n_sents):
        rows.append(f"# sent_id = {k}")
        for i in range(1, n_words + 1):
            rows.append(f"{i}\tw{i}\t_\tNOUN\t_\t_\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_")
        rows.append("")
    return "\n".join(rows) + "\n"


def test_placeholder_gold_is_flagged() -> None:
    gold = parse_conllu_text(_placeholder(5, 6), require_tree=True)
    sc = attachment_scores(gold, gold, n_bootstrap=0)
    text = " | ".join(sc.warnings)
    assert "gold HEAD looks like a placeholder: 100% of attached words have HEAD 1" in text
    assert "gold DEPREL looks like a placeholder" in text and "'dep'" in text
    assert "gold UPOS looks like a placeholder" in text and sc.to_dict()["warnings"] == sc.warnings
    assert gold_warnings(parse_conllu_text(_placeholder(2, 6))) == []  # too few words to judge
    assert gold_warnings(parse_conllu_text(GOLD)) == []


def test_real_treebanks_are_not_flagged(shared_ud: Path) -> None:
    for name in ("UD_English-EWT/en_ewt-ud-dev.conllu", "UD_Wolof-WTB/wo_wtb-ud-dev.conllu"):
        assert gold_warnings(read_conllu(shared_ud / name)) == []


def test_blank_gold_lemmas_are_flagged(shared_ud: Path) -> None:
    """Faroese-FarPaHC leaves LEMMA '_' on most words; the official evaluator counts any predicted lemma there as
    correct (a baseline scored LEMMA 100.00 on its test set), so evaluate says so."""
    (warning,) = gold_warnings(read_conllu(shared_ud / "UD_Faroese-FarPaHC/fo_farpahc-ud-test.conllu"))
    assert warning == ("gold LEMMA is '_' on 87% of words: the official evaluator (and so this one) counts any "
                       "predicted lemma there as correct, so LEMMA and BLEX overstate")


def test_gold_without_xpos_is_flagged(shared_ud: Path) -> None:
    """Naija-NSC has no XPOS: a model writes '_' and the official evaluator scores XPOS 100.00 (measured)."""
    (warning,) = gold_warnings(read_conllu(shared_ud / "UD_Naija-NSC/pcm_nsc-ud-test.conllu"))
    assert warning.startswith("gold XPOS is '_' on every word (the treebank has none)")


def test_ud_v1_labels_are_named() -> None:
    v1 = GOLD.replace("nsubj:pass", "nsubjpass").replace("DET\t_\t_\t3\tdet", "CONJ\t_\t_\t3\tdobj")
    (warning,) = gold_warnings(parse_conllu_text(v1))
    assert warning.startswith("gold uses UD v1 labels (dobj, nsubjpass, CONJ): convert the treebank to UD v2")
    assert "nsubjpass -> nsubj:pass" in warning and "CONJ -> CCONJ" in warning


def test_evaluate_command_says_what_unseen_labels_cost_and_prints_warnings(run_cli, monkeypatch, tmp_path) -> None:
    import json

    import adaptlang.tasks as tasks

    gold = parse_conllu_text(_placeholder(5, 6), require_tree=True)
    sc = attachment_scores(gold, gold, n_bootstrap=0, known_labels={"upos": ["VERB"], "deprel": ["root", "dep:x"]})

    def fake_evaluate_model(model_dir, path, **kwargs):
        return tasks.EvalResult(sc, str(model_dir), str(path), 0.1, 50.0)

    monkeypatch.setattr(tasks, "evaluate_model", fake_evaluate_model)
    r = run_cli("evaluate", "model", "gold.conllu", "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    out, err = " ".join(r.stdout.split()), " ".join(r.stderr.split())  # rich wraps long lines
    assert "gold UPOS tags unseen in training (always UPOS errors): NOUN" in out
    assert "(always LAS errors)" not in out  # dep is known as dep:x
    assert out.endswith("with a seen universal part (not LAS errors: LAS ignores subtypes): dep")
    assert err.count("warning: gold ") == 5 and "placeholder" in err and "gold LEMMA is '_' on 100% of words" in err
    assert "gold XPOS is '_' on every word" in err
    r = run_cli("evaluate", "model", "gold.conllu", "--json", "-")
    assert json.loads(r.stdout)["warnings"] == sc.warnings and "warning: gold HEAD" in r.stderr
