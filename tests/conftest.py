"""Shared fixtures: the ``../shared`` data folder (tests that need it skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UD = SHARED / "data" / "ud"
VOCAB = SHARED / "data" / "vocab"


@pytest.fixture
def shared_ud() -> Path:
    if not UD.is_dir():
        pytest.skip("../shared/data/ud is absent")
    return UD


@pytest.fixture
def shared_vocab() -> Path:
    if not VOCAB.is_dir():
        pytest.skip("../shared/data/vocab is absent")
    return VOCAB


# Sentences for tiny in-process models (a WordPiece vocabulary is trained on them).
TINY_TEXT = [
    "the cat sat on the mat .", "a dog runs in the park .", "we read books every day .",
    "die katze sitzt auf der matte .", "ein hund läuft im park .", "wir lesen jeden tag bücher .",
    "kedi paspasın üstünde oturdu .", "köpek parkta koşuyor .", "her gün kitap okuruz .",
]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT (hidden 32) with a WordPiece vocabulary trained on TINY_TEXT, saved as a Hugging Face
    model directory (config.json, model.safetensors, tokenizer files). Random weights, fixed seed."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_TEXT)


def make_tiny_bert(out: Path, texts: list[str], vocab_size: int = 200, max_length: int = 128, seed: int = 0) -> Path:
    """Save a 2-layer BERT (hidden 32, random weights from ``seed``) with a lowercasing WordPiece vocabulary of at
    most ``vocab_size`` pieces trained on ``texts`` into ``out``; returns ``out``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special,
                                                             show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=max_length,
    )
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=max_length,
    )
    BertModel(config).save_pretrained(out)
    return out


TINY_CONLLU = """# sent_id = 1
# text = the cat sat on the mat
1	the	the	DET	_	_	2	det	_	_
2	cat	cat	NOUN	_	_	3	nsubj	_	_
3	sat	sit	VERB	_	_	0	root	_	_
4	on	on	ADP	_	_	6	case	_	_
5	the	the	DET	_	_	6	det	_	_
6	mat	mat	NOUN	_	_	3	obl	_	_

# sent_id = 2
# text = a dog ran
1	a	a	DET	_	_	2	det	_	_
2	dog	dog	NOUN	_	_	3	nsubj	_	_
3	ran	run	VERB	_	_	0	root	_	_

# sent_id = 3
# text = dogs like cats
1	dogs	dog	NOUN	_	_	2	nsubj	_	_
2	like	like	VERB	_	_	0	root	_	_
3	cats	cat	NOUN	_	_	2	obj	_	_

"""


# A toy language for end-to-end runs on tiny models: DET NOUN VERB [ADP DET NOUN], words from TINY_TEXT.
_TOY_WORDS = {
    "DET": ["the", "a", "die", "ein"],
    "NOUN": ["cat", "dog", "mat", "park", "katze", "hund", "kedi", "books"],
    "VERB": ["sat", "runs", "read", "sitzt", "läuft", "koşuyor"],
    "ADP": ["on", "in", "auf", "im"],
}


def toy_sentence(rng, sent_id: str) -> str:
    """One CoNLL-U sentence (with ``# sent_id`` and ``# text``) of the toy language, drawn with ``rng``."""
    w = _TOY_WORDS
    rows = [(rng.choice(w["DET"]), "DET", 2, "det"), (rng.choice(w["NOUN"]), "NOUN", 3, "nsubj"),
            (rng.choice(w["VERB"]), "VERB", 0, "root")]
    if rng.random() < 0.5:
        rows += [(rng.choice(w["ADP"]), "ADP", 6, "case"), (rng.choice(w["DET"]), "DET", 6, "det"),
                 (rng.choice(w["NOUN"]), "NOUN", 3, "obl")]
    lines = [f"# sent_id = {sent_id}", "# text = " + " ".join(r[0] for r in rows)]
    lines += [f"{i}\t{f}\t{f}\t{u}\t_\t_\t{h}\t{d}\t_\t_" for i, (f, u, h, d) in enumerate(rows, start=1)]
    return "\n".join(lines) + "\n\n"


@pytest.fixture(scope="session")
def toy_treebanks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Toy treebanks (train 16, dev 4, test 10, cross 5 sentences) and a raw corpus (the train text, 4 times)."""
    import random

    d = tmp_path_factory.mktemp("toy")
    rng = random.Random(7)
    files: dict[str, Path] = {}
    for name, n in (("train", 16), ("dev", 4), ("test", 10), ("cross", 5)):
        files[name] = d / f"{name}.conllu"
        files[name].write_text("".join(toy_sentence(rng, f"{name}-{k}") for k in range(n)), encoding="utf-8")
    text = [line.split("= ", 1)[1] for line in files["train"].read_text(encoding="utf-8").splitlines()
            if line.startswith("# text")]
    files["corpus"] = d / "corpus.txt"
    files["corpus"].write_text("\n".join(text * 4) + "\n", encoding="utf-8")
    return files


@pytest.fixture(autouse=True)
def checkpoint_every_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests crash runs after a given epoch and resume from it: a checkpoint at every evaluation (runs in tests are
    seconds long; the 10-minute default is tested in test_engine.py)."""
    monkeypatch.setenv("ADAPTLANG_CHECKPOINT_MINUTES", "0")


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (several threads only wait on each other on a busy machine).

    Modules that train tiny models use it for every test: ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run the ``adaptlang`` entry point in-process (as the console script does); returns (code, stdout, stderr)."""
    import subprocess
    import sys

    from adaptlang.cli.main import main

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["adaptlang", *args])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def small_categorize_config(toy: dict[str, Path], model: Path, out: Path, **kw: object):
    """A one-seed categorize run on the toy treebanks and a tiny model (``kw`` overrides any field)."""
    from adaptlang.pipeline import CategorizeConfig

    base = dict(corpus=str(toy["corpus"]), train=str(toy["train"]), dev=str(toy["dev"]), test=str(toy["test"]),
                model=str(model), output=str(out), seeds=1, translit="none", epochs=1, baseline_epochs=1,
                n_bootstrap=200, device="cpu", baseline_corpus=False, max_train_sentences=12,
                adapt_options={"pppl_tokens": 8})
    base.update(kw)
    return CategorizeConfig(**base)  # type: ignore[arg-type]

