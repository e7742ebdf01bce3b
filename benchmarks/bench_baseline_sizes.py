"""CPU seconds per epoch of the baseline model at several sizes, estimated in-process in about a minute.

    .venv/bin/python benchmarks/bench_baseline_sizes.py [--treebank UD_Wolof-WTB] [--steps 25] [VARIANT ...]

For each variant (``default``, ``L2``, ``H192``, ``H192L2``, ``H128``, ``H128L2``, ``cnn``, ``bs32``, ...: the
BaselineConfig fields it changes are listed in VARIANTS) it builds the model as ``adaptlang baseline`` does, times
``--steps`` training steps (forward, loss, backward, AdamW, clipping) with one torch thread after one warm-up step,
scales them to the epoch's words, and times one dev evaluation (untrained model). Process CPU seconds, so other jobs
on the machine weigh less than on wall time; still, repeat and compare within one run. It measures cost only:
whether a smaller model is as good at equal minutes is ``bench_baseline_size.sh``'s question.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchdata import split_file

VARIANTS: dict[str, dict] = {
    "default": {}, "L2": {"n_layers": 2}, "H192": {"hidden": 192}, "H192L2": {"hidden": 192, "n_layers": 2},
    "H128": {"hidden": 128}, "H128L2": {"hidden": 128, "n_layers": 2}, "cnn": {"char_model": "cnn"},
    "H192L2c64": {"hidden": 192, "n_layers": 2, "char_hidden": 64}, "bs32": {"batch_size": 32},
}


def measure(name: str, train_path: str, dev_path: str, steps: int) -> dict:
    from adaptlang.baseline import BaselineConfig
    from adaptlang.data.conllu import read_conllu
    from adaptlang.data.vocab import LabelVocab
    from adaptlang.models import get_encoder_class
    from adaptlang.models.parser import BiaffineParser, HeadsConfig
    from adaptlang.tasks.parse import Example, ParseTask
    from adaptlang.tasks.parse_model import LoadedParser

    train, dev = read_conllu(train_path), read_conllu(dev_path)
    upos = LabelVocab.build("upos", (u for s in train for u in s.upos))
    deprel = LabelVocab.build("deprel", (d for s in train for d in s.deprels))
    examples = [Example(s.forms, upos.indices(s.upos), [int(h) for h in s.heads], deprel.indices(s.deprels))
                for s in train]
    cfg = BaselineConfig(train=train_path, out="unused", **VARIANTS[name]).train_config()
    torch.manual_seed(0)
    encoder = get_encoder_class("bilstm").build(cfg.encoder.to_dict(), [s.forms for s in train])
    model = BiaffineParser(encoder, HeadsConfig(len(upos), len(deprel), cfg.arc_dim, cfg.rel_dim, cfg.dropout))
    cpu = torch.device("cpu")
    task = ParseTask(model, examples, dev, LoadedParser(model, upos, deprel, {}, cpu), cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.head_lr)
    batches = task.batches(1)
    model.train()

    def step(batch: list) -> None:
        loss, _ = task.train_step(model, batch, cpu)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad()

    step(batches[0])
    timed = batches[1: steps + 1]
    start = time.process_time()
    for b in timed:
        step(b)
    seconds = time.process_time() - start
    words = sum(len(e.words) for b in timed for e in b)
    start = time.process_time()
    task.evaluate(model, cpu)
    return {"variant": name, "train_s_per_epoch": seconds / words * sum(task.lengths),
            "dev_eval_s": time.process_time() - start, "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", choices=[[], *sorted(VARIANTS)], metavar="VARIANT",
                    help="default: default L2 H192 H192L2 H128 H128L2")
    ap.add_argument("--treebank", default="UD_Wolof-WTB")
    ap.add_argument("--steps", type=int, default=25)
    args = ap.parse_args()
    args.variants = args.variants or ["default", "L2", "H192", "H192L2", "H128", "H128L2"]
    torch.set_num_threads(1)
    train, dev = str(split_file(args.treebank, "train")), str(split_file(args.treebank, "dev"))
    print("| variant | options | training CPU s per epoch (est.) | dev evaluation CPU s | epoch | ratio to default "
          "| parameters |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    reference = None
    for name in args.variants:
        r = measure(name, train, dev, args.steps)
        epoch = r["train_s_per_epoch"] + r["dev_eval_s"]
        reference = reference or (epoch if name == "default" else None)
        ratio = f"{reference / epoch:.2f}x" if reference else "-"
        options = " ".join(f"{k}={v}" for k, v in VARIANTS[name].items()) or "defaults"
        print(f"| {name} | {options} | {r['train_s_per_epoch']:.2f} | {r['dev_eval_s']:.2f} | {epoch:.2f} | {ratio} "
              f"| {r['parameters'] / 1e6:.2f} M |", flush=True)


if __name__ == "__main__":
    main()
