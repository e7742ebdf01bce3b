"""The masked-language-model task on the training core (``adaptlang adapt``): continued MLM training of a
pretrained encoder on packed sequences of raw target-language text.

A pass is one sweep over the packed sequences in an order that is a pure function of (seed, pass); each
micro-batch's masks come from a generator seeded by (seed, pass, micro-batch), so a resumed run sees exactly the
batches and masks of an uninterrupted one, on any number of processes.

The engine's "epoch" is one *evaluation period*: by default one pass, or ``period`` micro-batches taken from the
endless stream of passes (to score the held-out slice every N steps when a pass is long). With a held-out slice the
task's dev metric is the held-out MLM loss (``mlm_loss``, fixed masks: the same positions at every evaluation),
which the engine minimises (``select_mode="min"``) for early stopping and the best weights.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from adaptlang.adapt.corpus import Packed, Tokenized, mask_tokens, pack, sequence_order, step_generator
from adaptlang.adapt.model import MaskedLMObjective
from adaptlang.engine.runtime import to_device


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    mlm_probability: float = 0.15
    whole_word_mask: bool = False


@dataclasses.dataclass(frozen=True)
class MicroBatch:
    epoch: int
    index: int  # position of this micro-batch in its epoch (seeds its masks)
    rows: tuple[int, ...]  # packed sequences


def pack_for(tok: Tokenized, max_seq_len: int, tokenizer: Any) -> Packed:
    """Pack tokenized lines into sequences framed with the tokenizer's own special tokens."""
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else sep_id
    return pack(tok, max_seq_len, cls_id, sep_id, pad_id)


