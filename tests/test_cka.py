"""CKA: the numeric definition and its known properties, parallel-sentence reading, pooled hidden states, command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptlang.analysis.cka import (
    CkaConfig,
    Sentence,
    align_parallel,
    debiased_gram_cka,
    get_kernel,
    gram_cka,
    hidden_state_means,
    hsic_unbiased,
    linear_cka,
    load_encoder,
    rbf_cka,
    read_sentence_texts,
    run_cka,
)
from adaptlang.errors import InputError, ModelError, UsageError
from conftest import make_tiny_bert

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def _hsic_direct(k: np.ndarray, l: np.ndarray) -> float:
    """HSIC straight from its definition: tr(K H L H) / (n-1)^2 with the explicit centring matrix H."""
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2


def _cka_direct(x: np.ndarray, y: np.ndarray) -> float:
    k, l = x @ x.T, y @ y.T
    return _hsic_direct(k, l) / np.sqrt(_hsic_direct(k, k) * _hsic_direct(l, l))


def _random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 12))
Y = X @ RNG.normal(size=(12, 7)) + 0.5 * RNG.normal(size=(40, 7))


def test_linear_cka_matches_direct_hsic_formula() -> None:
    assert linear_cka(X, Y) == pytest.approx(_cka_direct(X, Y), rel=1e-10)
    assert linear_cka(X, Y) == pytest.approx(gram_cka(X @ X.T, Y @ Y.T), rel=1e-10)


def test_linear_cka_known_properties() -> None:
    assert linear_cka(X, X) == pytest.approx(1.0)
    q = _random_orthogonal(12, RNG)
    assert linear_cka(X @ q, Y) == pytest.approx(linear_cka(X, Y), rel=1e-10)  # orthogonal invariance
    assert linear_cka(3.7 * X, 0.01 * Y) == pytest.approx(linear_cka(X, Y), rel=1e-10)  # isotropic scaling
    assert linear_cka(X + 5.0, Y - 2.0) == pytest.approx(linear_cka(X, Y), rel=1e-10)  # translation
    assert linear_cka(X, Y) == pytest.approx(linear_cka(Y, X), rel=1e-12)  # symmetric
    # Not invariant to arbitrary invertible linear maps (what distinguishes CKA from CCA).
    stretch = np.diag([100.0] + [1.0] * 11)
    assert abs(linear_cka(X @ stretch, Y) - linear_cka(X, Y)) > 1e-3
    # Independent representations of many examples are far apart.
    big = np.random.default_rng(1)
    assert linear_cka(big.normal(size=(2000, 5)), big.normal(size=(2000, 5))) < 0.02


def test_linear_cka_related_beats_unrelated() -> None:
    unrelated = np.random.default_rng(2).normal(size=(40, 7))
    assert 0.0 <= linear_cka(X, unrelated) < linear_cka(X, Y) <= 1.0


def test_rbf_cka_properties() -> None:
    assert rbf_cka(X, X) == pytest.approx(1.0)
    q = _random_orthogonal(12, RNG)
    assert rbf_cka(X @ q, Y) == pytest.approx(rbf_cka(X, Y), rel=1e-9)
    # The bandwidth follows the median distance, so isotropic scaling and translation change nothing.
    assert rbf_cka(4.0 * X + 1.0, Y) == pytest.approx(rbf_cka(X, Y), rel=1e-9)
    assert 0.0 < rbf_cka(X, Y) <= 1.0
    # With a wide bandwidth the Gaussian kernel is nearly linear: RBF CKA approaches linear CKA.
    assert rbf_cka(X, Y, sigma=50.0) == pytest.approx(linear_cka(X, Y), abs=2e-3)
    with pytest.raises(UsageError):
        rbf_cka(X, Y, sigma=0.0)


def test_cka_degenerate_inputs() -> None:
    assert np.isnan(linear_cka(np.ones((5, 3)), X[:5]))
    with pytest.raises(ValueError):
        linear_cka(X, Y[:10])
    with pytest.raises(ValueError):
        linear_cka(X[:1], Y[:1])


def test_unbiased_hsic_matches_the_u_statistic() -> None:
    """Song et al.'s closed form equals the U-statistic averaged over all ordered 4-tuples of distinct examples."""
    from itertools import permutations

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    k, l = x @ x.T, y @ y.T
    total, count = 0.0, 0
    for i, j, q, r in permutations(range(7), 4):
        total += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q]
        count += 1
    assert hsic_unbiased(k, l) == pytest.approx(total / count, rel=1e-10)


