"""``adapt_model``: continued masked-language-model training of an encoder on a raw target-language corpus.

Steps: read (and transliterate) the corpus -> hold out every k-th line -> optionally extend the vocabulary ->
tokenize and pack -> measure held-out MLM loss and pseudo-perplexity -> train (full or LoRA) with checkpoints ->
measure again -> write OUT atomically (Hugging Face model or PEFT adapter dir + ``adaptlang.json`` + ``adapt.json``).

Randomness is a pure function of (seed, step): the data order of step s, its masks and its dropout seed are derived
from them, so ``--resume`` from a checkpoint (weights + AdamW moments) reproduces an uninterrupted run exactly on
CPU. Device placement, DDP and bf16 autocast come from ``accelerate.Accelerator``, so the same code runs under
``accelerate launch`` on several GPUs (each process takes its share of every global batch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from adaptlang.adapt import checkpoint as ckpt
from adaptlang.adapt.config import RESUME_FREE_KEYS, AdaptConfig, AdaptResult, resolve
from adaptlang.adapt.corpus import (
    Packed,
    Tokenized,
    batch_indices,
    dominant_script,
    heldout_indices,
    ordinal,
    mask_tokens,
    pack,
    read_corpus,
    split_heldout,
    step_generator,
    tokenize_lines,
)
from adaptlang.adapt.model import (
    MaskedLMObjective,
    apply_lora,
    count_parameters,
    extend_embeddings,
    load_masked_lm,
)
from adaptlang.errors import AdaptlangError, InputError, OutputExistsError, UsageError
from adaptlang.fileio import atomic_path

UNENCODABLE_UNK_RATE = 0.5
FRESH_HEAD = "fresh (tied to input embeddings)"


class Interrupted(AdaptlangError):
    """SIGINT/SIGTERM during training: a checkpoint was saved; rerun with --resume."""

    exit_code = 130


@dataclass(frozen=True)
class Event:
    """Progress report for the CLI: ``kind`` is 'phase' (message), 'start' (total steps), 'step' or 'done'."""

    kind: str
    message: str = ""
    step: int = 0
    total: int = 0
    loss: float | None = None
    tokens_per_second: float | None = None


Callback = Callable[[Event], None]


def adapt_model(config: AdaptConfig, progress: Callback | None = None) -> AdaptResult:
    """Adapt ``config.model`` to ``config.corpus`` and write ``config.output``; see the module docstring."""
    c = resolve(config)
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if cuda else "no")
    main = accelerator.is_main_process

    def say(message: str) -> None:
        if main and progress is not None:
            progress(Event("phase", message))

    out = Path(c.output)
    resume_step = _prepare_output(out, c, main, say)
    accelerator.wait_for_everyone()

    # ---- corpus -------------------------------------------------------------------------------------------------
    lines, corpus_sha = read_corpus(c.corpus, c.encoding_errors)
    if not lines:
        raise InputError(c.corpus, "no text: the corpus has no non-blank lines")
    script = dominant_script(lines)
    translit_name, translit_fn = _resolve_translit(c.translit, c.lang, script)
    if translit_fn is not None:
        say(f"transliterating with {translit_name}")
        lines = [translit_fn(line) for line in lines]
    train_lines, heldout_lines = split_heldout(lines, c.heldout_fraction, c.corpus)
    k = heldout_indices(len(lines), c.heldout_fraction).step
    say(f"held-out slice: every {ordinal(k)} line of the corpus ({len(heldout_lines)} of {len(lines)} lines)")

    # ---- model, tokenizer, vocabulary ---------------------------------------------------------------------------
    say(f"loading {c.model}")
    torch.manual_seed(c.seed)  # a fresh head's and LoRA's initial weights depend on the seed only
    loaded = load_masked_lm(c.model)
    say("MLM head: shipped with the model" if loaded.head_shipped else
        "MLM head: none shipped; a fresh head tied to the input embeddings is trained")
    max_positions = getattr(loaded.mlm.config, "max_position_embeddings", None)
    if max_positions is not None:
        # RoBERTa-style models number positions from padding_idx + 1, losing two positions
        usable = max_positions - (2 if hasattr(loaded.mlm, "roberta") else 0)
        if c.max_seq_len > usable:
            raise UsageError(f"--max-seq-len {c.max_seq_len} is longer than the model's {usable} positions")
    base_tokenizer = loaded.tokenizer
    before_held = tokenize_lines(heldout_lines, base_tokenizer)
    vocab_info: dict[str, Any] | None = None
    tokenizer = base_tokenizer
    extension = None
    if c.extend_vocab:
        from adaptlang.adapt.vocab import extend_tokenizer, load_extension, save_extension

        if resume_step is not None:
            tokenizer, extension = load_extension(ckpt.checkpoint_root(out))
        else:
            say(f"learning a subword vocabulary on the corpus; adding up to {c.extend_vocab} pieces")
            out.mkdir(parents=True, exist_ok=True)
            tokenizer, extension = extend_tokenizer(base_tokenizer, train_lines, c.extend_vocab, str(out))
            if main:
                save_extension(ckpt.checkpoint_root(out), tokenizer, extension)
        after_held = tokenize_lines(heldout_lines, tokenizer)
        vocab_info = {
            **extension.summary(),
            "before": before_held.stats(),
            "after": after_held.stats(),
            "measured_on": "held-out slice",
        }
    train_tok = tokenize_lines(train_lines, tokenizer)
    unk_rate = train_tok.n_unk / max(1, train_tok.n_tokens)
    if unk_rate >= UNENCODABLE_UNK_RATE:
        hint = f"; try --translit latin (the text is in {script} script)" if translit_fn is None else ""
        raise InputError(
            c.corpus,
            f"the model's tokenizer cannot encode this text: {unk_rate:.0%} of its subword tokens are unknown{hint}",
        )
    held_tok = tokenize_lines(heldout_lines, tokenizer)
    train_data = _pack(train_tok, c.max_seq_len, tokenizer)
    held_data = _pack(held_tok, c.max_seq_len, tokenizer)
    if extension is not None and extension.new_ids:
        extend_embeddings(loaded.mlm, max(len(tokenizer), loaded.mlm.get_input_embeddings().weight.shape[0]),
                          extension.inits, base_tokenizer.unk_token_id)

    lora_targets: list[str] = []
    if c.method == "lora":
        torch.manual_seed(c.seed + 1)
        lora_targets, _ = apply_lora(loaded, c.lora_r, c.lora_alpha, c.lora_dropout,
                                     extension.new_ids if extension else [], c.model)
    objective = MaskedLMObjective(loaded)
    n_trainable, n_total = count_parameters(objective)
    vocab_size = loaded.mlm.get_input_embeddings().weight.shape[0]

    # ---- schedule -----------------------------------------------------------------------------------------------
    world = accelerator.num_processes
    global_batch = c.batch_size * c.grad_accum * world
    total_steps = c.steps if c.steps is not None else max(1, math.ceil(c.epochs * train_data.n_seq / global_batch))
    warmup_steps = int(math.ceil(c.warmup * total_steps))
    data_info = {
        "corpus": str(c.corpus),
        "corpus_sha256": corpus_sha,
        "script": script,
        "lines": len(lines),
        "train_lines": len(train_lines),
        "heldout_lines": len(heldout_lines),
        "heldout": f"every {ordinal(k)} non-blank line",
        "train_tokens": train_tok.n_tokens,
        "heldout_tokens": held_tok.n_tokens,
        "train_sequences": train_data.n_seq,
        "heldout_sequences": held_data.n_seq,
        "tokens_per_sequence": c.max_seq_len,
        "global_batch_sequences": global_batch,
        "total_steps": total_steps,
        "warmup_steps": warmup_steps,
        "epochs": round(total_steps * global_batch / train_data.n_seq, 4),
    }

    decay, no_decay = [], []
    for name, p in objective.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": c.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:  # the fused kernel (CPU and CUDA) is several times faster on a 96M-row embedding matrix
        optimizer = torch.optim.AdamW(groups, lr=c.lr, fused=True)
    except (RuntimeError, ValueError):
        optimizer = torch.optim.AdamW(groups, lr=c.lr, foreach=False)
    model, optimizer = accelerator.prepare(objective, optimizer)
    unwrapped: MaskedLMObjective = accelerator.unwrap_model(model)

    run_state: dict[str, Any] = {"config": _config_for_compare(c), "corpus_sha256": corpus_sha}
    start_step = 0
    if resume_step is not None:
        params, opt_state, saved = ckpt.load_checkpoint(out, resume_step)
        _check_resume_config(saved, c, corpus_sha)
        trainable = dict(_trainable(unwrapped))
        if set(params) != set(trainable):
            raise ckpt.CheckpointError(f"{out}: the checkpoint does not match this model; start over with --force")
        with torch.no_grad():
            for name, p in trainable.items():
                p.copy_(params[name].to(p.device, p.dtype))
        optimizer.load_state_dict(opt_state)
        run_state = saved
        start_step = resume_step
        say(f"resuming from the checkpoint of step {resume_step} of {total_steps}")

    device = accelerator.device
    # ---- held-out before --------------------------------------------------------------------------------------
    if "heldout_before" not in run_state:
        say("measuring held-out MLM loss and pseudo-perplexity before adaptation")
        run_state["heldout_before"] = evaluate(unwrapped, held_data, tokenizer, c, device, vocab_size)

    # ---- training loop ----------------------------------------------------------------------------------------
    stop = {"signal": None}

    def on_signal(signum: int, frame: Any) -> None:
        stop["signal"] = signum

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in handlers:
        signal.signal(s, on_signal)
    tokens_this_run = 0
    reset_peak_memory()  # report the memory of training, not of loading
    peak_mb = peak_memory_mb()
    tokens_before = int(run_state.get("tokens_trained", 0))
    losses: list[float] = run_state.get("losses", [])
    t0 = time.perf_counter()
    if main and progress is not None:
        progress(Event("start", "training", step=start_step, total=total_steps))
    try:
        model.train()
        for step in range(start_step, total_steps):
            lr = c.lr * _lr_factor(step + 1, warmup_steps, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(_seed(c.seed, 1, step, accelerator.process_index))
            step_loss = 0.0
            for micro in range(c.grad_accum):
                first = (step * c.grad_accum + micro) * c.batch_size * world + accelerator.process_index * c.batch_size
                idx = batch_indices(train_data.n_seq, c.seed, first, c.batch_size)
                batch = _masked_batch(train_data, idx, c, tokenizer, vocab_size,
                                      step_generator(c.seed, 2, step, micro, accelerator.process_index))
                ctx = accelerator.no_sync(model) if micro < c.grad_accum - 1 else contextlib.nullcontext()
                with ctx, accelerator.autocast():
                    loss = model(*[t.to(device) for t in batch[:4]]) / c.grad_accum
                    accelerator.backward(loss)
                step_loss += float(loss.detach())
                tokens_this_run += batch[4] * world
            if c.max_grad_norm > 0:
                accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], c.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(round(step_loss, 6))
            done = step + 1
            elapsed = time.perf_counter() - t0
            if main and progress is not None and (done % c.progress_every == 0 or done == total_steps):
                progress(Event("step", step=done, total=total_steps, loss=step_loss,
                               tokens_per_second=tokens_this_run / max(elapsed, 1e-9)))
            if done == total_steps:
                peak_mb = peak_memory_mb()  # training peak, before the final checkpoint's serialisation
            interrupted = _any_process(accelerator, stop["signal"] is not None)
            if done % c.save_every == 0 or interrupted or done == total_steps:
                run_state["losses"] = losses
                run_state["tokens_trained"] = tokens_before + tokens_this_run
                _save(accelerator, unwrapped, optimizer, out, done, run_state)
            if interrupted:
                raise Interrupted(
                    f"interrupted at step {done} of {total_steps}; checkpoint saved in "
                    f"{ckpt.checkpoint_root(out) / ckpt.step_dir_name(done)}; rerun the same command with --resume"
                )
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    train_seconds = time.perf_counter() - t0
    tokens_trained = tokens_before + tokens_this_run
    if main and progress is not None:
        progress(Event("done", "training finished", step=total_steps, total=total_steps))

    # ---- held-out after ---------------------------------------------------------------------------------------
    say("measuring held-out MLM loss and pseudo-perplexity after adaptation")
    heldout_after = evaluate(unwrapped, held_data, tokenizer, c, device, vocab_size)
    hb = run_state["heldout_before"]
    heldout = {
        "lines": len(heldout_lines),
        "tokens": held_tok.n_tokens,
        "selection": f"every {ordinal(k)} non-blank line of the corpus",
        "masked_tokens": hb["masked_tokens"],
        "pppl_positions": hb["pppl_positions"],
        "mlm_loss_before": hb["mlm_loss"],
        "mlm_loss_after": heldout_after["mlm_loss"],
        "pseudo_perplexity_before": hb["pseudo_perplexity"],
        "pseudo_perplexity_after": heldout_after["pseudo_perplexity"],
    }
    result = AdaptResult(
        output=str(out),
        method=c.method,
        merged=c.merge,
        base_model=str(c.model),
        translit=translit_name,
        head="shipped" if loaded.head_shipped else FRESH_HEAD,
        steps=total_steps,
        resumed_from_step=resume_step,
        tokens_trained=tokens_trained,
        train_seconds=round(train_seconds, 3),
        tokens_per_second=round(tokens_this_run / max(train_seconds, 1e-9), 2) if total_steps > start_step else 0.0,
        peak_memory_mb=round(peak_mb, 1),
        final_train_loss=losses[-1] if losses else None,
        heldout=heldout,
        data=data_info,
        vocab=vocab_info,
        trainable_parameters=n_trainable,
        total_parameters=n_total,
        device=str(device) + (" (bf16 autocast)" if accelerator.mixed_precision == "bf16" else ""),
        n_processes=world,
        config=dict(c.to_dict(), lora_targets=lora_targets[:8] + (["..."] if len(lora_targets) > 8 else [])),
        train_losses=list(losses),
    )
    # ---- write OUT --------------------------------------------------------------------------------------------
    if main:
        say(f"writing {out}")
        _write_output(out, unwrapped, tokenizer, c, result, loaded.head_shipped, translit_name, extension)
    accelerator.wait_for_everyone()
    return result


# ------------------------------------------------------------------------------------------------------------------
def _prepare_output(out: Path, c: AdaptConfig, main: bool, say: Callable[[str], None]) -> int | None:
    """Apply --force / --resume to an existing OUT; return the step to resume from (None: start fresh)."""
    if not out.exists() and not out.is_symlink():
        return None
    if c.resume:
        if not out.is_dir():
            raise OutputExistsError(out, "it is not a directory; pass --force to replace it")
        step = ckpt.latest_step(out)
        if step is not None:
            return step
        if (out / "adaptlang.json").is_file():
            raise OutputExistsError(out, "it holds a finished adapted model, nothing to resume; pass --force to redo")
        if any(p.name != ckpt.CHECKPOINTS for p in out.iterdir()):
            raise OutputExistsError(out, "it holds no checkpoint of an interrupted run; pass --force to overwrite it")
        say(f"{out} has no checkpoint yet; starting from the beginning")
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
    if choice is None:
        return None, None
    try:
        from adaptlang.translit import get_transliterator, pick_scheme
    except ImportError:  # pragma: no cover - the translit package ships with adaptlang
        raise UsageError("--translit: the transliteration library is not available in this installation") from None
    if choice.lower() in ("latin", "latn"):
        if script in (None, "Latn"):
            return None, None
        scheme = pick_scheme(script, lang, "Latn")
        if scheme is None:
            raise UsageError(f"--translit latin: no transliteration from {script} script to Latin is known; "
                             "name a scheme with --translit SCHEME")
        choice = scheme
    t = get_transliterator(choice, lang=lang)
    return t.name, t.transliterate


def _pack(tok: Tokenized, max_seq_len: int, tokenizer: Any) -> Packed:
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else sep_id
    return pack(tok, max_seq_len, cls_id, sep_id, pad_id)


def _masked_batch(data: Packed, idx: list[int], c: AdaptConfig, tokenizer: Any, vocab_size: int,
                  gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    ids = torch.as_tensor(idx)
    input_ids = data.input_ids[ids]  # [B, T]
    attention = data.attention_mask[ids]
    # trim the shared padding tail: shorter tensors, same result
    width = int(attention.sum(dim=1).max())
    input_ids, attention = input_ids[:, :width], attention[:, :width]
    masked, selected, labels = mask_tokens(input_ids, data.special[ids][:, :width], data.word_ids[ids][:, :width],
                                           c.mlm_probability, c.whole_word_mask, tokenizer.mask_token_id,
                                           vocab_size, gen)
    return masked, attention, selected, labels, int(attention.sum())


@torch.no_grad()
def evaluate(objective: MaskedLMObjective, data: Packed, tokenizer: Any, c: AdaptConfig, device: torch.device,
             vocab_size: int) -> dict[str, Any]:
    """Held-out MLM loss (fixed masks, the same before and after) and pseudo-perplexity (Salazar et al. 2020:
    each of the first ``pppl_tokens`` positions masked alone, exp of the mean negative log-likelihood)."""
    was_training = objective.training
    objective.eval()
    total, count = 0.0, 0
    bs = max(1, c.batch_size)
    for b in range(0, data.n_seq, bs):
        idx = list(range(b, min(data.n_seq, b + bs)))
        batch = _masked_batch(data, idx, dataclasses.replace(c, whole_word_mask=False), tokenizer, vocab_size,
                              step_generator(c.seed, 3, b))
        loss = objective(*[t.to(device) for t in batch[:4]], reduction="sum")
        total += float(loss)
        count += int(batch[3].numel())
    # pseudo-perplexity: one masked position per row
    positions = (~data.special).nonzero().tolist()[: c.pppl_tokens]
    nll, n = 0.0, 0
    rows = max(1, bs * 4)
    for b in range(0, len(positions), rows):
        chunk = positions[b : b + rows]
        seq = torch.as_tensor([p[0] for p in chunk])
        pos = torch.as_tensor([p[1] for p in chunk])
        input_ids = data.input_ids[seq].clone()  # [R, T]
        attention = data.attention_mask[seq]
        width = int(attention.sum(dim=1).max())
        input_ids, attention = input_ids[:, :width], attention[:, :width]
        labels = input_ids[torch.arange(len(chunk)), pos].clone()
        input_ids[torch.arange(len(chunk)), pos] = tokenizer.mask_token_id
        selected = torch.zeros_like(input_ids, dtype=torch.bool)
        selected[torch.arange(len(chunk)), pos] = True
        loss = objective(input_ids.to(device), attention.to(device), selected.to(device), labels.to(device),
                         reduction="sum")
        nll += float(loss)
        n += len(chunk)
    objective.train(was_training)
    mlm_loss = total / max(1, count)
    return {
        "mlm_loss": round(mlm_loss, 5),
        "masked_tokens": count,
        "pseudo_perplexity": round(math.exp(min(nll / n, 50)), 4) if n else None,
        "pppl_positions": n,
    }


def reset_peak_memory() -> None:
    """Start measuring peak memory afresh (so loading the model does not count as training memory): CUDA's
    allocator statistics, or Linux's resident-set high-water mark (``/proc/self/clear_refs``)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb() -> float:
    """Peak memory since :func:`reset_peak_memory`: CUDA memory allocated on GPU, else the process's resident-set
    high-water mark (Linux; elsewhere the maximum resident set size of the whole process)."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warmup to 1 over ``warmup`` steps, then linear decay to 0 at ``total`` (step counts from 1)."""
    if warmup and step <= warmup:
        return step / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _seed(*parts: int) -> int:
    return int(step_generator(*parts).initial_seed() % (2**31))


