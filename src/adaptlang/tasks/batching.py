"""Length-bucketed dynamic batching: sentences of similar length share a batch, so little compute goes to padding."""

from __future__ import annotations

import random
from typing import Sequence


def bucket_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None,
                   shuffle: bool = True, seed: int = 0) -> list[list[int]]:
    """Group sentence indices into batches of at most ``batch_size`` sentences and ``max_tokens`` words.

    Indices are sorted by length (ties broken at random when ``shuffle``), cut into batches, and the batch order is
    shuffled; the same ``seed`` always gives the same batches. A sentence longer than ``max_tokens`` gets a batch
    of its own.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    rng = random.Random(seed)
    keys = [rng.random() for _ in lengths] if shuffle else [0.0] * len(lengths)
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], keys[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(longest, lengths[i])
        if current and (len(current) >= batch_size or (max_tokens is not None and n * (len(current) + 1) > max_tokens)):
            batches.append(current)
            current, n = [], lengths[i]
        current.append(i)
        longest = n
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches
