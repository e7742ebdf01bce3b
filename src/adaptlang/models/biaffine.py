"""Biaffine scorers (Dozat & Manning 2017) and the small MLP that feeds them."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Linear -> LeakyReLU -> dropout: projects word vectors into a role-specific (dep / head) space."""

    def __init__(self, n_in: int, n_out: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.act = nn.LeakyReLU(0.1)
        self.dropout = nn.Dropout(dropout)
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
        s = torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)
        return s.squeeze(1) if self.n_out == 1 else s

    def pairs(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score aligned pairs only: x, y ``[batch, n, n_in]`` -> ``[batch, n, n_out]`` (labels of chosen arcs)."""
        if self.bias_x:
            x = _with_bias(x)
        if self.bias_y:
            y = _with_bias(y)
        return torch.einsum("bni,oij,bnj->bno", x, self.weight, y)