def test_shuffled_control_on_toy_sentences(tiny_bert_dir: Path, toy_treebanks: dict[str, Path]) -> None:
    """A sentence set against itself: matched pairs give 1, mismatched pairs (the control) less."""
    test = str(toy_treebanks["test"])
    curve = run_cka(CkaConfig(model=str(tiny_bert_dir), source=test, targets=(test,))).curves[0]
    assert curve.scores == pytest.approx((1.0, 1.0, 1.0))
    assert all(c < 0.99 for c in curve.control)


def test_debiased_cka_removes_small_sample_inflation() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 50)), rng.normal(size=(20, 50))  # unrelated, few examples, wide vectors
    assert linear_cka(x, y) > 0.5  # the biased estimator sees similarity that is not there
    debiased = get_kernel("linear", debiased=True)
    assert abs(debiased(x, y, 1.0)) < 0.1
    assert debiased(x, x, 1.0) == pytest.approx(1.0)
    assert get_kernel("rbf", debiased=True)(x, x, 1.0) == pytest.approx(1.0)
    # With many examples the two estimators agree.
    big = rng.normal(size=(1500, 20))
    related = big @ rng.normal(size=(20, 20)) + rng.normal(size=(1500, 20))
    assert debiased(big, related, 1.0) == pytest.approx(linear_cka(big, related), abs=0.02)
    assert debiased_gram_cka(big @ big.T, big @ big.T) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 25), d1=st.integers(1, 8), d2=st.integers(1, 8), seed=st.integers(0, 10_000),
    scale=st.floats(0.01, 100.0),
)
def test_linear_cka_bounded_and_invariant(n: int, d1: int, d2: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d1)), rng.normal(size=(n, d2))
    value = linear_cka(x, y)
    assert -1e-12 <= value <= 1.0 + 1e-12
    assert linear_cka(scale * x @ _random_orthogonal(d1, rng), y) == pytest.approx(value, rel=1e-7, abs=1e-12)
    assert value == pytest.approx(_cka_direct(x, y), rel=1e-7, abs=1e-12)


# ---------------------------------------------------------------------------------------------------------------

CONLLU_EN = """# sent_id = s1
# text = The cat sat.
1\tThe\tthe\tDET\t_\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = s2
1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_
2\trun\trun\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

# sent_id = s3
# text = We read.
1\tWe\twe\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tread\tread\tVERB\t_\t_\t0\troot\t_\t_

"""

# Same sentences, other order; s2 has a multiword token and no # text line.
CONLLU_DE = """# sent_id = s3
# text = Wir lesen.
1\tWir\twir\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tlesen\tlesen\tVERB\t_\t_\t0\troot\t_\t_

# sent_id = s1
# text = Die Katze saß.
1\tDie\tder\tDET\t_\t_\t2\tdet\t_\t_
2\tKatze\tKatze\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tsaß\tsitzen\tVERB\t_\t_\t0\troot\t_\t_

# sent_id = s2
1-2\tim\t_\t_\t_\t_\t_\t_\t_\t_
1\tin\tin\tADP\t_\t_\t2\tcase\t_\t_
2\tdem\tder\tDET\t_\t_\t3\tdet\t_\t_
3\tPark\tPark\tNOUN\t_\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

"""


@pytest.fixture
def parallel(tmp_path: Path) -> tuple[Path, Path]:
    en, de = tmp_path / "en.conllu", tmp_path / "de.conllu"
    en.write_text(CONLLU_EN, encoding="utf-8")
    de.write_text(CONLLU_DE, encoding="utf-8")
    return en, de


def test_read_sentence_texts(parallel: tuple[Path, Path]) -> None:
    en = read_sentence_texts(parallel[0])
    assert [(s.sent_id, s.text) for s in en] == [("s1", "The cat sat."), ("s2", "Dogs run."), ("s3", "We read.")]
    assert [s.line for s in en] == [1, 8, 13]
    de = read_sentence_texts(parallel[1])
    assert de[2].text == "im Park."  # rebuilt: multiword token once, SpaceAfter=No honoured


def test_read_sentence_texts_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conllu"
    bad.write_text("# sent_id = a\n1\tx\tx\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.conllu:2: expected 10"):
        read_sentence_texts(bad)
    empty = tmp_path / "empty.conllu"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no sentences"):
        read_sentence_texts(empty)
    with pytest.raises(InputError, match="no such file"):
        read_sentence_texts(tmp_path / "missing.conllu")


