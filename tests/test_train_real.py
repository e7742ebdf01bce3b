"""train -> evaluate -> predict with the real multilingual e5-small encoder on a slice of a shared treebank (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.data.conllu import read_conllu, write_conllu
from adaptlang.tasks import TrainConfig, evaluate_model, predict, train_parser

E5 = Path(os.environ.get("ADAPTLANG_E5_SMALL", "/work/models/e5-small"))


@pytest.mark.slow
def test_e5_small_on_wolof_slice(tmp_path: Path, shared_ud: Path) -> None:
    if not (E5 / "config.json").is_file():
        pytest.skip("e5-small model directory absent (build it with ../shared/tools/make_e5_small.py)")
    wolof = shared_ud / "UD_Wolof-WTB"
    train = tmp_path / "train.conllu"
    write_conllu(train, read_conllu(wolof / "wo_wtb-ud-train.conllu")[:80])
    dev = tmp_path / "dev.conllu"
    write_conllu(dev, read_conllu(wolof / "wo_wtb-ud-dev.conllu")[:40])
    result = train_parser(TrainConfig(train=str(train), dev=str(dev), out=str(tmp_path / "m"),
                                      encoder={"kind": "transformer", "model": str(E5), "freeze_embeddings": True},
                                      epochs=2, batch_size=16, encoder_lr=1e-4, device="cpu"))
    assert result.dev["uas"] > 10
    ev = evaluate_model(tmp_path / "m", dev, n_bootstrap=100, device="cpu")
    assert ev.scores.n_sentences == 40
    pred = tmp_path / "pred.conllu"
    predict(tmp_path / "m", str(dev), str(pred), device="cpu")
    validate = shutil.which("udvalidate") or str(Path(sys.executable).parent / "udvalidate")
    v = subprocess.run([validate, "--level", "2", "--lang", "wo", str(pred)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout[-2000:] + v.stderr[-2000:]