def masked_batch(data: Packed, idx: list[int], masking: MaskingConfig, mask_token_id: int, vocab_size: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(masked input ids [B, T], attention [B, T], selected [B, T], labels [n_selected], real tokens)."""
    ids = torch.as_tensor(idx)
    input_ids = data.input_ids[ids]  # [B, T]
    attention = data.attention_mask[ids]
    width = int(attention.sum(dim=1).max())  # trim the shared padding tail: shorter tensors, same result
    input_ids, attention = input_ids[:, :width], attention[:, :width]
    masked, selected, labels = mask_tokens(input_ids, data.special[ids][:, :width], data.word_ids[ids][:, :width],
                                           masking.mlm_probability, masking.whole_word_mask, mask_token_id,
                                           vocab_size, gen)
    return masked, attention, selected, labels, int(attention.sum())


class MLMTask:
    """The engine's hooks for MLM adaptation."""

    def __init__(self, objective: MaskedLMObjective, data: Packed, *, batch_size: int, lr: float,
                 weight_decay: float, masking: MaskingConfig, mask_token_id: int, vocab_size: int, seed: int,
                 heldout: Packed | None = None, period: int | None = None):
        self.model = objective
        self.data, self.batch_size, self.lr, self.weight_decay = data, batch_size, lr, weight_decay
        self.masking, self.mask_token_id, self.vocab_size, self.seed = masking, mask_token_id, vocab_size, seed
        self.heldout = heldout  # scored by evaluate (None: no dev metric)
        self.period = period  # micro-batches per evaluation period (None: one pass)
        self._orders: dict[int, list[int]] = {}

    def param_groups(self) -> list[dict[str, Any]]:
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
        return [{"params": decay, "lr": self.lr, "weight_decay": self.weight_decay},
                {"params": no_decay, "lr": self.lr, "weight_decay": 0.0}]

    def micro_per_pass(self) -> int:
        return math.ceil(self.data.n_seq / self.batch_size)

    def _pass_batch(self, n_pass: int, index: int) -> MicroBatch:
        if n_pass not in self._orders:
            self._orders = {n_pass: sequence_order(self.data.n_seq, self.seed, n_pass).tolist()}
        start = index * self.batch_size
        return MicroBatch(n_pass, index, tuple(self._orders[n_pass][start:start + self.batch_size]))

    def batches(self, epoch: int) -> list[MicroBatch]:
        """Evaluation period ``epoch``'s micro-batches: pass ``epoch`` whole, or ``period`` micro-batches of the
        endless stream of passes (a micro-batch keeps its pass number and index, so its masks do not depend on the
        period)."""
        n = self.micro_per_pass()
        if self.period is None:
            return [self._pass_batch(epoch, i) for i in range(n)]
        first = (epoch - 1) * self.period
        return [self._pass_batch(1 + g // n, g % n) for g in range(first, first + self.period)]

    def train_step(self, model: Any, batch: MicroBatch, device: torch.device) -> tuple[torch.Tensor, dict]:
        gen = step_generator(self.seed, 2, batch.epoch, batch.index)
        tensors = masked_batch(self.data, list(batch.rows), self.masking, self.mask_token_id, self.vocab_size, gen)
        loss = model(*[to_device(t, device) for t in tensors[:4]])
        return loss, {"tokens": tensors[4], "sequences": len(batch.rows)}

    def evaluate(self, model: Any, device: torch.device) -> dict[str, float] | None:
        """The held-out MLM loss (pseudo-perplexity, slower, is measured before and after training only)."""
        if self.heldout is None:
            return None
        total, count = heldout_loss(model, self.heldout, batch_size=self.batch_size, masking=self.masking,
                                    mask_token_id=self.mask_token_id, vocab_size=self.vocab_size, seed=self.seed,
                                    device=device)
        return {"mlm_loss": round(total / max(1, count), 5)}


def steps_per_epoch(n_seq: int, batch_size: int, grad_accum: int, n_processes: int) -> int:
    micro = math.ceil(n_seq / batch_size)
    return max(1, math.ceil(math.ceil(micro / n_processes) / grad_accum))


@torch.no_grad()
def heldout_scores(objective: MaskedLMObjective, data: Packed, *, batch_size: int, masking: MaskingConfig,
                   mask_token_id: int, vocab_size: int, seed: int, pppl_tokens: int,
                   device: torch.device) -> dict[str, Any]:
    """Held-out MLM loss (fixed masks, the same before and after) and pseudo-perplexity (Salazar et al. 2020:
    each of the first ``pppl_tokens`` positions masked alone, exp of the mean negative log-likelihood)."""
    was_training = objective.training
    objective.eval()
    bs = max(1, batch_size)
    total, count = heldout_loss(objective, data, batch_size=bs, masking=masking, mask_token_id=mask_token_id,
                                vocab_size=vocab_size, seed=seed, device=device)
    nll, n = _pseudo_nll(objective, data, pppl_tokens, max(1, bs * 4), mask_token_id, device)
    objective.train(was_training)
    return {
        "mlm_loss": round(total / max(1, count), 5),
        "masked_tokens": count,
        "pseudo_perplexity": round(math.exp(min(nll / n, 50)), 4) if n else None,
        "pppl_positions": n,
    }


@torch.no_grad()
def heldout_loss(objective: Any, data: Packed, *, batch_size: int, masking: MaskingConfig, mask_token_id: int,
                 vocab_size: int, seed: int, device: torch.device) -> tuple[float, int]:
    """(summed cross-entropy, masked positions) on ``data`` with fixed token-level masks: the masks depend on
    (seed, batch start) only, so every evaluation scores the same positions."""
    total, count = 0.0, 0
    bs = max(1, batch_size)
    token_masking = dataclasses.replace(masking, whole_word_mask=False)
    for b in range(0, data.n_seq, bs):
        batch = masked_batch(data, list(range(b, min(data.n_seq, b + bs))), token_masking, mask_token_id, vocab_size,
                             step_generator(seed, 3, b))
        total += float(objective(*[t.to(device) for t in batch[:4]], reduction="sum"))
        count += int(batch[3].numel())
    return total, count


def _pseudo_nll(objective: MaskedLMObjective, data: Packed, pppl_tokens: int, rows: int, mask_token_id: int,
                device: torch.device) -> tuple[float, int]:
    """Summed negative log-likelihood of the first ``pppl_tokens`` positions, one masked position per row."""
    positions = (~data.special).nonzero().tolist()[:pppl_tokens]
    nll, n = 0.0, 0
    for b in range(0, len(positions), rows):
        chunk = positions[b: b + rows]
        seq = torch.as_tensor([p[0] for p in chunk])
        pos = torch.as_tensor([p[1] for p in chunk])
        input_ids = data.input_ids[seq].clone()  # [R, T]
        attention = data.attention_mask[seq]
        width = int(attention.sum(dim=1).max())
        input_ids, attention = input_ids[:, :width], attention[:, :width]
        rows_idx = torch.arange(len(chunk))
        labels = input_ids[rows_idx, pos].clone()
        input_ids[rows_idx, pos] = mask_token_id
        selected = torch.zeros_like(input_ids, dtype=torch.bool)
        selected[rows_idx, pos] = True
        nll += float(objective(input_ids.to(device), attention.to(device), selected.to(device), labels.to(device),
                               reduction="sum"))
        n += len(chunk)
    return nll, n
