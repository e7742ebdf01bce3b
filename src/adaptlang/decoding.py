"""Tree decoding: maximum spanning arborescence (Chu-Liu-Edmonds) with exactly one root, and tree checks.

Pure numpy functions. Scores are indexed ``scores[dep, head]`` over nodes ``0..n`` where node 0 is the artificial
root; the result is a head array ``heads[d]`` for ``d = 1..n`` (``heads[0] = 0`` by convention, not a real arc).

>>> import numpy as np
>>> s = np.log(np.array([[1, 1, 1], [.6, 0.01, .4], [.5, .5, 0.01]]))
>>> mst(s).tolist()
[0, 0, 1]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from adaptlang.data.conllu import find_cycle


def is_tree(heads: Sequence[int], single_root: bool = True) -> bool:
    """True if ``heads`` (``heads[0]`` ignored) is a tree rooted at node 0 (with exactly one child of 0)."""
    n = len(heads)
    if any(not 0 <= heads[d] < n or heads[d] == d for d in range(1, n)):
        return False
    if single_root and sum(1 for d in range(1, n) if heads[d] == 0) != 1:
        return False
    for start in range(1, n):  # every node must reach the root without revisiting a node
        seen = set()
        v = start
        while v != 0:
            if v in seen:
                return False
            seen.add(v)
            v = heads[v]
    return True


def _chu_liu_edmonds(scores: np.ndarray) -> np.ndarray:
    """Maximum spanning arborescence rooted at 0 (any number of root children). ``scores [n, n]``, float64."""
    n = len(scores)
    s = scores.copy()
    np.fill_diagonal(s, -np.inf)
    s[0, :] = -np.inf  # the root has no head
    heads = s.argmax(axis=1)
    heads[0] = 0
    cycle = find_cycle(heads.tolist())
    if cycle is None:
        return heads
    cyc = np.array(cycle)
    in_cycle = np.zeros(n, dtype=bool)
    in_cycle[cyc] = True
    outside = np.flatnonzero(~in_cycle)  # includes the root, at position 0
    m = len(outside)
    c = m  # index of the contracted node in the smaller graph
    kept = s[cyc, heads[cyc]]  # [len(cyc)] score of each cycle node's arc inside the cycle
    sub = np.full((m + 1, m + 1), -np.inf)
    sub[:m, :m] = s[np.ix_(outside, outside)]
    # arcs outside-head -> cycle: entering at node v breaks v's cycle arc
    enter = s[np.ix_(cyc, outside)] - kept[:, None]  # [len(cyc), m]
    enter_dep = enter.argmax(axis=0)  # [m] best cycle node to enter, per outside head
    sub[c, :m] = enter.max(axis=0)
    # arcs cycle-head -> outside dep: the best head inside the cycle
    leave = s[np.ix_(outside, cyc)]  # [m, len(cyc)]
    leave_head = leave.argmax(axis=1)  # [m]
    sub[:m, c] = leave.max(axis=1)
    sub_heads = _chu_liu_edmonds(sub)
    result = heads.copy()
    for i in range(1, m):
        h = sub_heads[i]
        result[outside[i]] = cyc[leave_head[i]] if h == c else outside[h]
    h = sub_heads[c]
    result[cyc[enter_dep[h]]] = outside[h]
    return result


def mst(scores: np.ndarray, single_root: bool = True) -> np.ndarray:
    """Highest-scoring dependency tree for ``scores [n + 1, n + 1]`` (``scores[dep, head]``, e.g. log-probs).

    With ``single_root`` the tree has exactly one child of the root. Exact: every arc from the root is penalised by
    a constant larger than the score difference between any two trees, so the optimum uses as few root arcs as
    possible (one) and is otherwise the best tree (the "constant addition" reduction of Gabow and Tarjan).
    Non-finite scores are treated as impossible arcs (but a tree is always returned).
    """
    s = np.asarray(scores, dtype=np.float64).copy()
    n = len(s)
    if s.shape != (n, n):
        raise ValueError(f"scores must be square, got {s.shape}")
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    finite = np.isfinite(s)
    lo, hi = (s[finite].min(), s[finite].max()) if finite.any() else (0.0, 0.0)
    floor = lo - (hi - lo) * n - 1.0  # worse than any tree made of finite arcs
    s[~finite] = floor
    greedy = _greedy_tree(s, single_root)
    if greedy is not None:
        return greedy
    if single_root:
        penalty = (hi - floor) * n + 1.0
        s[1:, 0] -= penalty
    heads = _chu_liu_edmonds(s)
    heads[0] = 0
    return heads.astype(np.int64)


def _greedy_tree(s: np.ndarray, single_root: bool) -> np.ndarray | None:
    """Every word's best head, when these already form a tree (with one root child if ``single_root``): then no tree
    scores higher, so it is the answer without Chu-Liu-Edmonds (the usual case for a trained parser)."""
    t = s.copy()
    np.fill_diagonal(t, -np.inf)
    heads = t.argmax(axis=1)
    heads[0] = 0
    if single_root and np.count_nonzero(heads[1:] == 0) != 1:
        return None
    if find_cycle(heads.tolist()) is not None:
        return None
    return heads.astype(np.int64)


def tree_score(scores: np.ndarray, heads: Sequence[int]) -> float:
    return float(sum(scores[d, heads[d]] for d in range(1, len(heads))))
