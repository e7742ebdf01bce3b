"""What the donor and noise options do to the data, measured in seconds (no training): the Uyghur-UDT target plus
Turkish-IMST transliterated to Arabic script (`--donor-translit target`), the sampling shares, and on e5-small's
XLM-R vocabulary the pieces per word under `--subword-dropout P` and the words changed by `--char-noise P`.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_noise.py [UD_DIR] [MODEL]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from types import SimpleNamespace

from adaptlang.data.donors import epoch_counts, proportions, read_training_data
from adaptlang.data.noise import PieceSplitter, alphabet, noise_words
from adaptlang.tasks.parse import read_treebanks


def main(ud: str = "../shared/data/ud", model: str = "/work/models/e5-small") -> None:
    from transformers import AutoTokenizer

    target = f"{ud}/UD_Uyghur-UDT/ug_udt-ud"
    cfg = SimpleNamespace(train=f"{target}-train.conllu", dev=f"{target}-dev.conllu",
                          donors=(f"{ud}/UD_Turkish-IMST/tr_imst-ud-train.conllu",), donor_translit="target",
                          target_sentences=None, donor_schedule="mixed")
    t = time.process_time()
    data = read_training_data(cfg, read_treebanks)
    print(f"read target + donor, donor transliterated: {time.process_time() - t:.2f} s CPU; {data.notes}")
    for temp in (1.0, 2.0, 5.0):
        print(f"T={temp}: shares {[round(p, 3) for p in proportions(data.sizes, temp)]}, one epoch "
              f"{epoch_counts(data.sizes, temp, sum(data.sizes))} sentences of {data.sizes}")
    tok = AutoTokenizer.from_pretrained(model)
    splitter = PieceSplitter.from_tokenizer(tok)
    for name, tb in (("target", data.treebanks[0]), ("donor", data.treebanks[1])):
        words = [w for s in tb.sentences for w in s.forms][:20000]
        ids = [tok(w, add_special_tokens=False)["input_ids"] for w in words]
        base = statistics.mean(len(i) for i in ids)
        for p in (0.1, 0.3):
            rng = random.Random(0)
            t = time.process_time()
            out = [splitter.split(i, p, rng) for i in ids]
            dt = time.process_time() - t
            changed = sum(o != i for o, i in zip(out, ids)) / len(ids)
            after = statistics.mean(len(o) for o in out)
            print(f"{name} --subword-dropout {p}: pieces/word {base:.2f} -> {after:.2f}, words changed {changed:.1%}, "
                  f"{len(ids) / dt:,.0f} words/s CPU")
        rng = random.Random(0)
        t = time.process_time()
        noised = noise_words(words, 0.1, rng, alphabet(words))
        print(f"{name} --char-noise 0.1: words changed {sum(a != b for a, b in zip(noised, words)) / len(words):.1%}, "
              f"{len(words) / (time.process_time() - t):,.0f} words/s CPU")


if __name__ == "__main__":
    main(*sys.argv[1:])
