"""Zero-shot cross-lingual transfer: train ``adaptlang train`` on a source treebank, evaluate on target treebanks.

Run by hand (it trains a real model)::

    .venv/bin/python benchmarks/bench_zeroshot.py --model /work/models/e5-small --source UD_Turkish-IMST \\
        --target UD_Uyghur-UDT --target UD_Uyghur-UDT:table:ug-turkish --max-minutes 30

A target ``TB:SCHEME`` is the target's test set transliterated with ``adaptlang transliterate`` (CoNLL-U mode,
FORM and LEMMA) before scoring, e.g. Uyghur in Turkish-orthography Latin next to a Turkish-trained parser. The
source's own test set is scored too. One JSON goes to ``benchmarks/results/zeroshot-<source>-<tag>.json``.
The UD folder is ``../shared/data/ud`` unless ``ADAPTLANG_UD`` names another.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchdata import REPO, split_file


def split(treebank: str, part: str) -> Path:
    return split_file(treebank, part)  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="/work/models/e5-small")
    ap.add_argument("--source", required=True, help="training treebank, e.g. UD_Turkish-IMST")
    ap.add_argument("--target", action="append", required=True, help="TB or TB:SCHEME (repeatable)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--max-minutes", type=float, default=30.0)
    ap.add_argument("--max-train-sentences", type=int, default=None)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--freeze-embeddings", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tag", default="run")
    ap.add_argument("--workdir", default="/tmp/adaptlang-bench-zeroshot")
    args = ap.parse_args()

    import torch

    from adaptlang.data.conllu import read_conllu, write_conllu
    from adaptlang.tasks import TrainConfig, evaluate_model, train_parser
    from adaptlang.translit.corpus import transliterate_file

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    train_path = split(args.source, "train")
    if args.max_train_sentences:
        cut = work / f"{args.source}-train-{args.max_train_sentences}.conllu"
        write_conllu(cut, read_conllu(train_path)[: args.max_train_sentences])
        train_path = cut
    model_out = work / f"{args.source}-{args.tag}"
    cfg = TrainConfig(
        train=str(train_path), dev=str(split(args.source, "dev")), out=str(model_out),
        encoder={"kind": "transformer", "model": args.model, "pooling": "first",
                 "freeze_embeddings": args.freeze_embeddings},
        epochs=args.epochs, batch_size=args.batch_size, encoder_lr=args.lr, seed=args.seed, device=args.device,
        max_minutes=args.max_minutes, force=True, threads=args.threads,
    )
    t0 = time.monotonic()
    result = train_parser(cfg)
    wall = time.monotonic() - t0
    scored = {}
    for target in [args.source, *args.target]:
        tb, _, scheme = target.partition(":")
        test = split(tb, "test")
        if scheme:
            translit = work / f"{tb}-test.{scheme.replace(':', '-')}.conllu"
            transliterate_file(str(test), str(translit), scheme, fmt="conllu", force=True)
            test = translit
        ev = evaluate_model(model_out, test, n_bootstrap=1000, device=args.device)
        scored[target] = ev.scores.to_dict()
        s = ev.scores
        print(f"| {args.source} | {target} | {s.upos:.2f} | {s.uas:.2f} | {s.las:.2f} "
              f"[{s.ci['las'][0]:.2f}-{s.ci['las'][1]:.2f}] |", flush=True)
    record = {
        "source": args.source, "tag": args.tag, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
                   f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only'}",
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "train": result.to_dict(), "train_wall_minutes": round(wall / 60, 2), "test": scored,
    }
    out = REPO / "benchmarks" / "results" / f"zeroshot-{args.source}-{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
