"""Benchmarks and checks for ``adaptlang assess`` (run by hand; results go to benchmarks/RESULTS.md and README.md).

    python benchmarks/bench_assess.py speed [--mb 100] [--source FILE]   # 100 MB corpus: wall time and peak RSS
    python benchmarks/bench_assess.py ud-table [--ud DIR]                 # predicted category per shared UD text

``speed`` builds the corpus by repeating the ``# text`` lines of a shared UD treebank, then times, in one run and as
separate processes (peak RSS measured by the kernel for each child):
  * ``adaptlang assess CORPUS --json ...`` with the default (embedded mBERT) tokenizer;
  * the reference: reading the same file line by line in Python and counting characters with collections.Counter
    (the least any full-corpus script profile must do);
  * ``adaptlang --help`` (CLI start-up).
``ud-table`` runs ``assess_corpus`` on the largest CoNLL-U file of each shared UD treebank with the embedded mBERT
vocabulary and the shared XLM-R tokenizer, and prints the Markdown table of the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PY = sys.executable
ADAPTLANG = [PY, "-c", "from adaptlang.cli.main import main; main()"]

REFERENCE = r"""
import sys, collections
c = collections.Counter()
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        c.update(line)
print(len(c))
"""


def _texts(conllu: Path) -> list[str]:
    out = []
    with open(conllu, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# text ="):
                out.append(line.split("=", 1)[1].strip())
    return out


def build_corpus(source: Path, mb: float, dest: Path) -> int:
    lines = _texts(source)
    block = ("\n".join(lines) + "\n").encode("utf-8")
    target = int(mb * 1_000_000)
    with open(dest, "wb") as f:
        written = 0
        while written < target:
            f.write(block)
            written += len(block)
    return dest.stat().st_size


def speed(args: argparse.Namespace) -> None:
    source = Path(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        size = build_corpus(source, args.mb, corpus)
        print(f"corpus: {size / 1e6:.1f} MB from {source.name} repeated", flush=True)
        results = {}
        # each measurement in its own process tree so that the children's peak RSS is its own
        for name, cmd in [
            ("help", ADAPTLANG + ["--help"]),
            ("reference", [PY, "-c", REFERENCE, str(corpus)]),
            ("assess", ADAPTLANG + ["assess", str(corpus), "--lang", args.lang, "--json", str(Path(tmp) / "r.json")]),
        ]:
            probe = [PY, "-c", (
                "import resource,subprocess,sys,time,json;t=time.perf_counter();"
                "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,text=True);"
                "w=time.perf_counter()-t;"
                "print(json.dumps({'wall':w,'rss_mib':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,"
                "'rc':p.returncode,'err':p.stderr[-300:]}))"
            )] + cmd
            out = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
            results[name] = json.loads(out)
            print(name, results[name], flush=True)
        report = json.loads((Path(tmp) / "r.json").read_text())
        print(json.dumps({
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "corpus_mb": size / 1e6,
            "corpus_in_report": {k: report["corpus"][k] for k in ("n_bytes", "n_lines", "n_sentences")},
            "words_in_script_profile": report["scripts"]["n_words"],
            "sample": report["sample"],
            "seconds_in_report": report["seconds"],
            "category": report["prediction"]["category"],
            "ratio_assess_to_reference": results["assess"]["wall"] / results["reference"]["wall"],
        }, indent=1))


UD_FILES_LANG = {"UD_Maghrebi_Arabic_French-Arabizi": "qaf"}


def ud_table(args: argparse.Namespace) -> None:
    from adaptlang.assess import assess_corpus

    ud = Path(args.ud)
    models = [("mBERT", None), ("XLM-R", str(SHARED / "vocab" / "xlm-roberta"))]
    rows = []
    for folder in sorted(p for p in ud.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.conllu"), key=lambda p: -p.stat().st_size)
        if not files:
            continue
        f = files[0]
        lang = f.name.split("_", 1)[0]
        cells = []
        for label, model in models:
            t0 = time.perf_counter()
            r = assess_corpus(f, model=model, lang=lang)
            sec = time.perf_counter() - t0
            cov = r.vocabulary.coverage_of(r.scripts.dominant_script)
            after = r.translit.after
            cells.append(
                f"{r.tokenizer.fertility:.2f} | {r.tokenizer.unk_word_rate:.1%} | "
                f"{cov.letter_coverage if cov else 0:.1%} | **{r.prediction.category}** ({r.prediction.rule})"
                + (f" | {r.translit.scheme}: {after.fertility:.2f} / {after.unk_word_rate:.1%}" if after else " | -")
            )
            print(f"{folder.name} {label}: {r.prediction.category} {r.prediction.rule} {sec:.1f}s "
                  f"| {' ; '.join(r.prediction.reasons)}", file=sys.stderr, flush=True)
        rows.append(f"| {folder.name.removeprefix('UD_')} ({f.name}) | {lang} | {r.scripts.dominant_script} | "
                    + " | ".join(cells) + " |")
    head = ("| treebank (file) | lang | script | mBERT fertility | mBERT UNK words | mBERT letters known | "
            "mBERT predicted | mBERT what-if (fertility / UNK words) | XLM-R fertility | XLM-R UNK words | "
            "XLM-R letters known | XLM-R predicted | XLM-R what-if (fertility / UNK words) |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    print("\n".join(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--mb", type=float, default=100)
    sp.add_argument("--source", default=str(SHARED / "ud" / "UD_Uyghur-UDT" / "ug_udt-ud-train.conllu"))
    sp.add_argument("--lang", default="ug")
    tp = sub.add_parser("ud-table")
    tp.add_argument("--ud", default=str(SHARED / "ud"))
    args = ap.parse_args()
    {"speed": speed, "ud-table": ud_table}[args.cmd](args)


if __name__ == "__main__":
    main()
