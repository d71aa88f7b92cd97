"""Fully connected ReLU networks for vectors (``dnet_lib.toy`` trains them): ``PlainMLP``,
``ResidualMLP`` (same parameters at the same width) and ``DenseMLP`` (a dense block of Linears)."""
from __future__ import annotations

import torch
from torch import nn

from .. import validate

__all__ = ["PlainMLP", "ResidualMLP", "DenseMLP"]


class _MLP(nn.Module):
    """What the three share: ``layers`` (``num_layers`` Linears of ``width`` outputs, each reading
    the previous layer or, ``dense``, everything before it), ReLU, linear head."""

    def __init__(self, in_features: int, width: int, num_layers: int, out_features: int,
                 dense: bool):
        super().__init__()
        validate.check_ints(in_features=in_features, **{"growth" if dense else "hidden": width},
                            num_layers=num_layers, out_features=out_features)
        self.in_features = in_features
        fan_ins = [in_features + i * width if dense else (width if i else in_features)
                   for i in range(num_layers + 1)]
        self.layers = nn.ModuleList(nn.Linear(fan_in, width) for fan_in in fan_ins[:-1])
        self.act = nn.ReLU()
        self.head = nn.Linear(fan_ins[-1], out_features)


class PlainMLP(_MLP):
    """``num_layers`` hidden layers of ``hidden`` units, Linear-ReLU, a linear head."""

    def __init__(self, in_features: int, hidden: int, num_layers: int, out_features: int):
        super().__init__(in_features, hidden, num_layers, out_features, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            h = self.act(layer(h))
        return self.head(h)


class ResidualMLP(PlainMLP):
    """``PlainMLP``'s parameters rewired: an input projection, then ``num_layers - 1`` residual
    layers ``h = h + relu(Linear(h))``, a linear head."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.layers[0](x))
        for layer in self.layers[1:]:
            h = h + self.act(layer(h))
        return self.head(h)


class DenseMLP(_MLP):
    """A dense block for vectors: each layer reads the input and all earlier outputs concatenated
    and adds ``growth`` units (the growth rate k); the head reads them all."""

    def __init__(self, in_features: int, growth: int, num_layers: int, out_features: int):
        super().__init__(in_features, growth, num_layers, out_features, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        features = [x]
        for layer in self.layers:
            features.append(self.act(layer(torch.cat(features, 1))))
        return self.head(torch.cat(features, 1))
