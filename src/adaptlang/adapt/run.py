"""``adapt_model``: continued masked-language-model training of an encoder on a raw target-language corpus.

Steps: read (and transliterate) the corpus -> hold out every k-th line -> optionally extend the vocabulary ->
tokenize and pack -> measure held-out MLM loss and pseudo-perplexity -> train (full or LoRA) on the training core
(:func:`adaptlang.engine.fit` with the MLM task of :mod:`adaptlang.tasks.mlm`) -> measure again -> write OUT
atomically (Hugging Face model or PEFT adapter dir + ``adaptlang.json`` + ``adapt.json`` + ``README.md``).

The core gives checkpoints under ``OUT/checkpoints`` (bit-exact ``--resume``), signal-safe saving, the time
budget, bf16 autocast and several processes under ``accelerate launch``.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from adaptlang.adapt.config import EVAL_EVERY_CAP, RESUME_FREE_KEYS, AdaptConfig, AdaptResult, resolve
from adaptlang.adapt.corpus import Packed, Tokenized, heldout_indices, ordinal, read_corpus, split_heldout, \
    tokenize_lines
from adaptlang.adapt.model import MaskedLMObjective, apply_lora, base_location, count_parameters, \
    enable_gradient_checkpointing, extend_embeddings, load_masked_lm
from adaptlang.engine import FitConfig, FitResult, Interrupted, check_resumable, fit
from adaptlang.engine.checkpoint import CHECKPOINTS, CheckpointError, CheckpointStore
from adaptlang.engine.runtime import resolve_device, run_lock
from adaptlang.errors import InputError, OutputExistsError, UsageError
from adaptlang.events import Event, Progress, silent
from adaptlang.fileio import atomic_path, disk_errors
from adaptlang.scripts import dominant_script
from adaptlang.tasks.mlm import MaskingConfig, MLMTask, heldout_scores, pack_for, steps_per_epoch

UNENCODABLE_UNK_RATE = 0.5
FRESH_HEAD = "fresh (tied to input embeddings)"

__all__ = ["Event", "Interrupted", "adapt_model"]


def checkpoint_root(out: Path) -> Path:
    return out / CHECKPOINTS


@dataclass
class Corpus:
    """The corpus as adapt trains on it (after transliteration), with its figures."""

    lines: list[str]
    sha256: str
    script: str | None
    translit: str | None
    train_lines: list[str]
    heldout_lines: list[str]
    stride: int


@dataclass
class Prepared:
    """Model, tokenizer and packed data, ready for the training core."""

    loaded: Any
    objective: MaskedLMObjective
    tokenizer: Any
    extension: Any
    vocab_info: dict[str, Any] | None
    train_tok: Tokenized
    held_tok: Tokenized
    train_data: Packed
    held_data: Packed
    vocab_size: int
    lora_targets: list[str]


def adapt_model(config: AdaptConfig, progress: Progress | None = None) -> AdaptResult:
    """Adapt ``config.model`` to ``config.corpus`` and write ``config.output``; see the module docstring. OUT is
    locked for the whole run (a second run on it fails at once); a full disk ends in one line naming OUT."""
    with run_lock(config.output), disk_errors(config.output):
        return _adapt(config, progress)


def _adapt(config: AdaptConfig, progress: Progress | None) -> AdaptResult:
    from accelerate import PartialState

    c = resolve(config)
    say = progress or silent
    state = PartialState(cpu=not torch.cuda.is_available())
    out = Path(c.output)
    resume_step = _prepare_output(out, c, state.is_main_process, say)
    state.wait_for_everyone()
    corpus = _read(c, say)
    prep = _prepare(c, corpus, out, resume_step, state.is_main_process, say)
    device = resolve_device("auto")
    masking = MaskingConfig(c.mlm_probability, c.whole_word_mask)
    measure = dict(batch_size=c.batch_size, masking=masking, mask_token_id=prep.tokenizer.mask_token_id,
                   vocab_size=prep.vocab_size, seed=c.seed, pppl_tokens=c.pppl_tokens)
    plan = _schedule(c, prep.train_data.n_seq, state.num_processes)  # a corpus too small fails before any work
    meta = _resume_meta(out, c, corpus.sha256) if resume_step is not None else None
    if meta is None:
        say(Event("phase", message="measuring held-out MLM loss and pseudo-perplexity before adaptation"))
        prep.objective.to(device)
        meta = {"config": _config_for_compare(c), "corpus_sha256": corpus.sha256,
                "heldout_before": heldout_scores(prep.objective, prep.held_data, device=device, **measure)}
    if c.head_warmup and resume_step is None:
        meta["head_warmup"] = _head_warmup(c, prep, plan, masking, out, device, say)
    warm = meta.get("head_warmup")
    minutes = None if c.max_minutes is None else max(0.05, c.max_minutes - (warm or {}).get("minutes", 0.0))
    r = fit(_task(c, prep, masking, plan, float(c.lr)), _fit_config(c, plan, device, minutes, c.warmup),
            checkpoint_root(out), progress=say, resume=resume_step is not None, meta=meta, output=out)
    say(Event("phase", message=f"stopped: {_stop_text(r)}; measuring held-out MLM loss and pseudo-perplexity "
                               "of the kept weights"))
    after = heldout_scores(prep.objective, prep.held_data, device=device, **measure)
    result = _result(c, corpus, prep, r, r.meta or meta, after, plan.total_steps, resume_step)
    if state.is_main_process:
        say(Event("phase", message=f"writing {out}"))
        _write_output(out, prep.objective, prep.tokenizer, c, result, prep.loaded.head_shipped, corpus.translit,
                      prep.extension)
    state.wait_for_everyone()
    return result


@dataclass(frozen=True)
class Schedule:
    """How the run is cut for the engine: its "epochs" are evaluation periods of ``every`` optimiser steps."""

    every: int  # optimiser steps between held-out evaluations
    period: int | None  # micro-batches per evaluation period (None: one pass over the corpus)
    periods: int  # evaluation periods planned (the engine's epochs)
    max_steps: int | None  # --steps, else None (the periods end the run; a time budget replans them)
    steps_per_pass: int

    @property
    def total_steps(self) -> int:
        return self.max_steps if self.max_steps is not None else self.every * self.periods


def _schedule(c: AdaptConfig, n_seq: int, n_processes: int) -> Schedule:
    """Evaluation every ``--eval-every`` steps (default: every pass, or every EVAL_EVERY_CAP steps when a pass is
    longer), shortened to cut the run into equal periods; ``--epochs`` is rounded up to whole periods (a few steps
    at most)."""
    per_pass = steps_per_epoch(n_seq, c.batch_size, c.grad_accum, n_processes)
    every = c.eval_every or min(per_pass, EVAL_EVERY_CAP)
    global_batch = c.batch_size * c.grad_accum * n_processes
    if c.steps is None and float(c.epochs or 1.0) * n_seq < min(global_batch, n_seq):  # not one batch's worth
        raise InputError(c.corpus, f"corpus too small for --epochs {c.epochs:g}: its training slice packs into "
                                   f"{n_seq} sequence(s) of {c.max_seq_len} tokens, and that share of them is less "
                                   f"than one batch of {global_batch}; give more text, more --epochs or a smaller "
                                   "--batch-size")
    total = c.steps if c.steps is not None else max(1, math.ceil(float(c.epochs or 1.0) * per_pass))
    if every == per_pass and c.steps is None and float(c.epochs or 1.0).is_integer():
        return Schedule(every, None, int(c.epochs or 1), None, per_pass)
    periods = math.ceil(total / every)
    every = math.ceil(total / periods)  # equal periods that cover the steps asked, overshooting by under one period
    return Schedule(every, every * c.grad_accum * n_processes, periods, c.steps, per_pass)


def _task(c: AdaptConfig, prep: Prepared, masking: MaskingConfig, plan: Schedule, lr: float) -> MLMTask:
    return MLMTask(prep.objective, prep.train_data, batch_size=c.batch_size, lr=lr, weight_decay=c.weight_decay,
                   masking=masking, mask_token_id=prep.tokenizer.mask_token_id, vocab_size=prep.vocab_size,
                   seed=c.seed, heldout=prep.held_data, period=plan.period)


def _fit_config(c: AdaptConfig, plan: Schedule, device: Any, minutes: float | None, warmup: float,
                periods: int | None = None) -> FitConfig:
    """Early stopping on the held-out MLM loss (lower is better), the best evaluation's weights kept."""
    return FitConfig(epochs=periods or plan.periods, max_steps=plan.max_steps, grad_accum=c.grad_accum,
                     warmup=warmup, weight_decay=c.weight_decay, grad_clip=c.max_grad_norm, patience=c.patience,
                     select_metric="mlm_loss", select_mode="min", seed=c.seed, device=str(device),
                     max_minutes=minutes, save_every=c.save_every, progress_every=c.progress_every,
                     log_dir=c.log_dir, cpu_bf16=c.cpu_bf16)


