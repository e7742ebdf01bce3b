"""Benchmark ``adaptlang adapt`` against the reference Hugging Face MLM recipe, on the same data and budget.

Reference = what the transformers ``run_mlm`` example does: tokenize each line with special tokens, concatenate,
cut into ``max_seq_len`` blocks (dropping the remainder), ``DataCollatorForLanguageModeling`` (15% masking), and the
``Trainer`` (AdamW, linear warmup/decay). It computes output logits at every position. adaptlang gathers hidden
states at the masked positions before the output projection. Both train on the same lines (the corpus minus
adaptlang's held-out slice, every 20th line) for the same steps, batch size and sequence length; both trained
models are scored by the same function on the same held-out sequences with the same fixed masks.

Each variant runs in its own process; peak memory is measured over training only (the resident-set high-water
mark, reset after the model is loaded, or CUDA max allocated). Run by hand:

    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_adapt.py --model /work/models/e5-small \
        --steps 10 --batch-size 8 --max-seq-len 128 --json /tmp/bench-adapt.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdata import UD
UD_UYGHUR = UD / "UD_Uyghur-UDT"
VARIANTS = ("reference", "adaptlang-full", "adaptlang-lora")


def uyghur_text(dest: Path) -> Path:
    """The ``# text`` lines of the Uyghur UDT treebank (train, dev, test) as a raw corpus."""
    lines = []
    for split in ("train", "dev", "test"):
        for line in (UD_UYGHUR / f"ug_udt-ud-{split}.conllu").read_text(encoding="utf-8").splitlines():
            if line.startswith("# text = "):
                lines.append(line[len("# text = "):].strip())
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def run_adaptlang(args: argparse.Namespace, method: str) -> dict:
    from adaptlang.adapt import AdaptConfig, adapt_model

    out = Path(args.workdir) / f"out-{method}"
    import torch

    torch.set_num_threads(args.threads)
    r = adapt_model(AdaptConfig(
        corpus=args.corpus, model=args.model, output=str(out), method=method, steps=args.steps,
        batch_size=args.batch_size, max_seq_len=args.max_seq_len, lr=args.lr, pppl_tokens=args.pppl_tokens,
        save_every=10**9, force=True, seed=args.seed, translit=args.translit, lang="ug",
    ))
    return {
        "tokens_per_second": r.tokens_per_second, "train_seconds": r.train_seconds,
        "tokens_trained": r.tokens_trained, "peak_memory_mb": r.peak_memory_mb,
        "heldout_loss_before": r.heldout["mlm_loss_before"], "heldout_loss_after": r.heldout["mlm_loss_after"],
        "pppl_before": r.heldout["pseudo_perplexity_before"], "pppl_after": r.heldout["pseudo_perplexity_after"],
        "trainable_parameters": r.trainable_parameters, "device": r.device,
    }


