"""NER on MasakhaNER 2.0 (../shared/data/ner/<lang>/): train on train, select on dev, score test (entity F1, 95%
bootstrap interval over sentences), with a pretrained encoder or the from-scratch BiLSTM-CRF baseline.

Run by hand, one heavy job at a time:
    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_ner.py --lang wol --encoder /work/models/e5-small \
        --max-minutes 22 --out /tmp/ner-wol-e5
    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_ner.py --lang wol --encoder baseline \
        --max-minutes 11 --out /tmp/ner-wol-bilstm
    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_ner.py --lang pcm --encoder baseline \
        --max-minutes 11 --lenient --out /tmp/ner-pcm-bilstm
    .venv/bin/python benchmarks/bench_ner.py --lang bam --encoder baseline --embeddings /work/models/e5-small \
        --corpus ../shared/data/raw/bam/bam.txt --epochs 30 --out /tmp/ner-bam-features      # features mode
(pcm/train.txt has one I-DATE right after B-LOC, line 120015: without --lenient the reader stops there and says
so; with it, that I-DATE starts a DATE entity, as conlleval and seqeval's default mode read it.)
Prints one JSON line (also written to OUT.json): dev and test scores, epochs, CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

NER = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", required=True, choices=["wol", "pcm", "bam"])
    ap.add_argument("--encoder", required=True, help="a model directory / hub id, or 'baseline' (BiLSTM-CRF)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--lenient", action="store_true", help="read invalid IOB2 transitions as conlleval does")
    ap.add_argument("--embeddings", help="with --encoder baseline: also feed the BiLSTM-CRF this model's frozen "
                    "vectors (features mode, as `baseline --embeddings`)")
    ap.add_argument("--corpus", help="with --encoder baseline: word vectors trained on this raw text first")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data", help="a directory with train.txt, dev.txt, test.txt (default: the shared data of --lang)")
    a = ap.parse_args()
    if (a.embeddings or a.corpus) and a.encoder != "baseline":
        ap.error("--embeddings and --corpus go with --encoder baseline")

    import torch

    from adaptlang.engine.runtime import cpu_seconds
    from adaptlang.tasks.ner import (NERConfig, baseline_ner_config, evaluate_ner_model, train_ner,
                                     train_ner_baseline)

    torch.set_num_threads(a.threads)
    data = Path(a.data) if a.data else NER / a.lang
    common = dict(train=str(data / "train.txt"), dev=str(data / "dev.txt"), out=a.out, device=a.device,
                  max_minutes=a.max_minutes, epochs=a.epochs, force=True, seed=a.seed)
    lenient = a.lenient
    b = None
    if a.encoder == "baseline":
        from adaptlang.baseline import BaselineConfig

        extra = {k: v for k, v in (("lr", a.lr), ("embeddings", a.embeddings), ("corpus", a.corpus)) if v}
        b = BaselineConfig(**common, **extra)
        config = baseline_ner_config(b, lenient=lenient)
    else:
        config = NERConfig(**common, encoder={"kind": "transformer", "model": a.encoder}, lenient=lenient,
                           threads=a.threads, **({"encoder_lr": a.lr} if a.lr else {}))
    start, t0 = cpu_seconds(), time.time()
    r = train_ner_baseline(b, config) if b is not None else train_ner(config)  # the baseline's corpus vectors
    ev = evaluate_ner_model(a.out, data / "test.txt", device=a.device, n_bootstrap=1000)
    s = ev.scores
    row = {"lang": a.lang, "encoder": a.encoder, "embeddings": a.embeddings, "corpus": a.corpus, "seed": a.seed,
           "max_minutes": a.max_minutes, "dev": r.dev,
           "best_epoch": r.best_epoch, "epochs_run": r.epochs_run, "stop_reason": r.stop_reason,
           "test_f1": round(s.f1, 2), "test_ci": [round(x, 2) for x in s.ci["f1"]],
           "test_precision": round(s.overall.precision, 2), "test_recall": round(s.overall.recall, 2),
           "per_type_f1": {k: round(v.f1, 2) for k, v in s.per_type.items()},
           "cpu_seconds": round(cpu_seconds() - start, 1), "wall_seconds": round(time.time() - t0, 1),
           "threads": a.threads, "device": a.device, "lenient": lenient, "config": config.to_dict()}
    Path(a.out + ".json").write_text(json.dumps(row, indent=1), encoding="utf-8")
    json.dump(row, sys.stdout)
    print()


if __name__ == "__main__":
    main()