def _head_warmup(c: AdaptConfig, prep: Prepared, plan: Schedule, masking: MaskingConfig, out: Path, device: Any,
                 say: Progress) -> dict[str, Any] | None:
    """Train a fresh MLM head alone (encoder and embeddings frozen) until its held-out loss stops falling (at most
    one pass, half the time budget); the best head is kept. Not resumable on its own: an interrupted warm-up starts
    again. None when the model shipped its head (nothing to warm up)."""
    objective = prep.objective
    if prep.loaded.head_shipped or objective.head_attr is None:
        say(Event("phase", message="head warm-up: the model shipped its MLM head; nothing to warm up"))
        return None
    tied = objective.mlm.get_input_embeddings().weight
    head = [p for p in getattr(objective.mlm, objective.head_attr).parameters() if p is not tied]
    flags = [(p, p.requires_grad) for p in objective.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    for p in head:
        p.requires_grad_(True)
    root = checkpoint_root(out) / "head-warmup"
    shutil.rmtree(root, ignore_errors=True)
    say(Event("phase", message="head warm-up: training the fresh MLM head alone, the encoder frozen"))
    periods = max(1, math.ceil(plan.steps_per_pass / plan.every)) if plan.period is not None else 1
    cfg = dataclasses.replace(_fit_config(c, plan, device, c.max_minutes / 2 if c.max_minutes else None, 0.0,
                                          periods), max_steps=None, save_every=None)
    try:
        r = fit(_task(c, prep, masking, plan, c.head_lr), cfg, root, progress=say, output=out)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    shutil.rmtree(root, ignore_errors=True)
    return {"steps": r.steps, "minutes": round(r.train_seconds / 60, 2), "stop_reason": r.stop_reason,
            "lr": c.head_lr, "mlm_loss": r.best_dev.get("mlm_loss"), "heldout_curve": heldout_curve(r)}


def heldout_curve(r: FitResult) -> list[dict[str, Any]]:
    """The held-out MLM loss at each evaluation, with the optimiser step and the minutes trained by then."""
    curve, seconds = [], 0.0
    for e in r.epochs:
        seconds += e.seconds
        if "mlm_loss" in e.dev:
            curve.append({"step": e.steps, "minutes": round(seconds / 60, 2), "mlm_loss": e.dev["mlm_loss"]})
    return curve


def _stop_text(r: FitResult) -> str:
    best = r.best_dev.get("mlm_loss")
    step = next((e.steps for e in r.epochs if e.epoch == r.best_epoch), None)
    kept = f"; kept the weights of step {step} (held-out MLM loss {best})" if step and best is not None else ""
    return f"{r.stop_reason} after {r.steps} steps{kept}"


def _resume_meta(out: Path, c: AdaptConfig, corpus_sha: str) -> dict[str, Any]:
    saved = (CheckpointStore(checkpoint_root(out)).latest_state() or {}).get("meta", {})
    if saved.get("corpus_sha256") != corpus_sha:
        raise UsageError(f"--resume: {c.corpus} changed since the interrupted run; start over with --force")
    check_resumable(saved.get("config"), _config_for_compare(c))
    return saved


def _read(c: AdaptConfig, say: Progress) -> Corpus:
    """Read (and transliterate) the corpus; split off the held-out slice."""
    lines, corpus_sha = read_corpus(c.corpus, c.encoding_errors)
    if not lines:
        raise InputError(c.corpus, "no text: the corpus has no non-blank lines")
    script = dominant_script(lines)
    translit_name, translit_fn = _resolve_translit(c.translit, c.lang, script)
    if translit_fn is not None:
        say(Event("phase", message=f"transliterating with {translit_name}"))
        lines = [translit_fn(line) for line in lines]
    if c.strip_diacritics:
        from adaptlang.translit.diacritics import strip_diacritics

        lines = [strip_diacritics(line) for line in lines]
    train_lines, heldout_lines = split_heldout(lines, c.heldout_fraction, c.corpus)
    k = heldout_indices(len(lines), c.heldout_fraction).step
    say(Event("phase", message=f"held-out slice: every {ordinal(k)} line of the corpus ({len(heldout_lines)} of "
                               f"{len(lines)} lines)"))
    return Corpus(lines, corpus_sha, script, translit_name, train_lines, heldout_lines, k)


def _load(c: AdaptConfig, say: Progress) -> Any:
    say(Event("phase", message=f"loading {c.model}"))
    torch.manual_seed(c.seed)  # a fresh head's and LoRA's initial weights depend on the seed only
    loaded = load_masked_lm(c.model)
    say(Event("phase", message="MLM head: shipped with the model" if loaded.head_shipped else
              "MLM head: none shipped; a fresh head tied to the input embeddings is trained"))
    max_positions = getattr(loaded.mlm.config, "max_position_embeddings", None)
    if max_positions is not None:
        # RoBERTa-style models number positions from padding_idx + 1, losing two positions
        usable = max_positions - (2 if hasattr(loaded.mlm, "roberta") else 0)
        if c.max_seq_len > usable:
            raise UsageError(f"--max-seq-len {c.max_seq_len} is longer than the model's {usable} positions")
    return loaded


def _extend_vocab(c: AdaptConfig, corpus: Corpus, loaded: Any, out: Path, resume_step: int | None, main: bool,
                  say: Progress) -> tuple[Any, Any, dict[str, Any] | None]:
    """(tokenizer, extension, figures) with ``--extend-vocab``; the base tokenizer otherwise."""
    if not c.extend_vocab:
        return loaded.tokenizer, None, None
    from adaptlang.adapt.vocab import extend_tokenizer, load_extension, save_extension

    if resume_step is not None:
        tokenizer, extension = load_extension(checkpoint_root(out))
    else:
        say(Event("phase", message=f"learning a subword vocabulary on the corpus; adding up to {c.extend_vocab} "
                                   "pieces"))
        out.mkdir(parents=True, exist_ok=True)
        tokenizer, extension = extend_tokenizer(loaded.tokenizer, corpus.train_lines, c.extend_vocab, str(out))
        if main:
            save_extension(checkpoint_root(out), tokenizer, extension)
    info = {**extension.summary(), "before": tokenize_lines(corpus.heldout_lines, loaded.tokenizer).stats(),
            "after": tokenize_lines(corpus.heldout_lines, tokenizer).stats(), "measured_on": "held-out slice"}
    return tokenizer, extension, info


def _prepare(c: AdaptConfig, corpus: Corpus, out: Path, resume_step: int | None, main: bool,
             say: Progress) -> Prepared:
    loaded = _load(c, say)
    tokenizer, extension, vocab_info = _extend_vocab(c, corpus, loaded, out, resume_step, main, say)
    train_tok = tokenize_lines(corpus.train_lines, tokenizer)
    unk_rate = train_tok.n_unk / max(1, train_tok.n_tokens)
    if unk_rate >= UNENCODABLE_UNK_RATE:
        hint = f"; try --translit latin (the text is in {corpus.script} script)" if corpus.translit is None else ""
        raise InputError(c.corpus, f"the model's tokenizer cannot encode this text: {unk_rate:.0%} of its subword "
                                   f"tokens are unknown{hint}")
    held_tok = tokenize_lines(corpus.heldout_lines, tokenizer)
    train_data = pack_for(train_tok, c.max_seq_len, tokenizer)
    held_data = pack_for(held_tok, c.max_seq_len, tokenizer)
    if extension is not None and extension.new_ids:
        extend_embeddings(loaded.mlm, max(len(tokenizer), loaded.mlm.get_input_embeddings().weight.shape[0]),
                          extension.inits, loaded.tokenizer.unk_token_id)
    lora_targets: list[str] = []
    if c.method == "lora":
        torch.manual_seed(c.seed + 1)
        lora_targets, _ = apply_lora(loaded, c.lora_r, c.lora_alpha, c.lora_dropout,
                                     extension.new_ids if extension else [], c.model)
    if c.gradient_checkpointing:
        enable_gradient_checkpointing(loaded)
    objective = MaskedLMObjective(loaded)
    if c.head_vocab == "corpus":
        objective.restrict(torch.cat([train_data.input_ids.flatten(), held_data.input_ids.flatten()]))
    return Prepared(loaded, objective, tokenizer, extension, vocab_info, train_tok, held_tok,
                    train_data, held_data, loaded.mlm.get_input_embeddings().weight.shape[0], lora_targets)


def _result(c: AdaptConfig, corpus: Corpus, prep: Prepared, r: FitResult, meta: dict[str, Any],
            after: dict[str, Any], n_steps: int, resume_step: int | None) -> AdaptResult:
    hb = meta["heldout_before"]
    global_batch = c.batch_size * c.grad_accum * r.n_processes
    data_info = {
        "corpus": str(c.corpus), "corpus_sha256": corpus.sha256, "script": corpus.script,
        "lines": len(corpus.lines), "train_lines": len(corpus.train_lines), "heldout_lines": len(corpus.heldout_lines),
        "heldout": f"every {ordinal(corpus.stride)} non-blank line", "train_tokens": prep.train_tok.n_tokens,
        "heldout_tokens": prep.held_tok.n_tokens, "train_sequences": prep.train_data.n_seq,
        "heldout_sequences": prep.held_data.n_seq, "tokens_per_sequence": c.max_seq_len,
        "global_batch_sequences": global_batch, "total_steps": n_steps,
        "warmup_steps": int(c.warmup * n_steps), "epochs": round(r.steps * global_batch / prep.train_data.n_seq, 4),
        # a schedule cut to fit --max-minutes ends "completed" before the steps asked: the budget ended it
        "stop_reason": "time budget" if r.stop_reason == "completed" and r.steps < n_steps else r.stop_reason,
        "best_step": next((e.steps for e in r.epochs if e.epoch == r.best_epoch), None),
        "patience": c.patience,
        # pieces the MLM softmax (training and held-out loss) runs over
        "head_pieces": int(prep.objective.head_ids.numel()) if prep.objective.head_ids is not None else prep.vocab_size,
        "vocabulary": prep.vocab_size,
    }
    heldout = {
        "lines": len(corpus.heldout_lines), "tokens": prep.held_tok.n_tokens,
        "selection": f"every {ordinal(corpus.stride)} non-blank line of the corpus",
        "masked_tokens": hb["masked_tokens"], "pppl_positions": hb["pppl_positions"],
        "mlm_loss_before": hb["mlm_loss"], "mlm_loss_after": after["mlm_loss"],
        "pseudo_perplexity_before": hb["pseudo_perplexity"], "pseudo_perplexity_after": after["pseudo_perplexity"],
    }
    n_trainable, n_total = count_parameters(prep.objective)
    targets = prep.lora_targets
    return AdaptResult(
        output=str(c.output), method=c.method, merged=c.merge,
        base_model="(from scratch)" if c.from_scratch else str(c.model), translit=corpus.translit,
        head="trained from scratch" if c.from_scratch else "shipped" if prep.loaded.head_shipped else FRESH_HEAD,
        steps=r.steps, resumed_from_step=resume_step,
        tokens_trained=r.units.get("tokens", 0), train_seconds=r.train_seconds,
        tokens_per_second=r.units_per_second.get("tokens", 0.0), peak_memory_mb=r.peak_memory_mb,
        final_train_loss=r.losses[-1] if r.losses else None, heldout=heldout, data=data_info, vocab=prep.vocab_info,
        trainable_parameters=n_trainable, total_parameters=n_total,
        device=r.device + (" (bf16 autocast)" if r.device.startswith("cuda") else ""), n_processes=r.n_processes,
        config=dict(c.to_dict(), lora_targets=targets[:8] + (["..."] if len(targets) > 8 else [])),
        train_losses=list(r.losses), heldout_curve=heldout_curve(r), head_warmup=meta.get("head_warmup"),
        step_tokens_per_second=r.units_per_step_second.get("tokens", 0.0))


# ------------------------------------------------------------------------------------------------------------------
def _prepare_output(out: Path, c: AdaptConfig, main: bool, say: Progress) -> int | None:
    """Apply --force / --resume to an existing OUT; return the step to resume from (None: start fresh)."""
    if not out.exists() and not out.is_symlink():
        return None
    if c.resume:
        if not out.is_dir():
            raise OutputExistsError(out, "it is not a directory; pass --force to replace it")
        step = CheckpointStore(checkpoint_root(out)).latest_step()
        if step is not None:
            return step
        if (out / "adaptlang.json").is_file():
            raise OutputExistsError(out, "it holds a finished adapted model, nothing to resume; pass --force to redo")
        if any(p.name != CHECKPOINTS for p in out.iterdir()):
            raise OutputExistsError(out, "it holds no checkpoint of an interrupted run; pass --force to overwrite it")
        say(Event("phase", message=f"{out} has no checkpoint yet; starting from the beginning"))
        if main:
            shutil.rmtree(out)
        return None
    if not c.force:
        raise OutputExistsError(out, "pass --force to start over, or --resume to continue an interrupted run")
    if main:
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        else:
            out.unlink()
    return None


def _resolve_translit(choice: str | None, lang: str | None, script: str | None) -> tuple[str | None, Any]:
    """(canonical scheme name, transliterate function) for --translit; (None, None) for none."""
    from adaptlang.translit import get_transliterator
    from adaptlang.translit.choice import resolve_translit

    scheme = resolve_translit(choice, script=script, lang=lang).scheme
    if scheme is None:
        return None, None
    t = get_transliterator(scheme, lang=lang)
    return t.name, t.transliterate


def _config_for_compare(c: AdaptConfig) -> dict[str, Any]:
    return {k: v for k, v in c.to_dict().items() if k not in RESUME_FREE_KEYS}


def _write_output(out: Path, objective: MaskedLMObjective, tokenizer: Any, c: AdaptConfig, result: AdaptResult,
                  head_shipped: bool, translit_name: str | None, extension: Any) -> None:
    """Write the final OUT directory in one atomic swap (the checkpoints of the old OUT go with it)."""
    import json

    from safetensors.torch import save_file

    mlm = objective.mlm
    encoder = getattr(mlm, objective.base_prefix)
    is_peft = hasattr(encoder, "peft_config")
    fmt = "full"
    try:
        with atomic_path(out) as tmp:
            tmp.mkdir()
            if is_peft and c.merge:
                merged = encoder.merge_and_unload()
                setattr(mlm, objective.base_prefix, merged)
                mlm.save_pretrained(str(tmp))
            elif is_peft:
                fmt = "lora"
                encoder.save_pretrained(str(tmp), save_embedding_layers=bool(extension and extension.new_ids))
                if not head_shipped:
                    head = getattr(mlm, objective.head_attr) if objective.head_attr else None
                    if head is not None:
                        save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()
                                   if "decoder" not in k}, str(tmp / "mlm_head.safetensors"))
            else:
                mlm.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            meta = {
                "kind": "adapted-model",
                "method": c.method,
                "format": fmt,
                "merged": bool(is_peft and c.merge),
                "base_model": None if c.from_scratch else base_location(c.model),
                **({"from_scratch": c.from_scratch} if c.from_scratch else {}),
                "translit": translit_name,
                "lang": c.lang,
                "vocab_size": len(tokenizer),
                "vocab_extended": bool(extension and extension.new_ids),
                "head": result.head,
                "adaptlang_version": _version(),
            }
            (tmp / "adaptlang.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            _card(tmp, c, result)
            (tmp / "adapt.json").write_text(
                json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        import errno

        what = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise CheckpointError(
            f"{out}: {what} while writing the adapted model; the checkpoints in {checkpoint_root(out)} are "
            "intact; free space and rerun with --resume"
        ) from None


def _version() -> str:
    from adaptlang import __version__

    return __version__


def _card(directory: Path, c: AdaptConfig, r: AdaptResult) -> None:
    from adaptlang.engine.card import write_model_card

    h = r.heldout
    s = c.from_scratch
    title = (f"A {s['layers']}-layer, {s['hidden']}-wide BERT trained from scratch by masked-language modelling"
             if s else f"{Path(str(c.model)).name} adapted by masked-language-model training ({r.method})")
    what = (f"A monolingual BERT with its own WordPiece vocabulary ({s['vocab_size']} pieces at most), trained "
            "from a random initialisation with the MLM objective on raw text only" if s else
            f"`{c.model}` trained further with the MLM objective on raw text")
    write_model_card(
        directory, title=title,
        summary=(what + (f" transliterated with {r.translit}" if r.translit else "")
                 + (" (a PEFT LoRA adapter: load it with peft)" if r.method == "lora" and not r.merged else "")
                 + ". Use it as `--model` of `adaptlang train`, or load it with transformers."),
        base_model=None if s else str(c.model), data={"corpus": str(c.corpus)},
        scores={"held-out MLM loss before": h["mlm_loss_before"], "held-out MLM loss after": h["mlm_loss_after"],
                "pseudo-perplexity before": h["pseudo_perplexity_before"],
                "pseudo-perplexity after": h["pseudo_perplexity_after"], "steps": r.steps,
                "tokens trained": r.tokens_trained},
        settings={k: v for k, v in c.to_dict().items()
                  if k not in ("corpus", "model", "output", "force", "resume") and v is not None},
        tags=("fill-mask", "adaptlang", f"language:{c.lang}" if c.lang else "low-resource"))