def test_align_parallel_by_id_and_order(parallel: tuple[Path, Path]) -> None:
    en, de = read_sentence_texts(parallel[0]), read_sentence_texts(parallel[1])
    pp = align_parallel(en, de)
    assert pp.aligned_by == "sent_id"
    assert list(zip(pp.source, pp.target)) == [
        ("The cat sat.", "Die Katze saß."), ("Dogs run.", "im Park."), ("We read.", "Wir lesen."),
    ]
    no_ids = [Sentence(None, s.text, s.line) for s in de]
    assert align_parallel(en, no_ids).aligned_by == "order"
    with pytest.raises(InputError, match="has 2 sentences but the source has 3"):
        align_parallel(en, no_ids[:2], "de.conllu")
    other = [Sentence("x" + str(i), s.text, s.line) for i, s in enumerate(de)]
    with pytest.raises(InputError, match="shares 0 sent_id"):
        align_parallel(en, other)


# ---------------------------------------------------------------------------------------------------------------


def test_hidden_state_means_pools_real_tokens(tiny_bert_dir: Path) -> None:
    import torch

    model, tokenizer, info = load_encoder(tiny_bert_dir)
    assert (info.n_layers, info.hidden_size, info.kind) == (2, 32, "hf")
    texts = ["the cat sat on the mat .", "a dog", "wir lesen jeden tag bücher .", ""]
    reps, n_trunc = hidden_state_means(model, tokenizer, texts, batch_size=3)
    assert reps.shape == (3, 4, 32) and n_trunc == 0
    # Manual pooling of one sentence alone: drop [CLS] and [SEP], average the rest.
    enc = tokenizer(texts[0], return_tensors="pt")
    with torch.inference_mode():
        hs = model(**enc, output_hidden_states=True).hidden_states
    for layer in range(3):
        expected = hs[layer][0, 1:-1].double().mean(dim=0).numpy()
        np.testing.assert_allclose(reps[layer, 0], expected, rtol=1e-5, atol=1e-6)
    # Padding in a batch does not change anything: batch size 1 gives the same vectors.
    alone, _ = hidden_state_means(model, tokenizer, texts, batch_size=1)
    np.testing.assert_allclose(reps, alone, rtol=1e-4, atol=1e-5)
    # Truncation is counted.
    _, n_trunc = hidden_state_means(model, tokenizer, texts, max_length=5)
    assert n_trunc == 2


def test_run_cka_tiny_model(tiny_bert_dir: Path, parallel: tuple[Path, Path]) -> None:
    en, de = parallel
    same = run_cka(CkaConfig(model=str(tiny_bert_dir), source=str(en), targets=(str(en),)))
    assert same.curves[0].scores == pytest.approx((1.0, 1.0, 1.0))
    assert len(same.curves[0].control) == 3 and all(c <= 1.0 + 1e-9 for c in same.curves[0].control)
    result = run_cka(CkaConfig(
        model=str(tiny_bert_dir), source=str(en), targets=(str(de), str(en)), model_after=str(tiny_bert_dir),
        kernel="rbf",
    ))
    assert [(c.role, c.target) for c in result.curves] == [
        ("before", str(de)), ("before", str(en)), ("after", str(de)), ("after", str(en)),
    ]
    assert all(len(c.scores) == 3 and c.n_sentences == 3 for c in result.curves)
    assert result.curves[0].scores == pytest.approx(result.curves[2].scores)  # same model before and after
    data = json.loads(json.dumps(result.to_dict()))
    assert data["config"]["kernel"] == "rbf" and data["curves"][0]["aligned_by"] == "sent_id"
    with pytest.raises(UsageError, match="--debiased needs at least 4 sentence pairs"):
        run_cka(CkaConfig(model=str(tiny_bert_dir), source=str(en), targets=(str(de),), debiased=True))
    with pytest.raises(UsageError, match="valid kernels: linear, rbf"):
        run_cka(CkaConfig(model=str(tiny_bert_dir), source=str(en), targets=(str(de),), kernel="cosine"))
    with pytest.raises(ModelError, match="^--model .*nope: no such directory"):
        run_cka(CkaConfig(model=str(en.parent / "nope"), source=str(en), targets=(str(de),)))
    with pytest.raises(ModelError, match="^--model-after .*nope: no such directory"):
        run_cka(CkaConfig(model=str(tiny_bert_dir), source=str(en), targets=(str(de),),
                          model_after=str(en.parent / "nope")))


