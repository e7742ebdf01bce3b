"""Where the benchmarks find the shared UD treebanks, and the split files of one treebank.

The UD folder is ``../shared/data/ud`` beside the checkout unless ``ADAPTLANG_UD`` names another (as on a lent GPU
machine, where the treebanks travel with the working tree).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UD = Path(os.environ.get("ADAPTLANG_UD", REPO.parent / "shared" / "data" / "ud"))


def split_file(treebank: str, part: str, required: bool = True) -> Path | None:
    """``UD/<treebank>/*-ud-<part>.conllu``; a missing required file ends the script with a one-line message."""
    files = sorted((UD / treebank).glob(f"*-ud-{part}.conllu"))
    if files:
        return files[0]
    if required:
        raise SystemExit(f"{treebank}: no {part} file under {UD / treebank}")
    return None
