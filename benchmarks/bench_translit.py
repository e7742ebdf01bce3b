"""Transliteration speed, file to file, wall clock: table backend (parallel and one process) against a plain
``str.translate`` pass, and uroman with the per-word cache against uroman called on each line, in one run.

    flock /tmp/adaptlang-heavy.lock .venv/bin/python benchmarks/bench_translit.py --size-mb 50

The corpus is the ``# text`` lines of UD_Uyghur-UDT repeated to ``--size-mb``. uroman called on each line runs
at a few tens of KB/s, so it is measured on one pass over the distinct treebank text (the first
``--baseline-lines`` lines of the corpus), and the cached backend is measured both on that same text (a fresh
cache: the speed-up that comes from repeated words within one treebank) and on the whole corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from adaptlang.translit import get_transliterator  # noqa: E402
from adaptlang.translit.corpus import transliterate_file  # noqa: E402
from adaptlang.translit.table import load_tables  # noqa: E402
from adaptlang.translit.uroman_backend import UromanTransliterator  # noqa: E402

UDT = REPO.parent / "shared" / "data" / "ud" / "UD_Uyghur-UDT"


def build_corpus(path: Path, size_mb: float) -> tuple[int, int]:
    lines: list[str] = []
    for f in sorted(UDT.glob("*.conllu")):
        lines += [x[len("# text = "):] for x in f.read_text(encoding="utf-8").splitlines() if x.startswith("# text = ")]
    block = ("\n".join(lines) + "\n").encode("utf-8")
    target = int(size_mb * 1e6)
    with open(path, "wb") as f:
        written = 0
        while written < target:
            f.write(block)
            written += len(block)
    return written, len(lines)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=50.0)
    ap.add_argument("--baseline-lines", type=int, default=3456, help="lines for uroman called per line")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_translit_"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "ug.txt"
    n_bytes, n_distinct_lines = build_corpus(corpus, args.size_mb)
    mb = n_bytes / 1e6
    results: dict[str, dict[str, float | str]] = {}

    def record(name: str, seconds: float, megabytes: float, out: Path | None = None, **extra: object) -> None:
        results[name] = {"seconds": round(seconds, 2), "mb": round(megabytes, 3),
                         "mb_per_s": round(megabytes / seconds, 3), **extra}
        if out is not None:
            results[name]["sha256_16"] = sha(out)
        print(f"{name:45s} {megabytes:8.2f} MB {seconds:8.2f} s {megabytes / seconds:9.3f} MB/s", flush=True)

    # Reference: one str.translate pass with the single-character, context-free rules of the ULY table.
    uly = load_tables()["ug-uly"]
    table = {ord(r.source): r.target for r in uly.rules if len(r.source) == 1 and not r.conditions}
    out = work / "translate.txt"

    def plain_translate() -> None:
        with open(corpus, encoding="utf-8") as fin, open(out, "w", encoding="utf-8") as fout:
            while True:
                chunk = fin.read(1 << 22)
                if not chunk:
                    break
                fout.write(chunk.translate(table))

    record("str.translate, 1 process (reference)", timed(plain_translate), mb, out)

    for label, workers in (("table:ug-uly, parallel", None), ("table:ug-uly, 1 process", 1)):
        out = work / f"uly-{workers}.txt"
        rep = {}
        secs = timed(lambda: rep.update(r=transliterate_file(str(corpus), str(out), "table:ug-uly",
                                                             workers=workers, force=True)))
        record(f"{label} ({rep['r'].workers} proc.)", secs, mb, out)

    # uroman: per line (the reference), per word cached on the same distinct text, cached on the whole corpus.
    head = work / "head.txt"
    with open(corpus, encoding="utf-8") as f:
        head_lines = [next(f) for _ in range(args.baseline_lines)]
    head.write_text("".join(head_lines), encoding="utf-8")
    head_mb = head.stat().st_size / 1e6
    get_transliterator("uroman:uig")  # load uroman's rules once, outside the timings
    ref = UromanTransliterator("uig")
    out = work / "uroman-per-line.txt"

    def per_line() -> None:
        with open(head, encoding="utf-8") as fin, open(out, "w", encoding="utf-8") as fout:
            for line in fin:
                fout.write(ref.romanize_uncached(line.rstrip("\n")) + "\n")

    record("uroman per line (reference)", timed(per_line), head_mb, out)
    fresh = UromanTransliterator("uig")
    out = work / "uroman-cached-head.txt"

    def cached_head() -> None:
        with open(head, encoding="utf-8") as fin, open(out, "w", encoding="utf-8") as fout:
            for line in fin:
                fout.write(fresh.transliterate(line.rstrip("\n")) + "\n")

    record("uroman cached, same distinct text", timed(cached_head), head_mb, out)
    out = work / "uroman-cached.txt"
    rep = {}
    secs = timed(lambda: rep.update(r=transliterate_file(str(corpus), str(out), "uroman:uig", force=True)))
    record(f"uroman cached, whole corpus ({rep['r'].workers} proc.)", secs, mb, out)

    same = results["table:ug-uly, parallel (%d proc.)" % transliterate_workers(results)]["sha256_16"] == \
        results["table:ug-uly, 1 process (1 proc.)"]["sha256_16"]
    per_line_speed = results["uroman per line (reference)"]["mb_per_s"]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "corpus_mb": round(mb, 2), "distinct_lines": n_distinct_lines,
        "parallel_output_identical": same,
        "table_vs_translate": round(results[f"table:ug-uly, parallel ({transliterate_workers(results)} proc.)"]
                                    ["mb_per_s"] / results["str.translate, 1 process (reference)"]["mb_per_s"], 2),
        "uroman_cached_vs_per_line_same_text": round(
            results["uroman cached, same distinct text"]["mb_per_s"] / per_line_speed, 1),
        "uroman_cached_corpus_vs_per_line": round(
            next(v for k, v in results.items() if k.startswith("uroman cached, whole"))["mb_per_s"]
            / per_line_speed, 1),
        "results": results,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def transliterate_workers(results: dict) -> int:
    for k in results:
        if k.startswith("table:ug-uly, parallel ("):
            return int(k.split("(")[1].split()[0])
    return 1


if __name__ == "__main__":
    main()
