"""The full UD annotation: lemma edit scripts, XPOS / FEATS / LEMMA heads on both encoders, no gold in predictions,
and every CoNLL 2018 metric equal to the official evaluator's (udtools' udeval), on inline and real treebanks."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from udtools import udeval

from adaptlang.data.conllu import parse_conllu_text, read_conllu, write_conllu
from adaptlang.errors import UsageError
from adaptlang.evaluate import UD_METRICS, attachment_scores, bootstrap_ci, ud_counts
from adaptlang.models.lemma import apply_lemma_rule, choose_allow_copy, frequent_rules, lemma_rule, pick_lemma
from adaptlang.tasks import TrainConfig, evaluate_model, load_parser, predict, train_parser
from adaptlang.tasks.tags import build_tagset, canonical_feats, tag_strings, tag_targets

pytestmark = pytest.mark.usefixtures("one_thread")
SHARED_UD = Path(__file__).resolve().parents[2] / "shared" / "data" / "ud"
OLD_BASELINE = Path(__file__).parent / "data" / "release-0.1.0-baseline"

# lemmas, XPOS and FEATS (a non-universal feature, unsorted-looking input kept as is), a multiword token, a
# function word under a content word (MLAS), a gold lemma '_' (LEMMA counts any prediction right there)
FULL = """# sent_id = a
# text = Dogs ran into the parks
1	Dogs	dog	NOUN	NNS	Number=Plur	2	nsubj	_	_
2	ran	run	VERB	VBD	Mood=Ind|Tense=Past|VerbForm=Fin	0	root	_	_
3	into	into	ADP	IN	_	5	case	_	_
4	the	the	DET	DT	Definite=Def|PronType=Art	5	det	_	_
5	parks	park	NOUN	NNS	Number=Plur	2	obl	_	SpaceAfter=No

# sent_id = b
# text = cats sat on mats
1	cats	cat	NOUN	NNS	Number=Plur	2	nsubj	_	_
2	sat	sit	VERB	VBD	Mood=Ind|Tense=Past|VerbForm=Fin	0	root	_	_
3	on	on	ADP	IN	_	4	case	_	_
4	mats	mat	NOUN	NNS	Number=Plur|Foo=Bar	2	obl	_	_

# sent_id = c
# text = dogs sat del cat
1	dogs	dog	NOUN	NNS	Number=Plur	2	nsubj	_	_
2	sat	sit	VERB	VBD	Mood=Ind|Tense=Past|VerbForm=Fin	0	root	_	_
3-4	del	_	_	_	_	_	_	_	_
3	de	de	ADP	IN	_	5	case	_	_
4	el	_	DET	DT	Definite=Def|PronType=Art	5	det	_	_
5	cat	cat	NOUN	NN	Number=Sing	2	obl	_	_