def run_reference(args: argparse.Namespace) -> dict:
    import torch
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)
    from transformers.utils import logging as hf_logging

    from adaptlang.adapt.corpus import read_corpus, split_heldout, tokenize_lines
    from adaptlang.adapt.model import LoadedModel, MaskedLMObjective
    from adaptlang.engine.runtime import peak_memory_mb, reset_peak_memory
    from adaptlang.tasks.mlm import MaskingConfig, heldout_scores, pack_for

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    lines, _ = read_corpus(args.corpus)
    train, held = split_heldout(lines, 0.05, args.corpus)
    tok = AutoTokenizer.from_pretrained(args.model)
    # run_mlm's group_texts: per-line special tokens, concatenate, drop the remainder
    enc = tok(train, return_special_tokens_mask=True)
    ids = [i for row in enc["input_ids"] for i in row]
    special = [s for row in enc["special_tokens_mask"] for s in row]
    L = args.max_seq_len
    n = (len(ids) // L) * L
    blocks = [{"input_ids": ids[i:i + L], "special_tokens_mask": special[i:i + L]} for i in range(0, n, L)]
    torch.manual_seed(args.seed)
    model = AutoModelForMaskedLM.from_pretrained(args.model)
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    targs = TrainingArguments(
        output_dir=str(Path(args.workdir) / "ref-trainer"), per_device_train_batch_size=args.batch_size,
        max_steps=args.steps, learning_rate=args.lr, warmup_steps=0.06, weight_decay=0.01,
        lr_scheduler_type="linear", seed=args.seed, report_to=[], save_strategy="no", logging_steps=args.steps,
        disable_tqdm=True, dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
    )
    trainer = Trainer(model=model, args=targs, train_dataset=blocks, data_collator=collator)
    held_tok = tokenize_lines(held, tok)
    held_data = pack_for(held_tok, L, tok)
    device = next(model.parameters()).device

    def score() -> dict:
        obj = MaskedLMObjective(LoadedModel(model, tok, "cls" if hasattr(model, "cls") else "lm_head", True,
                                            model.base_model_prefix))
        return heldout_scores(obj, held_data, batch_size=args.batch_size, masking=MaskingConfig(),
                              mask_token_id=tok.mask_token_id, vocab_size=model.get_input_embeddings().weight.shape[0],
                              seed=args.seed, pppl_tokens=args.pppl_tokens, device=device)

    before = score()
    reset_peak_memory()  # as adaptlang does: the memory of training, not of loading
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    peak = peak_memory_mb(device)  # training peak, as adaptlang reports it
    after = score()
    tokens = args.steps * args.batch_size * L
    return {
        "tokens_per_second": round(tokens / seconds, 2), "train_seconds": round(seconds, 3), "tokens_trained": tokens,
        "peak_memory_mb": peak, "heldout_loss_before": before["mlm_loss"],
        "heldout_loss_after": after["mlm_loss"], "pppl_before": before["pseudo_perplexity"],
        "pppl_after": after["pseudo_perplexity"],
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "device": str(device),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="/work/models/e5-small")
    ap.add_argument("--corpus", default=None, help="default: the Uyghur UDT # text lines")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--pppl-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every variant (CPU)")
    ap.add_argument("--translit", default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", choices=VARIANTS, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        result = run_reference(args) if args.worker == "reference" else run_adaptlang(args, args.worker.split("-")[1])
        print("RESULT " + json.dumps(result))
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-adapt-"))
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or str(uyghur_text(workdir / "uyghur-udt-text.txt"))
    results = {}
    for variant in args.variants.split(","):
        cmd = [sys.executable, __file__, "--worker", variant, "--model", args.model, "--corpus", corpus,
               "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--max-seq-len",
               str(args.max_seq_len), "--lr", str(args.lr), "--pppl-tokens", str(args.pppl_tokens), "--seed",
               str(args.seed), "--threads", str(args.threads), "--workdir", str(workdir)] + (["--translit", args.translit] if args.translit else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{variant} failed:\n{proc.stderr[-3000:]}")
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
        results[variant] = dict(json.loads(line[len("RESULT "):]), wall_seconds=round(time.perf_counter() - t0, 1))
        print(f"{variant}: {results[variant]}", file=sys.stderr)
    print("| variant | tokens/s | peak memory (MB) | held-out MLM loss before -> after | pseudo-ppl before -> after |"
          " trainable params |")
    print("| --- | --- | --- | --- | --- | --- |")
    for v, r in results.items():
        print(f"| {v} | {r['tokens_per_second']:,.0f} | {r['peak_memory_mb']:,.0f} | {r['heldout_loss_before']:.3f} -> "
              f"{r['heldout_loss_after']:.3f} | {r['pppl_before']:,.1f} -> {r['pppl_after']:,.1f} | "
              f"{r['trainable_parameters']:,} |")
    if "reference" in results and "adaptlang-full" in results:
        ratio = results["adaptlang-full"]["tokens_per_second"] / results["reference"]["tokens_per_second"]
        print(f"\nadaptlang full / reference throughput: {ratio:.2f}x")
    if "adaptlang-lora" in results and "adaptlang-full" in results:
        ratio = results["adaptlang-lora"]["peak_memory_mb"] / results["adaptlang-full"]["peak_memory_mb"]
        print(f"LoRA / full peak memory: {ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
