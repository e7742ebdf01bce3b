"""Helpers of ``benchmarks/gpu_throughput.sh`` (one subcommand per step; the script runs each in its own process).

    build    an mBERT-sized BertForMaskedLM with random weights (from a BertConfig) and the embedded mBERT vocabulary
             (src/adaptlang/resources/mbert-cased), saved as a model directory: nothing is downloaded
             (``--small``: 2 layers, 128 wide, for a CPU check of the script)
    data     the corpus (every ``# text`` line of the shared UD treebanks) and the Wolof treebank, cut to N sentences
    plain    the ceiling: a plain PyTorch MLM loop on the same model, data, batch and steps as ``adapt`` (SDPA attention,
             bf16 autocast on CUDA, fused AdamW, logits only at masked positions)
    row      one JSON line of the table from an adaptlang ``--json`` result (or the plain loop's)
    table    the table of every row

Throughput does not depend on the weights, so random weights measure what a real mBERT would.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOCAB = REPO / "src" / "adaptlang" / "resources" / "mbert-cased"
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}  # dense bf16 FLOP/s


def model_config(small: bool) -> "object":
    from transformers import BertConfig

    vocab_size = sum(1 for _ in (VOCAB / "vocab.txt").open(encoding="utf-8"))
    if small:
        return BertConfig(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=512, max_position_embeddings=512)
    return BertConfig(vocab_size=vocab_size, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512)  # bert-base-multilingual-cased


def build(args: argparse.Namespace) -> None:
    import torch
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(model_config(args.small))
    out = Path(args.out)
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(VOCAB / name, out / name)
    n_all = sum(p.numel() for p in model.parameters())
    n_emb = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    print(f"model: {n_all / 1e6:.1f}M parameters, {(n_all - n_emb) / 1e6:.1f}M outside the embeddings -> {out}")


def data(args: argparse.Namespace) -> None:
    ud = Path(args.ud)
    lines = [line[len("# text = "):].strip() for f in sorted(ud.glob("*/*.conllu"))
             for line in f.read_text(encoding="utf-8").splitlines() if line.startswith("# text = ")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("\n".join(x for x in lines if x) + "\n", encoding="utf-8")
    for split in ("train", "dev", "test"):
        [src] = (ud / "UD_Wolof-WTB").glob(f"*-ud-{split}.conllu")
        blocks = [b for b in src.read_text(encoding="utf-8").split("\n\n") if b.strip()]
        if args.max_sentences:
            blocks = blocks[:args.max_sentences]
        (out / f"{split}.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    print(f"corpus: {len(lines)} lines, {(out / 'corpus.txt').stat().st_size / 1e6:.1f} MB; Wolof treebank -> {out}")


def mlm_blocks(corpus: str, tokenizer: "object", length: int, n_blocks: int) -> "object":
    """The corpus tokenised line by line with special tokens, concatenated and cut into blocks of ``length`` (as
    the transformers run_mlm example does), cycled to ``n_blocks``."""
    import torch

    ids: list[int] = []
    for line in Path(corpus).read_text(encoding="utf-8").splitlines():
        ids.extend(tokenizer(line)["input_ids"])  # type: ignore[operator]
        if len(ids) >= length * n_blocks:
            break
    n = max(1, len(ids) // length)
    blocks = torch.tensor(ids[:n * length]).view(n, length)
    return blocks.repeat((n_blocks + n - 1) // n, 1)[:n_blocks]


def plain(args: argparse.Namespace) -> None:
    """The plain MLM loop: the ceiling that ``adapt`` is compared with at the same batch and steps."""
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    cuda = torch.cuda.is_available() and args.device != "cpu"
    device = torch.device("cuda" if cuda else "cpu")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BertForMaskedLM.from_pretrained(args.model, attn_implementation="sdpa").to(device).train()
    tok = AutoTokenizer.from_pretrained(args.model)
    n_steps = args.warmup + args.steps
    data = mlm_blocks(args.corpus, tok, args.seq_len, n_steps * args.batch_size).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
    special = torch.tensor(sorted(tok.all_special_ids), device=device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for step in range(n_steps):
        if step == args.warmup:  # the first steps (allocator, kernels' autotuning) are not timed
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        ids = data[step * args.batch_size:(step + 1) * args.batch_size]  # [batch, seq]
        masked = (torch.rand(ids.shape, device=device) < 0.15) & ~torch.isin(ids, special)  # [batch, seq]
        inputs = ids.masked_fill(masked, tok.mask_token_id)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            hidden = model.bert(input_ids=inputs).last_hidden_state  # [batch, seq, hidden]
            logits = model.cls(hidden[masked])  # [n_masked, vocab]: only where there is a loss
            loss = torch.nn.functional.cross_entropy(logits.float(), ids[masked])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = args.steps * args.batch_size * args.seq_len
    memory = torch.cuda.max_memory_allocated() / 2**20 if cuda else _rss_peak_mb()
    result = {"tokens_per_second": tokens / seconds, "train_seconds": seconds, "peak_memory_mb": memory,
              "device": str(device), "final_train_loss": float(loss.detach()), "steps": args.steps}
    Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")


def _rss_peak_mb() -> float:
    try:
        return int(Path("/proc/self/status").read_text().split("VmHWM:", 1)[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return float("nan")


def train_flops_per_token(small: bool, seq_len: int, mask_fraction: float = 0.15) -> float:
    """Training FLOPs per input token of the MLM step: 6 x the encoder's matrix parameters, the attention scores
    and weighted sums (12 x layers x seq x hidden), and the output projection at the masked positions only."""
    c = model_config(small)
    h, n_layers, ff, vocab = c.hidden_size, c.num_hidden_layers, c.intermediate_size, c.vocab_size  # type: ignore
    per_layer = 4 * h * h + 2 * h * ff
    return 6 * n_layers * per_layer + 12 * n_layers * seq_len * h + mask_fraction * 6 * (h * h + h * vocab)


def gpu_peak() -> tuple[str, float | None]:
    if os.environ.get("PEAK_TFLOPS"):
        return "given", float(os.environ["PEAK_TFLOPS"]) * 1e12
    try:
        import torch

        if not torch.cuda.is_available():
            return "cpu", None
        name = torch.cuda.get_device_name()
    except Exception:  # noqa: BLE001 - no GPU, no MFU
        return "cpu", None
    return name, next((v for k, v in PEAK_BF16.items() if k in name), None)


def row(args: argparse.Namespace) -> None:
    """Append one table row (a JSON line) for job ``args.job`` from its result file."""
    r = json.loads(Path(args.json).read_text(encoding="utf-8")) if Path(args.json).is_file() else {}
    entry: dict = {"job": args.job, "what": args.what, "status": args.status, "wall_s": args.wall}
    # "steps": the training steps alone (what the plain loop times); "run": the whole run's wall time (adaptlang's
    # held-out or dev evaluations and checkpoints included)
    if "tokens_per_second" in r:
        entry["tokens_per_s"] = r.get("step_tokens_per_second") or r["tokens_per_second"]
        entry["run_tokens_per_s"] = r["tokens_per_second"]
        if args.seq_len:
            name, peak = gpu_peak()
            if peak:
                entry["mfu"] = entry["tokens_per_s"] * train_flops_per_token(args.small, args.seq_len) / peak
    if "sentences_per_s" in r:
        entry["sentences_per_s"] = (r.get("fit") or {}).get("units_per_step_second", {}).get("sentences") \
            or r["sentences_per_s"]
        entry["run_sentences_per_s"] = r["sentences_per_s"]
    if "n_sentences" in r and "seconds" in r:  # predict: its own prediction time (the wall time adds start-up)
        entry["sentences_per_s"] = r["n_sentences"] / max(r["seconds"], 1e-9)
        entry["predict_s"] = r["seconds"]
    for key in ("peak_memory_mb", "train_seconds"):
        if key in r:
            entry[key] = r[key]
    if isinstance(r.get("dev"), dict) and "las" in r["dev"]:
        entry["dev_las"] = r["dev"]["las"]
    with open(args.table, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def table(args: argparse.Namespace) -> None:
    rows = [json.loads(x) for x in Path(args.table).read_text(encoding="utf-8").splitlines() if x.strip()]
    name, peak = gpu_peak()
    print(f"\ndevice: {name}" + (f" (bf16 peak {peak / 1e12:.0f} TFLOP/s)" if peak else "") + "\n")
    cols = [("job", "{}"), ("what", "{}"), ("status", "{}"), ("tokens/s steps", "{:,.0f}"),
            ("tokens/s run", "{:,.0f}"), ("sent/s steps", "{:,.1f}"), ("sent/s run", "{:,.1f}"), ("MFU", "{:.1%}"),
            ("peak MB", "{:,.0f}"), ("train s", "{:.1f}"), ("wall s", "{:.1f}"), ("dev LAS", "{:.2f}")]
    keys = ["job", "what", "status", "tokens_per_s", "run_tokens_per_s", "sentences_per_s", "run_sentences_per_s",
            "mfu", "peak_memory_mb", "train_seconds", "wall_s", "dev_las"]
    cells = [[fmt.format(r[k]) if r.get(k) is not None else "-" for k, (_, fmt) in zip(keys, cols)] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (h, _) in enumerate(cols)]
    print("| " + " | ".join(h.ljust(w) for (h, _), w in zip(cols, widths)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for c in cells:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(c, widths)) + " |")
    ratios = {r["job"]: r.get("tokens_per_s") for r in rows}
    for a, b in (("adapt", "plain"), ("adapt-large", "plain-large")):
        if ratios.get(a) and ratios.get(b):
            print(f"{a} / {b}: {ratios[a] / ratios[b]:.2f} of the plain loop at the same batch and steps (steps timed)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--small", action="store_true")
    d = sub.add_parser("data")
    d.add_argument("--ud", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--max-sentences", type=int, default=0)
    p = sub.add_parser("plain")
    for flag in ("--model", "--corpus", "--json"):
        p.add_argument(flag, required=True)
    for flag, default in (("--batch-size", 64), ("--seq-len", 128), ("--steps", 100), ("--warmup", 5),
                          ("--threads", 1)):
        p.add_argument(flag, type=int, default=default)
    p.add_argument("--device", default="auto")
    r = sub.add_parser("row")
    for flag in ("--job", "--what", "--json", "--table"):
        r.add_argument(flag, required=True)
    r.add_argument("--status", default="ok")
    r.add_argument("--wall", type=float, default=None)
    r.add_argument("--seq-len", type=int, default=0)
    r.add_argument("--small", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("--table", required=True)
    args = ap.parse_args()
    {"build": build, "data": data, "plain": plain, "row": row, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
