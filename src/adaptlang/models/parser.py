"""UPOS tagger + biaffine dependency parser on top of any word encoder, with optional XPOS, FEATS and lemma-rule
classifiers (a head exists only when its size is above zero: models without them load unchanged).

Tensor code only (SuPar's split): ``forward`` returns scores, ``loss`` the training objective, ``decode`` the
predictions (MST trees with exactly one root, via :func:`adaptlang.decoding.mst`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adaptlang.data.vocab import IGNORE_INDEX
from adaptlang.decoding import mst
from adaptlang.models import WordEncoder
from adaptlang.models.biaffine import MLP, Biaffine, Dropout


@dataclass(frozen=True)
class HeadsConfig:
    """Sizes of the heads; saved in the model's config.json."""

    n_upos: int
    n_rels: int
    arc_dim: int = 500
    rel_dim: int = 100
    dropout: float = 0.33
    n_xpos: int = 0  # 0: no such head (the treebank's column is '_', or the model predates it)
    n_feats: int = 0  # whole FEATS strings as classes
    feat_sizes: dict[str, int] = field(default_factory=dict)  # per-feature heads ("feat:Case" -> values + absent)
    n_lemmas: int = 0  # lemma rules (adaptlang.models.lemma)
    n_treebanks: int = 0  # a learned treebank embedding added to the word vectors (training with donor treebanks)
    target_treebank: int = 0  # the treebank whose embedding is used when the inputs carry none (prediction)
    tag_weight: float = 1.0  # weight of the XPOS / FEATS / lemma losses next to UPOS + arcs + labels (training only)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ParserOutput:
    s_upos: torch.Tensor  # [batch, n_words, n_upos]
    s_arc: torch.Tensor  # [batch, n_words, n_words + 1]; s_arc[b, i, j]: head of word i+1 is node j (0 = root)
    rel_dep: torch.Tensor  # [batch, n_words, rel_dim]
    rel_head: torch.Tensor  # [batch, n_words + 1, rel_dim]
    mask: torch.Tensor  # [batch, n_words] bool
    s_tags: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> [batch, n_words, n_labels]


TAG_HEADS = ("xpos", "feats", "lemma")  # optional word classifiers, in HeadsConfig as n_xpos, n_feats, n_lemmas


