"""Fully connected networks for vectors (``dnet_lib.toy`` trains them): ``PlainMLP``,
``ResidualMLP`` (same parameters at the same width) and ``DenseMLP`` (a dense block for vectors).
"""
from __future__ import annotations

import torch
from torch import nn

from .. import validate

__all__ = ["ACTIVATIONS", "PlainMLP", "ResidualMLP", "DenseMLP"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class _MLP(nn.Module):
    """What the three share: ``layers`` (one Linear per (fan_in, width) pair), the activation,
    dropout, and a linear head over ``head_features``."""

    def __init__(self, shapes: list[tuple[int, int]], head_features: int, out_features: int,
                 activation: str, dropout: float):
        super().__init__()
        self.in_features, self.num_layers = shapes[0][0], len(shapes)
        self.layers = nn.ModuleList(nn.Linear(fan_in, width) for fan_in, width in shapes)
        self.act = ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(head_features, out_features)


class PlainMLP(_MLP):
    """``num_layers`` hidden layers of ``hidden`` units, Linear-act(-dropout), a linear head."""

    def __init__(self, in_features: int, hidden: int, num_layers: int, out_features: int,
                 activation: str = "relu", dropout: float = 0.0):
        _check_mlp_args(in_features, hidden, num_layers, out_features, activation, dropout,
                        width_name="hidden")
        shapes = [(in_features if i == 0 else hidden, hidden) for i in range(num_layers)]
        super().__init__(shapes, hidden, out_features, activation, dropout)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            h = self.drop(self.act(layer(h)))
        return self.head(h)


class ResidualMLP(PlainMLP):
    """An input projection ``Linear(in, hidden) -> act``, then ``num_layers - 1`` residual layers
    ``h = h + act(Linear(h))``, then a linear head: ``PlainMLP``'s parameters, rewired."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.layers[0](x)))
        for layer in self.layers[1:]:
            h = h + self.drop(self.act(layer(h)))
        return self.head(h)


class DenseMLP(_MLP):
    """A dense block for vectors: layer i reads the input and all earlier outputs concatenated
    (``in_features + (i-1) * growth``) and adds ``growth`` units (the growth rate k); the head
    reads all ``in_features + num_layers * growth``. ``activation``: "relu", "tanh" or "gelu"."""

    def __init__(self, in_features: int, growth: int, num_layers: int, out_features: int,
                 activation: str = "relu", dropout: float = 0.0):
        _check_mlp_args(in_features, growth, num_layers, out_features, activation, dropout,
                        width_name="growth")
        shapes = [(in_features + i * growth, growth) for i in range(num_layers)]
        features = in_features + num_layers * growth
        super().__init__(shapes, features, out_features, activation, dropout)
        self.growth, self.num_features = growth, features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        features = [x]
        for layer in self.layers:
            features.append(self.drop(self.act(layer(torch.cat(features, 1)))))
        return self.head(torch.cat(features, 1))


def _check_mlp_args(in_features, width, num_layers, out_features, activation, dropout,
                    width_name: str) -> None:
    validate.check_ints(in_features=in_features, **{width_name: width}, num_layers=num_layers,
                        out_features=out_features)
    validate.check_choice("activation", activation, tuple(ACTIVATIONS))
    validate.check_number("dropout", dropout, 0.0, 1.0, high_open=True)
