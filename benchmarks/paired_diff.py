"""Paired bootstrap of two trained parsers on one gold treebank: UPOS, UAS and LAS of B - A with the interval.

    python benchmarks/paired_diff.py GOLD MODEL_A MODEL_B [--device cpu] [--n 2000] [--json OUT]

Both models parse the gold words (gold tokenisation); each bootstrap sample draws test sentences with replacement,
the same for both (``adaptlang.stats.paired_bootstrap_diff``, one seed each), so the sentences' difficulty cancels
out. Used for the donor comparisons in benchmarks/RESULTS.md (a run alone as A, with donors as B).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = {"upos": 1, "uas": 2, "las": 3}  # columns of adaptlang.evaluate.sentence_counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gold")
    ap.add_argument("model_a")
    ap.add_argument("model_b")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=2000, help="bootstrap samples")
    ap.add_argument("--json", default=None, help="also write the differences here")
    args = ap.parse_args()

    from adaptlang.data.conllu import read_conllu
    from adaptlang.stats import paired_bootstrap_diff
    from adaptlang.tasks.parse_model import load_parser, score_loaded

    gold = read_conllu(args.gold, require_tree=True)
    scored = [score_loaded(load_parser(name, device=args.device), gold, gold_name=args.gold)
              for name in (args.model_a, args.model_b)]
    (score_a, a, _, _), (score_b, b, _, _) = scored  # scores, per-sentence counts, predictions, seconds
    out = {"gold": args.gold, "a": args.model_a, "b": args.model_b, "n_bootstrap": args.n, "diff_b_minus_a": {}}
    for metric, col in COLUMNS.items():
        d = paired_bootstrap_diff(b[:, col][None], a[:, col][None], a[:, 0], a="b", b="a", n_bootstrap=args.n,
                                  resample_seeds=False)
        out["diff_b_minus_a"][metric] = {"a": round(getattr(score_a, metric), 2),
                                         "b": round(getattr(score_b, metric), 2),
                                         "diff": d.diff, "ci": [d.ci_low, d.ci_high]}
        row = out["diff_b_minus_a"][metric]
        print(f"{metric.upper():5s} A {row['a']:6.2f}  B {row['b']:6.2f}  B - A {d.diff:+.2f} "
              f"[{d.ci_low:+.2f}, {d.ci_high:+.2f}]")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
