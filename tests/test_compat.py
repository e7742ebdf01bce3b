"""Model directories written by earlier releases still load, predict and evaluate.

``tests/data/release-0.1.0-baseline`` was written by adaptlang 0.1.0 (commit 2a595d4, before the training core):
``adaptlang baseline --train tests/data/tiny.conllu --dev tests/data/tiny.conllu --epochs 2 --hidden 8 --layers 1``.
"""

from __future__ import annotations

import json
from pathlib import Path

from adaptlang.data.conllu import read_conllu
from adaptlang.tasks import evaluate_model, load_parser, predict

DATA = Path(__file__).parent / "data"
OLD_BASELINE = DATA / "release-0.1.0-baseline"
TINY = DATA / "tiny.conllu"


def test_old_baseline_directory_loads_predicts_and_evaluates(tmp_path: Path) -> None:
    assert json.loads((OLD_BASELINE / "config.json").read_text())["encoder"]["kind"] == "bilstm"
    loaded = load_parser(OLD_BASELINE, device="cpu")
    assert loaded.upos.labels and loaded.deprel.labels
    out = tmp_path / "pred.conllu"
    r = predict(OLD_BASELINE, str(TINY), str(out), device="cpu")
    pred = read_conllu(out)
    assert r.n_sentences == 3 and [s.forms for s in pred] == [s.forms for s in read_conllu(TINY)]
    assert all(sorted(s.heads).count(0) == 1 for s in pred)  # one root per sentence, as decoded
    ev = evaluate_model(OLD_BASELINE, TINY, n_bootstrap=0, device="cpu")
    assert ev.scores.n_words == 11 and ev.counts is not None and ev.counts.shape == (3, 4)
    # the same scores as the release measured on this dev set when it trained the model
    assert ev.scores.las == json.loads((OLD_BASELINE / "train.json").read_text())["dev"]["las"]
