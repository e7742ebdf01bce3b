"""Biaffine scorers (Dozat & Manning 2017), the small MLP that feeds them, and the dropout layer of the parser and
the BiLSTM encoder."""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout`` (same probability, scaling and state dict: none), with its mask drawn by
    ``torch.rand``: on the CPU that is about three times cheaper than the Bernoulli sampling ``nn.Dropout`` uses,
    which took a tenth of a baseline training step."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(nn.Module):
    """Linear -> LeakyReLU -> dropout: projects word vectors into a role-specific (dep / head) space."""

    def __init__(self, n_in: int, n_out: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.act = nn.LeakyReLU(0.1)
        self.dropout = Dropout(dropout)
        nn.init.orthogonal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.act(self.linear(x)))


def _with_bias(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_ones(x.shape[:-1] + (1,))], dim=-1)


class Biaffine(nn.Module):
    """``s[b, o, i, j] = [x_i; 1]^T U_o [y_j; 1]`` for every pair (all-pairs form, used for arcs)."""

    def __init__(self, n_in: int, n_out: int = 1, bias_x: bool = True, bias_y: bool = True):
        super().__init__()
        self.n_out, self.bias_x, self.bias_y = n_out, bias_x, bias_y
        self.weight = nn.Parameter(torch.zeros(n_out, n_in + bias_x, n_in + bias_y))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # x: [batch, n_x, n_in], y: [batch, n_y, n_in] -> [batch, n_out, n_x, n_y] (squeezed if n_out == 1)
        if self.bias_x:
            x = _with_bias(x)
        if self.bias_y:
            y = _with_bias(y)
        if self.n_out == 1:  # as two matrix products (einsum's batched form is several times slower on the CPU)
            return (x @ self.weight[0]) @ y.transpose(1, 2)
        return torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)

    def pairs(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score aligned pairs only: x, y ``[batch, n, n_in]`` -> ``[batch, n, n_out]`` (labels of chosen arcs)."""
        if self.bias_x:
            x = _with_bias(x)
        if self.bias_y:
            y = _with_bias(y)
        n_out, n_x, n_y = self.weight.shape
        # x U_o for every label as one matrix product [batch * n, n_x] x [n_x, n_out * n_y], then the dot with y
        xu = (x.reshape(-1, n_x) @ self.weight.transpose(0, 1).reshape(n_x, n_out * n_y)).view(-1, n_out, n_y)
        return (xu @ y.reshape(-1, n_y, 1)).view(*x.shape[:-1], n_out)
