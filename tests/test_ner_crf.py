"""The CRF and constrained Viterbi against brute-force enumeration of every tag sequence of tiny sentences."""

import itertools

import pytest
import torch

from adaptlang.data.ner import repair_iob2
from adaptlang.models.crf import CRF, allowed_transitions, viterbi

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def valid(seq):
    tags = [LABELS[i] for i in seq]
    return repair_iob2(tags) == tags


def brute(crf, emissions, n):
    trans, start, end = crf.constrained()
    scores = {}
    for seq in itertools.product(range(len(LABELS)), repeat=n):
        s = start[seq[0]] + end[seq[-1]] + sum(emissions[i, t] for i, t in enumerate(seq))
        s = s + sum(trans[a, b] for a, b in zip(seq, seq[1:]))
        scores[seq] = s
    return scores


def random_crf(seed):
    torch.manual_seed(seed)
    crf = CRF(LABELS)
    with torch.no_grad():
        for p in (crf.trans, crf.start, crf.end):
            p.normal_()
    return crf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partition_and_viterbi_match_brute_force(seed):
    crf = random_crf(seed)
    lengths = [1, 3, 4]
    emissions = torch.randn(len(lengths), max(lengths), len(LABELS))
    mask = torch.tensor([[i < n for i in range(max(lengths))] for n in lengths])
    log_z = crf.log_partition(emissions, mask)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        scores = brute(crf, emissions[b], n)
        finite = torch.stack([v for v in scores.values() if torch.isfinite(v)])
        assert torch.allclose(log_z[b], torch.logsumexp(finite, 0), atol=1e-4)
        best = max(scores, key=lambda k: scores[k].item())
        assert tuple(paths[b]) == best
        assert valid(paths[b])
        for seq in [best, tuple(paths[(b + 1) % len(lengths)][:n]) + (0,) * (n - len(paths[(b + 1) % len(lengths)][:n]))]:
            if valid(seq):
                tags = torch.tensor([list(seq) + [0] * (max(lengths) - n)])
                got = crf.sequence_score(emissions[b : b + 1], tags, mask[b : b + 1])
                assert torch.allclose(got[0], scores[seq], atol=1e-4)


def test_forbidden_sequences_have_no_probability_and_nll_is_finite():
    crf = random_crf(3)
    emissions = torch.randn(1, 3, len(LABELS))
    emissions[0, :, 2] = 50.0  # I-PER everywhere is what the emissions want
    mask = torch.ones(1, 3, dtype=torch.bool)
    path = crf.decode(emissions, mask)[0]
    assert valid(path) and path[0] != 2
    nll = crf.nll(emissions, torch.tensor([[1, 2, 2]]), mask)
    assert torch.isfinite(nll).all() and nll.item() >= 0


def test_unlearned_viterbi_is_constrained_argmax():
    start_ok, trans_ok = allowed_transitions(LABELS)
    assert not start_ok[2] and trans_ok[1, 2] and not trans_ok[3, 2] and not trans_ok[0, 4]
    trans = torch.zeros(5, 5).masked_fill(~trans_ok, float("-inf"))
    start = torch.zeros(5).masked_fill(~start_ok, float("-inf"))
    torch.manual_seed(0)
    for _ in range(20):
        n = 4
        e = torch.randn(1, n, 5).log_softmax(-1)
        path = viterbi(e, torch.ones(1, n, dtype=torch.bool), trans, start, torch.zeros(5))[0]
        best = max((s for s in itertools.product(range(5), repeat=n) if valid(s)),
                   key=lambda s: sum(e[0, i, t].item() for i, t in enumerate(s)))
        assert tuple(path) == best
