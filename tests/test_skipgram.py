"""Corpus skip-gram vectors (gensim's Word2Vec behind ``baseline.train_skipgram``): they learn co-occurrence, are
reproducible from the seed, and keep the treebank's rare words."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

pytest.importorskip("gensim")

from adaptlang.baseline import EmbeddingConfig, train_skipgram  # noqa: E402

TOPICS = (["cat", "dog", "fur", "paw", "tail"], ["car", "road", "wheel", "engine", "fuel"])


def two_topic_corpus(n_lines: int = 600, seed: int = 0) -> list[list[str]]:
    """Sentences that each draw all their words from one topic: words co-occur only within their topic."""
    rng = random.Random(seed)
    return [rng.choices(TOPICS[k % 2], k=6) for k in range(n_lines)]


def mean_cosine(emb, pairs) -> float:
    row = {w: i for i, w in enumerate(emb.words)}
    return sum(float(emb.vectors[row[a]] @ emb.vectors[row[b]]) for a, b in pairs) / len(pairs)  # unit vectors


def test_co_occurring_words_are_closer_than_unrelated_ones() -> None:
    # sample=0: with ten word types every token is "frequent", and word2vec's subsampling would drop nearly all
    config = EmbeddingConfig(dim=16, window=3, min_count=1, epochs=5, sample=0, seed=3)
    progress: list[tuple[int, int]] = []
    emb = train_skipgram(two_topic_corpus(), config, on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(e, 5) for e in range(1, 6)]
    assert emb.vectors.shape == (10, 16) and emb.source == "skipgram" and emb.n_tokens == 3600
    within = [p for t in TOPICS for p in itertools.combinations(t, 2)]
    across = list(itertools.product(*TOPICS))
    assert mean_cosine(emb, within) > mean_cosine(emb, across) + 0.3
    row = {w: i for i, w in enumerate(emb.words)}
    for word in ("cat", "engine"):  # each word's nearest neighbour is from its own topic
        sims = emb.vectors @ emb.vectors[row[word]]
        sims[row[word]] = -2
        nearest = emb.words[int(sims.argmax())]
        assert any(word in t and nearest in t for t in TOPICS), (word, nearest)


def test_same_seed_same_vectors_and_rare_treebank_words_are_kept() -> None:
    lines = two_topic_corpus(200) + [["hapax"]]
    config = EmbeddingConfig(dim=8, min_count=2, epochs=2, seed=5)
    a = train_skipgram(lines, config)
    b = train_skipgram(lines, config)
    assert a.words == b.words and torch.equal(a.vectors, b.vectors)
    assert "hapax" not in a.words  # below min_count
    kept = train_skipgram(lines, config, keep=["hapax"])
    assert "hapax" in kept.words and torch.isfinite(kept.vectors).all()
    assert not torch.equal(train_skipgram(lines, EmbeddingConfig(dim=8, min_count=2, epochs=2, seed=6)).vectors,
                           a.vectors)
