"""MST decoding against brute-force enumeration of every dependency tree of small sentences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from adaptlang.decoding import is_tree, mst, tree_score


def all_trees(n: int, single_root: bool):
    """Every head assignment of n words that forms a tree (optionally with exactly one root child)."""
    for heads in itertools.product(range(n + 1), repeat=n):
        h = (0,) + heads
        if is_tree(h, single_root=single_root):
            yield h


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("single_root", [True, False])
def test_mst_matches_brute_force(n: int, single_root: bool) -> None:
    rng = np.random.default_rng(n * 10 + single_root)
    trees = list(all_trees(n, single_root))
    # Cayley: (n+1)^(n-1) trees rooted at 0; with one root child: n^(n-1)
    assert len(trees) == (n ** (n - 1) if single_root else (n + 1) ** (n - 1))
    for trial in range(40 if n < 5 else 15):
        scores = rng.normal(size=(n + 1, n + 1)) * (3 if trial % 2 else 0.3)
        best = max(tree_score(scores, t) for t in trees)
        heads = mst(scores, single_root=single_root)
        assert is_tree(heads.tolist(), single_root=single_root)
        assert tree_score(scores, heads) == pytest.approx(best, abs=1e-9)


def test_single_root_even_when_every_word_prefers_the_root() -> None:
    n = 6
    scores = np.full((n + 1, n + 1), -5.0)
    scores[:, 0] = 0.0  # every word's best head is the root
    heads = mst(scores)
    assert is_tree(heads.tolist(), single_root=True)
    assert sum(1 for d in range(1, n + 1) if heads[d] == 0) == 1


def test_impossible_arcs_and_long_sentences() -> None:
    rng = np.random.default_rng(0)
    n = 120
    scores = np.log(rng.dirichlet(np.ones(n + 1), size=n + 1))
    scores[5, :] = -np.inf  # word 5 has no possible head: still a tree comes out
    heads = mst(scores)
    assert is_tree(heads.tolist())


def test_is_tree_rejects_cycles_and_self_loops() -> None:
    assert not is_tree([0, 2, 1])
    assert not is_tree([0, 1])
    assert not is_tree([0, 0, 0])  # two roots
    assert is_tree([0, 0, 0], single_root=False)
    assert is_tree([0, 2, 0, 2])


def test_best_heads_that_form_a_tree_are_returned_as_they_are() -> None:
    """The shortcut: when every word's best head already gives a (single-root) tree, that tree is the MST."""
    rng = np.random.default_rng(1)
    n = 30
    gold = [0] + [0 if d == 7 else int(rng.integers(1, d)) if d > 1 else 7 for d in range(1, n + 1)]
    assert is_tree(gold)
    scores = rng.normal(size=(n + 1, n + 1))
    for d in range(1, n + 1):
        scores[d, gold[d]] = 10.0
    assert mst(scores).tolist() == gold
    # and a greedy choice with two root children still goes through the exact search
    scores[3, 0] = 20.0
    heads = mst(scores)
    assert is_tree(heads.tolist()) and heads.tolist() != gold
