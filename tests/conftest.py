"""Shared fixtures: the ``../shared`` data folder (tests that need it skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UD = SHARED / "data" / "ud"
VOCAB = SHARED / "data" / "vocab"


@pytest.fixture
def shared_ud() -> Path:
    if not UD.is_dir():
        pytest.skip("../shared/data/ud is absent")
    return UD


@pytest.fixture
def shared_vocab() -> Path:
    if not VOCAB.is_dir():
        pytest.skip("../shared/data/vocab is absent")
    return VOCAB