"""


def _official(gold_text: str, system_text: str) -> dict:
    return udeval.evaluate(udeval.load_conllu(io.StringIO(gold_text), "gold", {}),
                           udeval.load_conllu(io.StringIO(system_text), "system", {}))


def _assert_same_as_udeval(gold, pred) -> None:
    sc = attachment_scores(gold, pred, n_bootstrap=0)
    official = _official("".join(s.to_text() for s in gold), "".join(s.to_text() for s in pred))
    ours = {"upos": sc.upos, "uas": sc.uas, "las": sc.las, **sc.extra}
    assert set(ours) == set(UD_METRICS)
    for key, name in UD_METRICS.items():
        assert abs(ours[key] - 100 * official[name].f1) < 0.01, (key, ours[key], 100 * official[name].f1)


# ---------------------------------------------------------------------------------------------------------- lemmas
PAIRS = [("studies", "study"), ("flies", "fly"), ("Dogs", "dog"), ("Paris", "Paris"), ("IBM", "IBM"),
         ("went", "go"), ("ungefähr", "ungefähr"), ("gesagt", "sagen"), ("İstanbul'un", "İstanbul"),
         ("Tanrı'nın", "Tanrı"), ("_", "_"), (".", "."), ("USA's", "USA"), ("x", "")]


@pytest.mark.parametrize("allow_copy", [False, True])
def test_lemma_rules_round_trip(allow_copy: bool) -> None:
    for form, lemma in PAIRS:
        rule = lemma_rule(form, lemma, allow_copy)
        assert apply_lemma_rule(form, rule) == lemma, (form, lemma, rule)


def test_lemma_rules_generalise_and_refuse_what_does_not_fit() -> None:
    rule = lemma_rule("studies", "study")
    assert rule == "↓0;d¦---+y" and apply_lemma_rule("flies", rule) == "fly"
    assert apply_lemma_rule("Cities", rule) == "city"  # the casing part says "lower case"
    assert apply_lemma_rule("ies", rule) is None  # nothing left around the suffix: the rule does not fit
    assert apply_lemma_rule("x", "garbage") is None and apply_lemma_rule("x", "↑0;q") is None
    # the best rule that fits wins; a form no rule fits keeps its spelling
    assert pick_lemma("ies", [rule, lemma_rule("dogs", "dog")]) == "ie"
    assert pick_lemma("ab", ["↓0;d----¦"]) == "ab"
    assert frequent_rules(["a", "b", "a", "c", "c", "c"], 2) == ["c", "a"]
    assert choose_allow_copy([("sing", "sang"), ("ring", "rang")]) in (True, False)


# ----------------------------------------------------------------------------------------------------- tag heads
def test_tagset_from_annotated_and_blank_treebanks() -> None:
    sents = parse_conllu_text(FULL, require_tree=True)
    tags, notes = build_tagset(sents)
    assert notes == [] and tags.lemmas == "rules" and set(tags.vocabs) == {"xpos", "feats", "lemma"}
    assert "_" in tags.vocabs["feats"]  # "no features" is a class once the column is annotated
    targets = tag_targets(tags, sents[2])
    assert len(targets["lemma"]) == 5 and targets["lemma"][3] == -100  # gold lemma '_' is not trained on
    blank = parse_conllu_text(FULL.replace("\tdog\t", "\t_\t"), require_tree=True)
    blank = [s.with_predictions(lemmas=["_"] * s.n_words, xpos=["_"] * s.n_words, feats=["_"] * s.n_words)
             for s in blank]
    tags, notes = build_tagset(blank)
    assert tags.vocabs == {} and tags.lemmas == "copy" and tags.columns == ("lemma",)
    assert len(notes) == 3 and "no lemmas" in notes[2] and "copy of FORM" in notes[2]
    assert build_tagset(blank, "none")[0].columns == ()
    with pytest.raises(UsageError, match="--lemmas rules"):
        build_tagset(blank, "rules")
    with pytest.raises(UsageError, match="valid: auto, rules, copy, none"):
        build_tagset(sents, "maybe")


def test_split_feats_have_a_head_per_feature_and_round_trip_every_string() -> None:
    sents = parse_conllu_text(FULL, require_tree=True)
    tags, notes = build_tagset(sents, feats_mode="split")
    assert notes == [] and "feats" not in tags.vocabs and tags.feats == "split"
    assert tags.feat_heads == ["feat:Definite", "feat:Foo", "feat:Mood", "feat:Number", "feat:PronType",
                               "feat:Tense", "feat:VerbForm"]
    assert tags.vocabs["feat:Number"].labels[0] == "_" and set(tags.vocabs["feat:Number"].labels) == {"_", "Plur",
                                                                                                     "Sing"}
    assert tags.columns == ("lemma", "xpos", "feats") and tags.to_dict()["feats"] == "split"
    for s in sents:  # gold ids of every head -> the gold FEATS string back, in the validator's order
        ids = {k: [[i] for i in v] for k, v in tag_targets(tags, s).items() if k.startswith("feat:")}
        assert tag_strings(tags, s.forms, ids)["feats"] == [canonical_feats(f) for f in s.feats]
    with pytest.raises(UsageError, match="--feats 'parts'; valid: whole, split"):
        build_tagset(sents, feats_mode="parts")


def _treebank(tmp_path: Path, n: int = 24) -> Path:
    rng = random.Random(5)
    blocks = FULL.strip("\n").split("\n\n")
    path = tmp_path / "full.conllu"
    path.write_text("\n\n".join(blocks[rng.randrange(3)].replace("sent_id = ", f"sent_id = {k}-")
                                for k in range(n)) + "\n\n", encoding="utf-8")
    return path


BILSTM = {"kind": "bilstm", "word_dim": 16, "char_dim": 8, "char_hidden": 16, "char_out": 16, "hidden": 16,
          "n_layers": 1}


@pytest.mark.parametrize("encoder", ["bilstm", "transformer"])
def test_both_encoders_learn_every_column(tmp_path: Path, tiny_bert_dir: Path, encoder: str) -> None:
    tb = _treebank(tmp_path)
    dev = tmp_path / "dev.conllu"  # under 20 sentences: the last epoch is kept (dev LAS reaches 100 at once here)
    dev.write_text(FULL, encoding="utf-8")
    spec = BILSTM if encoder == "bilstm" else {"kind": "transformer", "model": str(tiny_bert_dir)}
    train_parser(TrainConfig(train=str(tb), dev=str(dev), out=str(tmp_path / "m"), encoder=spec, epochs=12,
                             arc_dim=16, rel_dim=8, encoder_lr=5e-3, head_lr=1e-2, device="cpu", patience=0,
                             warmup=0.0))
    loaded = load_parser(tmp_path / "m", device="cpu")
    heads = loaded.config["heads"]
    assert heads["n_xpos"] == 5 and heads["n_feats"] == 6 and heads["n_lemmas"] >= 1
    assert loaded.tags.columns == ("lemma", "xpos", "feats")
    ev = evaluate_model(tmp_path / "m", tb, n_bootstrap=20, device="cpu", predictions_out=tmp_path / "p.conllu")
    assert ev.predicted_columns == ("lemma", "xpos", "feats")
    assert ev.scores.extra["lemma"] > 90 and ev.scores.extra["xpos"] > 90 and ev.scores.extra["ufeats"] > 90
    assert set(ev.scores.ci) == set(UD_METRICS)
    pred = read_conllu(tmp_path / "p.conllu")
    assert pred[0].lemmas[0] == "dog" and pred[0].feats[1] == "Mood=Ind|Tense=Past|VerbForm=Fin"
    _assert_same_as_udeval(read_conllu(tb), pred)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("Cats ran into the mats\n", encoding="utf-8")
    predict(tmp_path / "m", str(tokens), str(tmp_path / "t.conllu"), device="cpu")
    rows = [line.split("\t") for line in (tmp_path / "t.conllu").read_text().splitlines() if line[:1].isdigit()]
    assert rows[0][2] == "cat" and all(r[2] != "_" and r[4] != "_" for r in rows)  # "Cats": casing rule too
    _validate_level2(tmp_path / "p.conllu")
    _validate_level2(tmp_path / "t.conllu")


def test_split_feats_train_save_load_and_predict(tmp_path: Path) -> None:
    tb = _treebank(tmp_path)
    dev = tmp_path / "dev.conllu"
    dev.write_text(FULL, encoding="utf-8")
    train_parser(TrainConfig(train=str(tb), dev=str(dev), out=str(tmp_path / "m"), encoder=BILSTM, epochs=12,
                             arc_dim=16, rel_dim=8, encoder_lr=5e-3, head_lr=1e-2, device="cpu", patience=0,
                             warmup=0.0, feats="split"))
    loaded = load_parser(tmp_path / "m", device="cpu")
    assert loaded.config["heads"]["n_feats"] == 0 and loaded.config["heads"]["feat_sizes"]["feat:Number"] == 3
    assert loaded.tags.feats == "split" and loaded.tags.columns == ("lemma", "xpos", "feats")
    ev = evaluate_model(tmp_path / "m", tb, n_bootstrap=0, device="cpu", predictions_out=tmp_path / "p.conllu")
    assert ev.scores.extra["ufeats"] > 90
    pred = read_conllu(tmp_path / "p.conllu")
    assert pred[0].feats[1] == "Mood=Ind|Tense=Past|VerbForm=Fin" and pred[0].feats[2] == "_"
    _assert_same_as_udeval(read_conllu(tb), pred)
    _validate_level2(tmp_path / "p.conllu")


def test_per_feature_losses_count_as_one_feats_part() -> None:
    import torch

    from adaptlang.models.parser import BiaffineParser, HeadsConfig

    class Words(torch.nn.Module):
        output_dim = 8

        def forward(self, inputs):
            return inputs["vectors"], inputs["mask"]

    torch.manual_seed(0)
    inputs = {"vectors": torch.randn(2, 5, 8), "mask": torch.ones(2, 5, dtype=torch.bool)}
    tags = {"feat:Case": torch.randint(0, 4, (2, 5)), "feat:Number": torch.randint(0, 3, (2, 5))}
    parser = BiaffineParser(Words(), HeadsConfig(4, 3, 16, 8, 0.0, feat_sizes={"feat:Case": 4, "feat:Number": 3},
                                                 tag_weight=1.0)).eval()
    out = parser(inputs)
    total, parts = parser.loss(out, torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long),
                               torch.zeros(2, 5, dtype=torch.long), tags)
    assert set(parts) == {"upos", "arc", "rel", "feats"}
    each = [torch.nn.functional.cross_entropy(out.s_tags[k].reshape(-1, out.s_tags[k].shape[-1]), v.reshape(-1))
            for k, v in tags.items()]
    assert float(parts["feats"]) == pytest.approx(float(sum(each).detach() / 2), rel=1e-5)


def _validate_level2(path: Path) -> None:
    tool = Path(sys.executable).parent / "udvalidate"
    if not tool.exists():
        pytest.skip("udvalidate (udtools) not installed")
    r = subprocess.run([str(tool), "--level", "2", "--lang", "en", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and "PASSED" in r.stdout + r.stderr, r.stdout + r.stderr


def test_no_gold_leaks_from_models_without_the_heads(tmp_path: Path) -> None:
    gold = tmp_path / "gold.conllu"
    gold.write_text(FULL, encoding="utf-8")
    out = tmp_path / "pred.conllu"
    predict(OLD_BASELINE, str(gold), str(out), device="cpu")  # an old model: UPOS and the tree only
    words = [s for s in read_conllu(out)]
    assert all(v == "_" for s in words for v in s.lemmas + s.xpos + s.feats)
    assert read_conllu(out)[0].lines[-1].endswith("SpaceAfter=No")  # MISC is the input's
    predict(OLD_BASELINE, str(gold), str(out), device="cpu", force=True, keep_columns=True)
    assert read_conllu(out)[0].feats == read_conllu(gold)[0].feats
    ev = evaluate_model(OLD_BASELINE, gold, n_bootstrap=0, device="cpu")
    assert ev.predicted_columns == () and ev.scores.extra["ufeats"] < 100 and ev.scores.extra["lemma"] < 100


# ---------------------------------------------------------------------------------------------------------- scores
def test_scores_equal_the_official_evaluator_inline() -> None:
    gold = parse_conllu_text(FULL, require_tree=True)
    rng = random.Random(1)
    for trial in range(20):
        pred = [_perturb(s, rng) for s in gold]
        _assert_same_as_udeval(gold, pred)


def _perturb(s, rng: random.Random):
    """A wrong system output on the same words: some lemmas, tags, features, heads and relations changed."""
    n = s.n_words
    lemmas = [lem if rng.random() < 0.6 else lem.upper() + "x" for lem in s.lemmas]
    upos = [u if rng.random() < 0.8 else "X" for u in s.upos]
    xpos = [x if rng.random() < 0.8 else "XX" for x in s.xpos]
    feats = [f if rng.random() < 0.7 else rng.choice(["_", "Number=Sing", "Foo=Baz|Number=Plur"]) for f in s.feats]
    deprels = [d if rng.random() < 0.8 else rng.choice(["det", "nmod", "case", "obl:tmod"]) for d in s.deprels]
    heads = list(s.heads)
    if rng.random() < 0.5 and n > 2:  # a different tree: attach one non-root word to the root word
        root = heads.index(0) + 1
        movable = [i for i in range(n) if heads[i] != 0 and i + 1 != root]
        heads[rng.choice(movable)] = root
    return s.with_predictions(upos, heads, deprels, lemmas=lemmas, xpos=xpos, feats=feats)


def test_bootstrap_over_ud_counts() -> None:
    gold = parse_conllu_text(FULL, require_tree=True)
    pred = [_perturb(s, random.Random(2)) for s in gold]
    counts = ud_counts(gold, pred)
    assert counts.shape == (3, len(UD_METRICS), 3)
    ci = bootstrap_ci(counts, 200, seed=1)
    sc = attachment_scores(gold, pred, n_bootstrap=200, seed=1)
    assert ci == sc.ci and all(lo <= hi for lo, hi in ci.values())
    # gold == system totals for every word metric, fewer (content words only) for CLAS / MLAS / BLEX
    assert np.all(counts[:, list(UD_METRICS).index("upos"), 0] == [5, 4, 5])


@pytest.mark.skipif(not SHARED_UD.is_dir(), reason="../shared/data/ud is absent")
@pytest.mark.parametrize("treebank", ["UD_Wolof-WTB/wo_wtb-ud-test.conllu", "UD_Turkish-IMST/tr_imst-ud-dev.conllu",
                                      "UD_Uyghur-UDT/ug_udt-ud-dev.conllu"])
def test_scores_equal_the_official_evaluator_on_real_treebanks(tmp_path: Path, treebank: str) -> None:
    gold = read_conllu(SHARED_UD / treebank, require_tree=True)
    pred = [_perturb(s, random.Random(k)) for k, s in enumerate(gold)]
    write_conllu(tmp_path / "pred.conllu", pred)
    official = udeval.evaluate(udeval.load_conllu_file(str(SHARED_UD / treebank)),
                               udeval.load_conllu_file(str(tmp_path / "pred.conllu")))
    sc = attachment_scores(gold, read_conllu(tmp_path / "pred.conllu"), n_bootstrap=0)
    ours = {"upos": sc.upos, "uas": sc.uas, "las": sc.las, **sc.extra}
    for key, name in UD_METRICS.items():
        assert abs(ours[key] - 100 * official[name].f1) < 0.01, (key, ours[key], 100 * official[name].f1)


def test_cli_evaluate_and_predict_columns(tmp_path: Path, run_cli) -> None:
    gold = tmp_path / "gold.conllu"
    gold.write_text(FULL, encoding="utf-8")
    r = run_cli("evaluate", str(OLD_BASELINE), str(gold), "--device", "cpu", "--bootstrap", "10")
    assert r.returncode == 0, r.stderr
    assert "MLAS" in r.stdout and "BLEX" in r.stdout and "not predicted: LEMMA" in r.stdout
    r = run_cli("evaluate", str(OLD_BASELINE), str(gold), "--device", "cpu", "--bootstrap", "0", "--json", "-")
    result = json.loads(r.stdout)
    assert result["predicted_columns"] == [] and {"lemma", "ufeats", "xpos", "alltags", "mlas", "blex"} <= set(result)
    out = tmp_path / "kept.conllu"
    r = run_cli("predict", str(OLD_BASELINE), str(gold), "-o", str(out), "--device", "cpu", "--keep-columns")
    assert r.returncode == 0, r.stderr
    assert read_conllu(out)[0].lemmas == read_conllu(gold)[0].lemmas
    r = run_cli("predict", str(OLD_BASELINE), str(gold), "-o", str(out), "--device", "cpu", "--force")
    assert read_conllu(out)[0].lemmas == ["_"] * 5


def test_cli_train_refuses_an_unknown_lemma_mode(tmp_path: Path, tiny_bert_dir: Path, run_cli) -> None:
    tb = _treebank(tmp_path)
    r = run_cli("train", "--train", str(tb), "--model", str(tiny_bert_dir), "-o", str(tmp_path / "m"),
                "--lemmas", "maybe", "--device", "cpu", "--quiet")
    assert r.returncode != 0 and "--lemmas 'maybe'; valid: auto, rules, copy, none" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


def test_cli_refuses_an_unknown_feats_mode(tmp_path: Path, run_cli) -> None:
    tb = _treebank(tmp_path)
    r = run_cli("baseline", "--train", str(tb), "-o", str(tmp_path / "m"), "--feats", "parts", "--quiet")
    assert r.returncode != 0 and r.stderr.strip() == "adaptlang: error: --feats 'parts'; valid: whole, split"
    assert not (tmp_path / "m").exists()


def test_tag_weight_scales_only_the_tag_losses() -> None:
    """HeadsConfig.tag_weight multiplies the XPOS / FEATS / lemma losses; UPOS, arcs and labels keep weight 1."""
    import torch

    from adaptlang.models.parser import BiaffineParser, HeadsConfig

    class Words(torch.nn.Module):  # an encoder of fixed vectors: the loss is what is under test
        output_dim = 8

        def forward(self, inputs):
            return inputs["vectors"], inputs["mask"]

    torch.manual_seed(0)
    inputs = {"vectors": torch.randn(2, 5, 8), "mask": torch.tensor([[True] * 5, [True] * 3 + [False] * 2])}
    gold = dict(upos=torch.randint(0, 4, (2, 5)), heads=torch.randint(0, 4, (2, 5)), rels=torch.randint(0, 3, (2, 5)),
                tags={"xpos": torch.randint(0, 6, (2, 5)), "lemma": torch.randint(0, 7, (2, 5))})
    totals, parts = {}, {}
    for w in (0.0, 0.25, 1.0):
        torch.manual_seed(1)
        parser = BiaffineParser(Words(), HeadsConfig(4, 3, 16, 8, 0.0, n_xpos=6, n_lemmas=7, tag_weight=w)).eval()
        total, parts[w] = parser.loss(parser(inputs), gold["upos"], gold["heads"], gold["rels"], gold["tags"])
        totals[w] = float(total.detach())
    main = sum(float(parts[1.0][k]) for k in ("upos", "arc", "rel"))
    tag = float(parts[1.0]["xpos"] + parts[1.0]["lemma"])
    assert tag > 0 and totals[0.0] == pytest.approx(main, rel=1e-6)
    assert totals[0.25] == pytest.approx(main + 0.25 * tag, rel=1e-6)
    assert totals[1.0] == pytest.approx(main + tag, rel=1e-6)


def test_cli_tag_weight_reaches_the_saved_config_and_refuses_a_negative_one(tmp_path: Path, run_cli) -> None:
    tb = _treebank(tmp_path)
    out = tmp_path / "m"
    r = run_cli("baseline", "--train", str(tb), "-o", str(out), "--epochs", "1", "--tag-weight", "0.5",
                "--device", "cpu", "--threads", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["train"]["tag_weight"] == 0.5
    r = run_cli("baseline", "--train", str(tb), "-o", str(tmp_path / "m2"), "--tag-weight", "-1", "--quiet")
    assert r.returncode == 2 and r.stderr.strip() == "adaptlang: error: --tag-weight must be 0 or a positive finite " \
                                                     "number, got -1.0"
    assert not (tmp_path / "m2").exists()