def _adaptlang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from adaptlang.cli.main import main; main()", *args],
        capture_output=True, text=True, cwd=REPO, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_cli_cka(tiny_bert_dir: Path, parallel: tuple[Path, Path], tmp_path: Path) -> None:
    en, de = parallel
    out = tmp_path / "cka"
    args = ["analyze", "cka", "--model", str(tiny_bert_dir), "--source", str(en), "--target", str(de), "-o", str(out)]
    r = _adaptlang(*args, "--json", "-")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "cka"  # with --json -, stdout is the JSON alone
    assert "CKA with en" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cka.json", "cka.png", "cka.tsv"]
    assert (out / "cka.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "cka.json").read_text())
    assert len(saved["curves"][0]["scores"]) == 3
    tsv = (out / "cka.tsv").read_text().splitlines()
    assert tsv[0] == "layer\tde\tde shuffled" and len(tsv) == 4
    r = _adaptlang(*args)
    assert r.returncode == 1 and "already exists; pass --force" in r.stderr and "Traceback" not in r.stderr
    r = _adaptlang(*args[:-2], "-o", str(tmp_path / "other"), "--kernel", "cosine")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "valid kernels" in r.stderr
    assert not (tmp_path / "other").exists()


def test_cka_on_pud_with_a_tiny_model(shared_ud: Path, tmp_path: Path) -> None:
    """English-German PUD through a random 2-layer BERT whose WordPiece vocabulary is trained on the two files:
    translations share names, numbers, punctuation and length, so their CKA stays well above the shuffled pairs'."""
    en = shared_ud / "UD_English-PUD" / "en_pud-ud-test.conllu"
    de = shared_ud / "UD_German-PUD" / "de_pud-ud-test.conllu"
    texts = [s.text for path in (en, de) for s in read_sentence_texts(path)[:200]]
    model = make_tiny_bert(tmp_path / "bert", texts, vocab_size=2000, max_length=256)
    result = run_cka(CkaConfig(model=str(model), source=str(en), targets=(str(de),), max_sentences=64))
    curve = result.curves[0]
    assert len(curve.scores) == 3 and curve.n_sentences == 64 and curve.aligned_by == "sent_id"
    assert all(0.4 < s <= 1.0 for s in curve.scores)  # measured: 0.66-0.74 over seeds 0-2
    # ... well above the same sentences paired with the wrong translation (measured: 0.26-0.30), at every layer.
    assert all(s - c > 0.2 for c, s in zip(curve.control, curve.scores))


def test_model_after_can_be_a_trained_parser(tiny_bert_dir: Path, parallel: tuple[Path, Path], tmp_path: Path) -> None:
    """`--model-after` accepts the output of `adaptlang train`: its fine-tuned encoder is analysed."""
    from adaptlang.tasks import TrainConfig, train_parser

    en, de = parallel
    parser = tmp_path / "parser"
    train_parser(TrainConfig(train=str(en), out=str(parser), encoder={"kind": "transformer", "model": str(tiny_bert_dir)},
                             epochs=2, device="cpu", encoder_lr=1e-2))
    _, _, info = load_encoder(parser)
    assert info.path == str(parser / "encoder") and info.n_layers == 2
    result = run_cka(CkaConfig(model=str(tiny_bert_dir), source=str(en), targets=(str(de),), model_after=str(parser)))
    before, after = result.curves
    assert (before.role, after.role) == ("before", "after")
    assert before.scores[0] != pytest.approx(after.scores[0], abs=1e-9) or before.scores[2] != pytest.approx(
        after.scores[2], abs=1e-9)  # fine-tuning moved the representations


def test_load_encoder_merges_a_peft_adapter(tiny_bert_dir: Path, tmp_path: Path) -> None:
    """A LoRA adapter (no tokenizer of its own) is merged into its base; the tokenizer is the base model's."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    torch.manual_seed(0)
    peft_model = get_peft_model(AutoModel.from_pretrained(tiny_bert_dir), LoraConfig(
        r=2, target_modules=["query", "value"], init_lora_weights=False, base_model_name_or_path=str(tiny_bert_dir)))
    peft_model.save_pretrained(tmp_path / "lora")
    model, tokenizer, info = load_encoder(str(tmp_path / "lora"))
    assert (info.kind, info.n_layers, info.path) == ("peft", 2, str(tmp_path / "lora"))
    assert not hasattr(model, "peft_config")  # merged: a plain transformers model
    ids = tokenizer(["the cat sat"], return_tensors="pt")
    with torch.inference_mode():
        expected = peft_model.eval()(**ids).last_hidden_state
        assert torch.allclose(model(**ids).last_hidden_state, expected, atol=1e-5)
