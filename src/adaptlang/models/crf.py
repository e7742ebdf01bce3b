"""A linear-chain CRF over IOB2 tags, constrained Viterbi decoding, and the token tagger that sits on any word
encoder (the NER model of :mod:`adaptlang.tasks.ner`).

Tensor code only. The transitions that IOB2 forbids (``I-X`` anywhere but after ``B-X`` or ``I-X``, and at the
start of a sentence) are masked to -inf in training and decoding, so :func:`viterbi` never returns an invalid
sequence, with or without a learned CRF (without one, decoding is the constrained argmax of the token softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from adaptlang.data.vocab import IGNORE_INDEX
from adaptlang.models import WordEncoder

NEG_INF = float("-inf")


def allowed_transitions(labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """IOB2 constraints over ``labels``: ``start [n_tags]`` (may begin a sentence) and ``trans [n_tags, n_tags]``
    (``trans[i, j]``: tag j may follow tag i). Every tag may end a sentence."""
    n = len(labels)
    start = torch.ones(n, dtype=torch.bool)
    trans = torch.ones(n, n, dtype=torch.bool)
    for j, tag in enumerate(labels):
        if tag.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(labels):
                trans[i, j] = prev in (f"B-{tag[2:]}", f"I-{tag[2:]}")
    return start, trans


def viterbi(emissions: torch.Tensor, mask: torch.Tensor, trans: torch.Tensor, start: torch.Tensor,
            end: torch.Tensor) -> list[list[int]]:
    """Best tag sequence of each sentence.

    emissions ``[batch, n, n_tags]``; mask ``[batch, n]`` (True on real tokens, left-aligned); trans
    ``[n_tags, n_tags]`` (-inf where forbidden); start, end ``[n_tags]``."""
    emissions, trans, start, end = emissions.float(), trans.float(), start.float(), end.float()
    batch, n, _ = emissions.shape
    score = start + emissions[:, 0]  # [batch, n_tags]
    backpointers = []
    for i in range(1, n):
        total = score.unsqueeze(2) + trans.unsqueeze(0)  # [batch, prev, next]
        best, arg = total.max(dim=1)  # [batch, n_tags]
        new = best + emissions[:, i]
        keep = mask[:, i].unsqueeze(1)
        score = torch.where(keep, new, score)
        backpointers.append(torch.where(keep, arg, torch.arange(arg.shape[1], device=arg.device).expand_as(arg)))
    score = score + end
    lengths = mask.sum(dim=1).tolist()
    last = score.argmax(dim=1).tolist()
    paths: list[list[int]] = []
    bp = torch.stack(backpointers, dim=1).cpu() if backpointers else None  # [batch, n - 1, n_tags]
    for b in range(batch):
        tag, path = last[b], [last[b]]
        for i in range(int(lengths[b]) - 2, -1, -1):
            tag = int(bp[b, i, tag])  # type: ignore[index]
            path.append(tag)
        paths.append(path[::-1])
    return paths


class CRF(nn.Module):
    """Linear-chain CRF with IOB2-forbidden transitions fixed at -inf."""

    def __init__(self, labels: Sequence[str]):
        super().__init__()
        start_ok, trans_ok = allowed_transitions(labels)
        self.register_buffer("start_ok", start_ok, persistent=False)
        self.register_buffer("trans_ok", trans_ok, persistent=False)
        self.trans = nn.Parameter(torch.zeros(len(labels), len(labels)))  # trans[i, j]: score of i -> j
        self.start = nn.Parameter(torch.zeros(len(labels)))
        self.end = nn.Parameter(torch.zeros(len(labels)))

    def constrained(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(trans, start, end) with forbidden entries at -inf."""
        return (self.trans.masked_fill(~self.trans_ok, NEG_INF), self.start.masked_fill(~self.start_ok, NEG_INF),
                self.end)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z of each sentence ``[batch]`` (the forward algorithm)."""
        trans, start, end = self.constrained()
        alpha = start + emissions[:, 0]  # [batch, n_tags]
        for i in range(1, emissions.shape[1]):
            new = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emissions[:, i]
            alpha = torch.where(mask[:, i].unsqueeze(1), new, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def sequence_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the given tag sequences ``[batch]`` (tags ``[batch, n]``, any value on padding)."""
        trans, start, end = self.constrained()
        tags = tags.masked_fill(~mask, 0)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2).masked_fill(~mask, 0.0).sum(dim=1)
        step = trans[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0.0).sum(dim=1)
        last = tags.gather(1, (mask.sum(dim=1, keepdim=True) - 1).clamp(min=0)).squeeze(1)
        return start[tags[:, 0]] + emit + step + end[last]

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each sentence ``[batch]``."""
        emissions = emissions.float()
        return self.log_partition(emissions, mask) - self.sequence_score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        return viterbi(emissions, mask, *self.constrained())


@dataclass(frozen=True)
class TaggerConfig:
    """The tagger head's settings; saved in the model's config.json (the labels are saved beside it)."""

    n_tags: int
    dropout: float = 0.33
    crf: bool = True

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class TokenTagger(nn.Module):
    """One tag per word: dropout, a linear layer, and a CRF (or the constrained argmax of the softmax)."""

    def __init__(self, encoder: WordEncoder, heads: TaggerConfig, labels: Sequence[str]):
        super().__init__()
        if len(labels) != heads.n_tags:
            raise ValueError(f"{len(labels)} labels for {heads.n_tags} tags")
        self.encoder = encoder
        self.heads_config = heads
        self.dropout = nn.Dropout(heads.dropout)
        self.out = nn.Linear(encoder.output_dim, heads.n_tags)
        self.crf = CRF(labels) if heads.crf else None
        start_ok, trans_ok = allowed_transitions(labels)
        self.register_buffer("start_ok", start_ok, persistent=False)
        self.register_buffer("trans_ok", trans_ok, persistent=False)

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        words, mask = self.encoder(inputs)  # [batch, n_words, d], [batch, n_words]
        return self.out(self.dropout(words)), mask  # s_tag [batch, n_words, n_tags]

    def loss(self, s_tag: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Per-token loss: CRF negative log-likelihood summed over sentences, or cross-entropy, over the tokens."""
        n_tokens = mask.sum().clamp(min=1)
        if self.crf is None:
            return F.cross_entropy(s_tag[mask].float(), tags[mask], ignore_index=IGNORE_INDEX)
        return self.crf.nll(s_tag, tags.clamp(min=0), mask).sum() / n_tokens

    @torch.no_grad()
    def decode(self, s_tag: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Tag ids of each sentence, a valid IOB2 sequence always."""
        if self.crf is not None:
            return self.crf.decode(s_tag, mask)
        zero = torch.zeros(s_tag.shape[-1], device=s_tag.device)
        trans = zero.unsqueeze(0).expand(len(zero), -1).masked_fill(~self.trans_ok, NEG_INF)
        return viterbi(s_tag.float().log_softmax(-1), mask, trans, zero.masked_fill(~self.start_ok, NEG_INF), zero)
