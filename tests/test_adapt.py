"""adaptlang adapt: tiny BERT / XLM-R-like models built in-process, a Uyghur excerpt as corpus."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from adaptlang.adapt import AdaptConfig, Interrupted, adapt_model
from adaptlang.engine import checkpoint as ckpt
from adaptlang.adapt.corpus import Tokenized, mask_tokens, pack, step_generator, tokenize_lines
from adaptlang.errors import InputError, ModelError, OutputExistsError, UsageError

REPO = Path(__file__).resolve().parents[1]
UYGHUR = REPO / "examples" / "uyghur-udt-excerpt.txt"
ADAPTLANG = [sys.executable, "-m", "adaptlang.cli.main"]

LATIN_TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "a small model learns quickly from a small corpus",
    "every sentence here is written in plain latin letters",
    "tokenizers split words into pieces they know",
] * 10


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> object:
    """Tiny models run far faster on one thread than on several contending ones (and CI shares its cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")


def _uyghur_lines() -> list[str]:
    return [line.strip() for line in UYGHUR.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_bert(out: Path, lines: list[str], with_head: bool = False, vocab_size: int = 300) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece vocabulary trained on ``lines``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForMaskedLM, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                              show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                 sep_token="[SEP]", mask_token="[MASK]")
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    model = BertForMaskedLM(cfg) if with_head else BertModel(cfg)
    model.save_pretrained(out)
    hf.save_pretrained(out)
    return out


def make_xlmr(out: Path, lines: list[str]) -> Path:
    """A tiny XLM-R-like masked LM with a SentencePiece-style Unigram vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForMaskedLM

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token="<unk>",
                                                           show_progress=False))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                 pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")
    cfg = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64, max_position_embeddings=160, pad_token_id=1)
    torch.manual_seed(0)
    XLMRobertaForMaskedLM(cfg).save_pretrained(out)
    hf.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bert(tmp_path_factory.mktemp("bert") / "m", _uyghur_lines())


@pytest.fixture(scope="module")
def bert_head_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bert(tmp_path_factory.mktemp("bert-head") / "m", _uyghur_lines(), with_head=True)


@pytest.fixture(scope="module")
def xlmr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_xlmr(tmp_path_factory.mktemp("xlmr") / "m", _uyghur_lines())


def _cfg(model: Path, out: Path, **kw: object) -> AdaptConfig:
    base = dict(corpus=str(UYGHUR), model=str(model), output=str(out), steps=6, batch_size=4, max_seq_len=48,
                pppl_tokens=32, save_every=100)
    base.update(kw)
    return AdaptConfig(**base)  # type: ignore[arg-type]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    name = "adapter_model.safetensors" if (out / "adapter_model.safetensors").exists() else "model.safetensors"
    return load_file(str(out / name))


# ---- data -----------------------------------------------------------------------------------------------------
def test_pack_keeps_the_tail_and_separates_lines() -> None:
    import numpy as np

    tok = Tokenized(ids=np.arange(10, 23), word_start=np.ones(13, dtype=bool), line_ends=np.array([5, 13]),
                    n_words=13, n_unk=0)
    p = pack(tok, max_seq_len=8, cls_id=1, sep_id=2, pad_id=0)
    # stream: 13 tokens + 1 separator between the two lines = 14 -> 3 sequences of 6, the last one short
    assert p.n_seq == 3
    body = [t for row in p.input_ids.tolist() for t in row[1:] if t not in (0,)]
    kept = [t for t in body if t >= 10]
    assert kept == list(range(10, 23))  # nothing dropped, order kept
    assert p.input_ids[0].tolist()[:7] == [1, 10, 11, 12, 13, 14, 2]  # line 1 then its [SEP]
    assert p.attention_mask[-1].sum() < 8 and p.special[p.input_ids == 2].all()


def test_masking_rate_and_whole_words() -> None:
    n, t = 64, 64
    ids = torch.randint(10, 100, (n, t))
    special = torch.zeros(n, t, dtype=torch.bool)
    special[:, 0] = True
    words = torch.arange(n * t).view(n, t) // 3  # words of three pieces
    words[special] = -1
    masked, selected, labels = mask_tokens(ids, special, words, 0.15, False, 5, 100, step_generator(0, 1))
    rate = selected.float().mean().item()
    assert 0.12 < rate < 0.18 and not selected[special].any()
    assert torch.equal(labels, ids[selected])
    assert 0.7 < (masked[selected] == 5).float().mean().item() < 0.9
    _, sel_w, _ = mask_tokens(ids, special, words, 0.15, True, 5, 100, step_generator(0, 2))
    for w in words[sel_w].unique().tolist():  # every piece of a chosen word is chosen
        assert sel_w[(words == w) & ~special].all()
    # same generator seed -> same masks (what --resume relies on)
    again = mask_tokens(ids, special, words, 0.15, False, 5, 100, step_generator(0, 1))
    assert torch.equal(again[0], masked)


def test_masked_positions_loss_equals_full_logits_loss(bert_head_dir: Path) -> None:
    from adaptlang.adapt.model import MaskedLMObjective, load_masked_lm

    loaded = load_masked_lm(str(bert_head_dir))
    obj = MaskedLMObjective(loaded).eval()
    ids = torch.randint(5, 200, (3, 20))
    att = torch.ones_like(ids)
    sel = torch.rand(3, 20) < 0.3
    sel[0, 1] = True
    labels = ids[sel]
    fast = obj(ids, att, sel, labels)
    obj.head_attr = None  # reference: logits at every position, then pick the masked ones
    full = obj(ids, att, sel, labels)
    assert torch.allclose(fast, full, atol=1e-5)


@pytest.mark.parametrize("which", ["bert", "xlmr"])
def test_corpus_vocabulary_softmax(which: str, bert_head_dir: Path, xlmr_dir: Path) -> None:
    """--head-vocab corpus: the loss is the cross-entropy of the full logits restricted to the corpus's pieces, its
    gradient reaches no output row outside them, and the full softmax comes back once unrestricted."""
    from adaptlang.adapt.model import MaskedLMObjective, _decoder, load_masked_lm

    loaded = load_masked_lm(str(bert_head_dir if which == "bert" else xlmr_dir))
    obj = MaskedLMObjective(loaded).eval()
    vocab = loaded.mlm.get_input_embeddings().weight.shape[0]
    corpus = torch.randint(5, vocab // 2, (4, 20))
    assert obj.restrict(corpus) == torch.unique(corpus).numel() < vocab
    ids, att = corpus[:3], torch.ones(3, 20, dtype=torch.long)
    sel = torch.rand(3, 20) < 0.3
    sel[0, 1] = True
    labels = ids[sel]
    loss = obj(ids, att, sel, labels)
    full_logits = getattr(obj.mlm, obj.head_attr)(obj.encoder()(input_ids=ids, attention_mask=att)
                                                   .last_hidden_state[sel])
    kept = torch.unique(corpus)
    reference = torch.nn.functional.cross_entropy(full_logits[:, kept], torch.searchsorted(kept, labels))
    assert torch.allclose(loss, reference, atol=1e-5)
    assert loss < torch.nn.functional.cross_entropy(full_logits, labels)  # fewer competitors
    loss.backward()
    bias_grad = _decoder(getattr(obj.mlm, obj.head_attr)).bias.grad
    outside = torch.ones(vocab, dtype=torch.bool)
    outside[kept] = False
    assert bias_grad[outside].abs().max() == 0 and bias_grad[kept].abs().max() > 0
    obj.head_ids = None
    assert torch.allclose(obj(ids, att, sel, labels), torch.nn.functional.cross_entropy(full_logits, labels),
                          atol=1e-5)


# ---- end to end -----------------------------------------------------------------------------------------------
def test_full_adaptation_of_encoder_only_model(bert_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModel, AutoModelForMaskedLM

    out = tmp_path / "out"
    r = adapt_model(_cfg(bert_dir, out, steps=30, lr=2e-3, batch_size=8))
    assert r.head.startswith("fresh")
    assert r.heldout["mlm_loss_after"] < r.heldout["mlm_loss_before"]
    assert r.heldout["lines"] == 15 and "every 20th" in r.heldout["selection"]
    meta = json.loads((out / "adaptlang.json").read_text())
    assert meta["kind"] == "adapted-model" and meta["method"] == "full" and meta["translit"] is None
    assert Path(meta["base_model"]) == bert_dir.resolve()
    figures = json.loads((out / "adapt.json").read_text())
    assert figures["config"]["steps"] == 30 and figures["tokens_per_second"] > 0
    assert not (out / "checkpoints").exists()
    AutoModel.from_pretrained(out)
    mlm = AutoModelForMaskedLM.from_pretrained(out)
    assert mlm.cls.predictions.decoder.weight.data_ptr() == mlm.bert.embeddings.word_embeddings.weight.data_ptr()


@pytest.mark.parametrize("method", ["full", "lora"])
def test_gradient_checkpointing_computes_the_same_run(bert_dir: Path, tmp_path: Path, method: str) -> None:
    """--gradient-checkpointing recomputes activations (dropout replayed from the saved RNG state): the same losses
    and weights as without it, and a model that loads as usual."""
    from transformers import AutoModelForMaskedLM

    from adaptlang.adapt.model import apply_lora, enable_gradient_checkpointing, load_masked_lm

    loaded = load_masked_lm(str(bert_dir))
    if method == "lora":
        apply_lora(loaded, 4, 8, 0.0, [], str(bert_dir))
    enable_gradient_checkpointing(loaded)
    assert all(layer.gradient_checkpointing for layer in loaded.mlm.bert.encoder.layer)  # the layers that run
    a = adapt_model(_cfg(bert_dir, tmp_path / "a", method=method, head_warmup=False))
    b = adapt_model(_cfg(bert_dir, tmp_path / "b", method=method, head_warmup=False, gradient_checkpointing=True))
    assert b.train_losses == a.train_losses and b.config["gradient_checkpointing"] is True
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    if method == "full":
        AutoModelForMaskedLM.from_pretrained(tmp_path / "b")


def test_cpu_bf16_adapts_and_writes_float32(bert_dir: Path, tmp_path: Path) -> None:
    """--cpu-bf16: training steps under bf16 autocast on the CPU; the loss still falls, the written model is float32
    and differs from the float32 run's."""
    a = adapt_model(_cfg(bert_dir, tmp_path / "a", steps=20, lr=2e-3, batch_size=8, head_warmup=False))
    b = adapt_model(_cfg(bert_dir, tmp_path / "b", steps=20, lr=2e-3, batch_size=8, head_warmup=False, cpu_bf16=True))
    assert b.heldout["mlm_loss_after"] < b.heldout["mlm_loss_before"]
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(t.dtype == torch.float32 for t in wb.values()) and any(not torch.equal(wa[k], wb[k]) for k in wa)
    assert a.config["cpu_bf16"] is False and b.config["cpu_bf16"] is True


def test_shipped_head_is_kept_with_epochs_and_whole_words(bert_head_dir: Path, tmp_path: Path) -> None:
    r = adapt_model(_cfg(bert_head_dir, tmp_path / "out", steps=None, epochs=0.1, whole_word_mask=True))
    assert r.head == "shipped"
    # 0.1 epoch of the packed training sequences in global batches of 4
    assert r.steps == math.ceil(0.1 * r.data["train_sequences"] / 4) and r.config["whole_word_mask"]


def test_lora_adapter_loads_with_peft_and_merge_matches(bert_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModel, AutoModelForMaskedLM

    out = tmp_path / "lora"
    r = adapt_model(_cfg(bert_dir, out, method="lora", steps=8, lr=1e-2))
    assert r.trainable_parameters < r.total_parameters / 2
    assert (out / "adapter_config.json").exists() and (out / "mlm_head.safetensors").exists()
    assert json.loads((out / "adaptlang.json").read_text())["method"] == "lora"
    base = AutoModel.from_pretrained(bert_dir)
    adapted = PeftModel.from_pretrained(base, out).eval()
    merged_out = tmp_path / "merged"
    adapt_model(_cfg(bert_dir, merged_out, method="lora", merge=True, steps=8, lr=1e-2))
    merged = AutoModel.from_pretrained(merged_out).eval()
    AutoModelForMaskedLM.from_pretrained(merged_out)
    ids = torch.randint(5, 200, (2, 12))
    with torch.no_grad():
        a = adapted(input_ids=ids).last_hidden_state
        b = merged(input_ids=ids).last_hidden_state
        c = AutoModel.from_pretrained(bert_dir).eval()(input_ids=ids).last_hidden_state
    assert torch.allclose(a, b, atol=1e-4)  # same seed, same training: adapter == merged
    assert not torch.allclose(a, c, atol=1e-4)  # and the adapter changed something


def test_extend_vocab_lowers_fertility_and_inits_from_old_pieces(xlmr_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from adaptlang.adapt.model import extend_embeddings, load_masked_lm
    from adaptlang.adapt.vocab import extend_tokenizer

    loaded = load_masked_lm(str(xlmr_dir))
    lines = _uyghur_lines()
    old_emb = loaded.mlm.get_input_embeddings().weight.detach().clone()
    tok, ext = extend_tokenizer(loaded.tokenizer, lines, 50, str(tmp_path))
    assert 0 < len(ext.added) <= 50 and len(tok) == len(loaded.tokenizer) + len(ext.added)
    before = tokenize_lines(lines, loaded.tokenizer).stats()
    after = tokenize_lines(lines, tok).stats()
    assert after["fertility"] < before["fertility"]
    extend_embeddings(loaded.mlm, len(tok), ext.inits, loaded.tokenizer.unk_token_id)
    new_id = ext.new_ids[0]
    expected = old_emb[ext.inits[new_id]].mean(dim=0)
    assert torch.allclose(loaded.mlm.get_input_embeddings().weight[new_id], expected)

    out = tmp_path / "out"
    r = adapt_model(_cfg(xlmr_dir, out, extend_vocab=50, steps=3))
    assert r.vocab is not None and r.vocab["after"]["fertility"] < r.vocab["before"]["fertility"]
    saved = AutoTokenizer.from_pretrained(out)
    assert len(saved) == r.vocab["added"] + len(loaded.tokenizer)
    assert AutoModelForMaskedLM.from_pretrained(out).get_input_embeddings().weight.shape[0] >= len(saved)


def test_translit_latin_is_recorded(bert_dir: Path, tmp_path: Path) -> None:
    from adaptlang.translit import get_transliterator, pick_scheme

    scheme = pick_scheme("Arab", "ug", "Latn")
    t = get_transliterator(scheme, lang="ug")
    lat = make_bert(tmp_path / "lat", [t.transliterate(x) for x in _uyghur_lines()])
    out = tmp_path / "out"
    r = adapt_model(_cfg(lat, out, translit="latin", lang="ug", steps=2))
    assert r.translit == t.name and r.data["script"] == "Arab"
    assert json.loads((out / "adaptlang.json").read_text())["translit"] == t.name


def _latest(out: Path) -> int | None:
    return ckpt.CheckpointStore(out / "checkpoints").latest_step()


def test_same_seed_same_weights_and_interrupt_then_resume(bert_dir: Path, tmp_path: Path) -> None:
    """In process: an interrupted run (flag set by a signal) resumed ends with the uninterrupted weights."""
    a = tmp_path / "a"
    main_phase = dict(steps=10, grad_accum=2, save_every=3, head_warmup=False)  # the warm-up: the next test
    adapt_model(_cfg(bert_dir, a, **main_phase))
    b = tmp_path / "b"

    def interrupt_at_step_4(event: object) -> None:
        if getattr(event, "kind", "") == "step" and getattr(event, "step", 0) == 4:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="step 4 of 10"):
        adapt_model(_cfg(bert_dir, b, **main_phase), progress=interrupt_at_step_4)
    assert _latest(b) == 4
    r = adapt_model(_cfg(bert_dir, b, **main_phase, resume=True))
    assert r.resumed_from_step == 4
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_an_interrupted_head_warmup_starts_again_on_resume(bert_dir: Path, tmp_path: Path) -> None:
    """The head warm-up (on by default for a fresh head) keeps no checkpoint of its own: interrupted, --resume starts
    the run again and ends with the weights of an uninterrupted run."""
    a, b = tmp_path / "a", tmp_path / "b"
    first = adapt_model(_cfg(bert_dir, a, steps=4, eval_every=2))
    assert first.head_warmup and first.head_warmup["steps"] >= 1
    phases: list[str] = []

    def interrupt_in_warmup(event: object) -> None:
        if getattr(event, "kind", "") == "phase":
            phases.append(str(getattr(event, "message", "")))
        if getattr(event, "kind", "") == "step" and phases and phases[-1].startswith("head warm-up: training"):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        adapt_model(_cfg(bert_dir, b, steps=4, eval_every=2), progress=interrupt_in_warmup)
    assert _latest(b) is None
    r = adapt_model(_cfg(bert_dir, b, steps=4, eval_every=2, resume=True))
    assert r.resumed_from_step is None
    assert [r.head_warmup[k] for k in ("steps", "mlm_loss")] == [first.head_warmup[k] for k in ("steps", "mlm_loss")]
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sigterm_kill_and_resume_reproduces_weights(bert_dir: Path, tmp_path: Path) -> None:
    """A real process killed with SIGTERM, resumed by the CLI, ends with the weights of an uninterrupted run."""
    args = ["--model", str(bert_dir), "--steps", "60", "--batch-size", "4", "--max-seq-len", "48",
            "--pppl-tokens", "16", "--save-every", "5", "--quiet"]
    ref = tmp_path / "ref"
    adapt_model(_cfg(bert_dir, ref, steps=60, pppl_tokens=16, save_every=5))
    out = tmp_path / "killed"
    env = _env()
    proc = subprocess.Popen([*ADAPTLANG, "adapt", str(UYGHUR), "-o", str(out), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoints" / "latest.json").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "rerun the same command with --resume" in err and len(err.strip().splitlines()) == 1
    killed_at = _latest(out)
    assert killed_at is not None and 5 <= killed_at < 60
    done = subprocess.run([*ADAPTLANG, "adapt", str(UYGHUR), "-o", str(out), *args, "--resume"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wa, wb = _weights(ref), _weights(out)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ---- bad input ------------------------------------------------------------------------------------------------
def test_corpus_too_small(bert_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("\n".join(_uyghur_lines()[:10]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="corpus too small"):
        adapt_model(_cfg(bert_dir, tmp_path / "out", corpus=str(small)))


def test_unencodable_script_suggests_translit(tmp_path: Path) -> None:
    latin_model = make_bert(tmp_path / "latin", LATIN_TEXT, vocab_size=120)
    with pytest.raises(InputError, match="--translit latin"):
        adapt_model(_cfg(latin_model, tmp_path / "out"))


def test_non_maskable_model(bert_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    d = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(d)
    AutoTokenizer.from_pretrained(bert_dir).save_pretrained(d)  # a tokenizer, so that the architecture is what fails
    with pytest.raises(ModelError, match="no masked-language-model architecture"):
        adapt_model(_cfg(d, tmp_path / "out"))
    with pytest.raises(ModelError, match="nope: no such directory"):
        adapt_model(_cfg(tmp_path / "nope", tmp_path / "out"))


def test_existing_output_needs_force_or_resume(bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="--force.*--resume"):
        adapt_model(_cfg(bert_dir, out))
    with pytest.raises(OutputExistsError, match="no checkpoint"):
        adapt_model(_cfg(bert_dir, out, resume=True))
    assert (out / "keep.txt").exists()
    adapt_model(_cfg(bert_dir, out, steps=1, force=True))
    with pytest.raises(OutputExistsError, match="finished adapted model"):
        adapt_model(_cfg(bert_dir, out, steps=1, resume=True))


def test_resume_with_other_options_is_refused(bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def stop(event: object) -> None:
        if getattr(event, "kind", "") == "step" and getattr(event, "step", 0) == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted):
        adapt_model(_cfg(bert_dir, out, steps=4, head_warmup=False), progress=stop)
    with pytest.raises(UsageError, match="--lr"):
        adapt_model(_cfg(bert_dir, out, steps=4, lr=1e-3, head_warmup=False, resume=True))


def test_disk_full_while_saving_keeps_previous_checkpoint(bert_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = ckpt._save_tensors
    calls = {"n": 0}

    def flaky(tensors: dict, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] > 2:  # the first checkpoint (params + optimizer) succeeds, the second fails
            real(tensors, path)  # write part of it, then fail like a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tensors, path)

    monkeypatch.setattr(ckpt, "_save_tensors", flaky)
    out = tmp_path / "out"
    with pytest.raises(ckpt.CheckpointError, match="disk full.*step 4.*previous checkpoint \\(step 2\\) is intact"):
        adapt_model(_cfg(bert_dir, out, steps=6, save_every=2, head_warmup=False))
    assert _latest(out) == 2
    assert [p.name for p in (out / "checkpoints").glob("step-*")] == ["step-0000002"]
    ckpt.CheckpointStore(out / "checkpoints").load(2)
    monkeypatch.setattr(ckpt, "_save_tensors", real)
    r = adapt_model(_cfg(bert_dir, out, steps=6, save_every=2, head_warmup=False, resume=True))
    assert r.resumed_from_step == 2


def test_bad_options() -> None:
    from adaptlang.adapt.config import resolve

    with pytest.raises(UsageError, match="--method"):
        resolve(AdaptConfig(corpus="c", model="m", output="o", method="prefix"))
    with pytest.raises(UsageError, match="--steps or --epochs"):
        resolve(AdaptConfig(corpus="c", model="m", output="o", steps=3, epochs=1))
    with pytest.raises(UsageError, match="--merge"):
        resolve(AdaptConfig(corpus="c", model="m", output="o", merge=True))


def test_sequence_longer_than_the_model_positions(xlmr_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--max-seq-len 200 is longer than the model's 158 positions"):
        adapt_model(_cfg(xlmr_dir, tmp_path / "out", max_seq_len=200))
    adapt_model(_cfg(xlmr_dir, tmp_path / "out", max_seq_len=158, steps=1))  # the longest that fits works


def test_cli_errors_are_one_line(bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    r = subprocess.run([*ADAPTLANG, "adapt", str(UYGHUR), "--model", str(bert_dir), "-o", str(out)],
                       capture_output=True, text=True, env=_env())
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "already exists" in r.stderr
    r = subprocess.run([*ADAPTLANG, "adapt", str(tmp_path / "missing.txt"), "--model", str(bert_dir), "-o",
                        str(tmp_path / "o2")], capture_output=True, text=True)
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr


def test_lora_with_extended_vocab_loads_like_the_merged_model(bert_dir: Path, tmp_path: Path) -> None:
    """The adapter carries the resized, mean-initialised embeddings and the new tokens' trained deltas."""
    from peft import PeftModel
    from transformers import AutoModel, AutoTokenizer

    kw = dict(method="lora", extend_vocab=40, steps=4, lr=1e-2)
    adapt_model(_cfg(bert_dir, tmp_path / "lora", **kw))
    adapt_model(_cfg(bert_dir, tmp_path / "merged", merge=True, **kw))
    tok = AutoTokenizer.from_pretrained(tmp_path / "lora")
    base = AutoModel.from_pretrained(bert_dir)
    base.resize_token_embeddings(len(tok))
    adapted = PeftModel.from_pretrained(base, tmp_path / "lora").eval()
    merged = AutoModel.from_pretrained(tmp_path / "merged").eval()
    batch = tok(_uyghur_lines()[:3], return_tensors="pt", padding=True)
    assert int((batch["input_ids"] >= len(tok) - 40).sum()) > 0  # new pieces are used
    with torch.no_grad():
        a = adapted(**batch).last_hidden_state
        b = merged(**batch).last_hidden_state
    assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.slow
def test_data_parallel_under_torchrun(bert_dir: Path, tmp_path: Path) -> None:
    """Two CPU processes (gloo DDP), as `accelerate launch` would start them: each takes half of every batch."""
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "adaptlang.cli.main", "adapt", str(UYGHUR),
                        "--model", str(bert_dir), "-o", str(out), "--steps", "4", "--batch-size", "2",
                        "--max-seq-len", "48", "--pppl-tokens", "8", "--quiet"],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    figures = json.loads((out / "adapt.json").read_text())
    assert figures["n_processes"] == 2 and figures["data"]["global_batch_sequences"] == 4
    assert r.stdout.count("adapted ") == 1  # one report, from the main process


def test_adapted_lora_model_trains_a_parser(shared_ud: Path, tmp_path: Path) -> None:
    """Contract with `adaptlang train`: a transliterated, vocabulary-extended LoRA adapter is a valid --model."""
    from adaptlang.translit import get_transliterator

    t = get_transliterator("table:ug-uly", lang="ug")
    model = make_bert(tmp_path / "lat", [t.transliterate(x) for x in _uyghur_lines()])
    out = tmp_path / "adapted"
    r = adapt_model(_cfg(model, out, method="lora", translit="latin", lang="ug", extend_vocab=30, steps=3))
    assert r.translit == "table:ug-uly"
    blocks = (shared_ud / "UD_Uyghur-UDT" / "ug_udt-ud-train.conllu").read_text(encoding="utf-8").split("\n\n")
    treebank = tmp_path / "ug40.conllu"
    treebank.write_text("\n\n".join(blocks[:40]) + "\n\n", encoding="utf-8")
    parser = tmp_path / "parser"
    done = subprocess.run([*ADAPTLANG, "train", "--train", str(treebank), "--model", str(out), "-o", str(parser),
                           "--epochs", "1"], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "table:ug-uly" in (parser / "config.json").read_text()  # the scheme travels on to the parser