class BiaffineParser(nn.Module):
    def __init__(self, encoder: WordEncoder, heads: HeadsConfig):
        super().__init__()
        self.encoder = encoder
        self.heads_config = heads
        d = encoder.output_dim
        self.root = nn.Parameter(torch.randn(d) * 0.02)  # the artificial root node's vector
        self.dropout = Dropout(heads.dropout)
        self.upos_out = nn.Linear(d, heads.n_upos)
        self.arc_dep = MLP(d, heads.arc_dim, heads.dropout)
        self.arc_head = MLP(d, heads.arc_dim, heads.dropout)
        self.rel_dep_mlp = MLP(d, heads.rel_dim, heads.dropout)
        self.rel_head_mlp = MLP(d, heads.rel_dim, heads.dropout)
        self.arc_attn = Biaffine(heads.arc_dim, 1, bias_x=True, bias_y=False)
        self.rel_attn = Biaffine(heads.rel_dim, heads.n_rels, bias_x=True, bias_y=True)
        sizes = {"xpos": heads.n_xpos, "feats": heads.n_feats, "lemma": heads.n_lemmas, **heads.feat_sizes}
        self.tag_out = nn.ModuleDict({name: nn.Linear(d, n) for name, n in sizes.items() if n > 0})
        self.treebank = nn.Embedding(heads.n_treebanks, d) if heads.n_treebanks else None
        if self.treebank is not None:
            nn.init.zeros_(self.treebank.weight)  # starts as no offset; a row never trained on stays so

    def head_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if not n.startswith("encoder.")]

    def forward(self, inputs: dict[str, torch.Tensor]) -> ParserOutput:
        words, mask = self.encoder(inputs)  # [batch, n_words, d], [batch, n_words]
        if self.treebank is not None:
            words = words + self.treebank_vectors(inputs, words.shape[0]).to(words.dtype).unsqueeze(1)
        words = self.dropout(words)
        batch = words.shape[0]
        nodes = torch.cat([self.root.to(words.dtype).expand(batch, 1, -1), words], dim=1)  # [batch, n_words + 1, d]
        s_upos = self.upos_out(words)
        s_arc = self.arc_attn(self.arc_dep(words), self.arc_head(nodes))  # [batch, n_words, n_words + 1]
        head_mask = torch.cat([mask.new_ones(batch, 1), mask], dim=1)  # [batch, n_words + 1]
        s_arc = s_arc.masked_fill(~head_mask.unsqueeze(1), float("-inf"))
        s_tags = {name: layer(words) for name, layer in self.tag_out.items()}
        return ParserOutput(s_upos, s_arc, self.rel_dep_mlp(words), self.rel_head_mlp(nodes), mask, s_tags)

    def treebank_vectors(self, inputs: dict[str, torch.Tensor], batch: int) -> torch.Tensor:
        """Each sentence's treebank embedding ``[batch, d]``: ``inputs["treebank"]`` ids, else the target's."""
        ids = inputs.get("treebank")
        if ids is None:
            ids = torch.full((batch,), self.heads_config.target_treebank, dtype=torch.long,
                             device=self.treebank.weight.device)  # type: ignore[union-attr]
        return self.treebank(ids)  # type: ignore[misc]

    def rel_scores(self, out: ParserOutput, heads: torch.Tensor) -> torch.Tensor:
        """Label scores of the arcs ``head -> word`` for the given heads ``[batch, n_words]`` -> ``[batch, n_words, n_rels]``."""
        index = heads.clamp(min=0).unsqueeze(-1).expand(-1, -1, out.rel_head.shape[-1])
        chosen = out.rel_head.gather(1, index)  # [batch, n_words, rel_dim]
        return self.rel_attn.pairs(out.rel_dep, chosen)

    def loss(self, out: ParserOutput, upos: torch.Tensor, heads: torch.Tensor, rels: torch.Tensor,
             tags: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sum of UPOS, arc, label and, weighted by ``tag_weight``, tag-head (``tags``: name -> ``[batch, n_words]``
        ids) cross-entropies over real words. Labels ``-100`` (unseen, or '_' in gold) are skipped. The per-feature
        heads count as one part, ``feats``, their mean (so that FEATS weighs the same in either mode). The parts come
        back as detached tensors (reading them as numbers would wait for the device at every step)."""
        mask = out.mask
        heads = heads.masked_fill(~mask, IGNORE_INDEX)
        l_upos = F.cross_entropy(out.s_upos[mask].float(), upos[mask], ignore_index=IGNORE_INDEX)
        l_arc = F.cross_entropy(out.s_arc[mask].float(), heads[mask], ignore_index=IGNORE_INDEX)
        s_rel = self.rel_scores(out, heads)
        l_rel = F.cross_entropy(s_rel[mask].float(), rels[mask], ignore_index=IGNORE_INDEX)
        parts = {"upos": l_upos, "arc": l_arc, "rel": l_rel}
        for name, gold in (tags or {}).items():
            if name in out.s_tags:  # a mean over the labelled words; 0 when a batch has none (no device sync)
                n_gold = (gold[mask] != IGNORE_INDEX).sum().clamp(min=1)
                parts[name] = F.cross_entropy(out.s_tags[name][mask].float(), gold[mask], ignore_index=IGNORE_INDEX,
                                              reduction="sum") / n_gold
        per_feature = [parts.pop(k) for k in list(parts) if k in self.heads_config.feat_sizes]
        if per_feature:
            parts["feats"] = sum(per_feature) / len(per_feature)
        main = ("upos", "arc", "rel")
        tags = [v for k, v in parts.items() if k not in main]
        total = sum(parts[k] for k in main) + self.heads_config.tag_weight * sum(tags)
        return total, {k: v.detach() for k, v in parts.items()}  # type: ignore[return-value]

    @torch.no_grad()
    def decode_tags(self, out: ParserOutput, top_k: int = 1) -> dict[str, list[list[list[int]]]]:
        """Per tag head, per sentence, per word: the ``top_k`` best label ids, best first (lemma rules need the
        runners-up for words the best rule does not fit)."""
        lengths = out.mask.sum(dim=1).tolist()
        result = {}
        for name, scores in out.s_tags.items():
            k = min(top_k if name == "lemma" else 1, scores.shape[-1])
            best = scores.float().topk(k, dim=-1).indices.cpu()  # [batch, n_words, k]
            result[name] = [best[b, :n].tolist() for b, n in enumerate(lengths)]
        return result

    @torch.no_grad()
    def decode(self, out: ParserOutput, root_rel: int | None = None) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
        """Per sentence: UPOS ids, heads (a tree with exactly one root), relation ids.

        With ``root_rel`` (the index of ``root``), the root word gets that label and no other word can.
        """
        lengths = out.mask.sum(dim=1).tolist()
        upos = out.s_upos.argmax(-1).cpu()
        s_arc = out.s_arc.float().log_softmax(-1).cpu().numpy()  # [batch, n_words, n_words + 1]
        all_heads = torch.zeros(out.mask.shape, dtype=torch.long)  # on the CPU, like the decoded trees
        tree_heads: list[list[int]] = []
        for b, n in enumerate(lengths):
            scores = np.full((n + 1, n + 1), -np.inf)
            scores[1:, :] = s_arc[b, :n, : n + 1]
            heads = mst(scores)[1:]
            tree_heads.append(heads.tolist())
            all_heads[b, :n] = torch.from_numpy(heads)
        s_rel = self.rel_scores(out, all_heads.to(out.s_arc.device)).float().cpu()  # [batch, n_words, n_rels]
        if root_rel is not None:
            is_root = all_heads == 0
            s_rel[..., root_rel] = s_rel[..., root_rel].masked_fill(~is_root, float("-inf"))
            s_rel[..., root_rel] = s_rel[..., root_rel].masked_fill(is_root, float("inf"))
        rels = s_rel.argmax(-1)
        return (
            [upos[b, :n].tolist() for b, n in enumerate(lengths)],
            tree_heads,
            [rels[b, :n].tolist() for b, n in enumerate(lengths)],
        )