def _any_process(accelerator: Any, flag: bool) -> bool:
    if accelerator.num_processes == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(t, reduction="sum").item() > 0)


def _trainable(objective: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in objective.named_parameters() if p.requires_grad]


def _save(accelerator: Any, unwrapped: MaskedLMObjective, optimizer: Any, out: Path, step: int,
          run_state: dict[str, Any]) -> None:
    if accelerator.is_main_process:
        ckpt.save_checkpoint(out, step, dict(_trainable(unwrapped)), optimizer.state_dict(), run_state)
    accelerator.wait_for_everyone()


def _config_for_compare(c: AdaptConfig) -> dict[str, Any]:
    return {k: v for k, v in c.to_dict().items() if k not in RESUME_FREE_KEYS}


def _check_resume_config(saved: dict[str, Any], c: AdaptConfig, corpus_sha: str) -> None:
    if saved.get("corpus_sha256") != corpus_sha:
        raise UsageError(f"--resume: {c.corpus} changed since the interrupted run; start over with --force")
    old = saved.get("config", {})
    for key, value in _config_for_compare(c).items():
        if key in old and old[key] != value:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"--resume: {flag} is {value!r} but the interrupted run used {old[key]!r}; "
                             "rerun with the same options")


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
                "base_model": str(Path(c.model).resolve()),
                "translit": translit_name,
                "lang": c.lang,
                "vocab_size": len(tokenizer),
                "vocab_extended": bool(extension and extension.new_ids),
                "head": result.head,
                "adaptlang_version": _version(),
            }
            (tmp / "adaptlang.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            (tmp / "adapt.json").write_text(
                json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        import errno

        what = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise ckpt.CheckpointError(
            f"{out}: {what} while writing the adapted model; the checkpoints in {ckpt.checkpoint_root(out)} are "
            "intact; free space and rerun with --resume"
        ) from None


def _version() -> str:
    from adaptlang import __version__

    return __version__
