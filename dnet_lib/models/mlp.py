"""Fully connected networks for vectors: plain, residual and dense (``dnet_lib.toy`` trains them).

* ``PlainMLP``    -- ``Linear -> act`` repeated; each layer sees only the previous one.
* ``ResidualMLP`` -- an input projection, then ``h = h + act(Linear(h))``: the same parameters
  as ``PlainMLP`` with the same width, by construction.
* ``DenseMLP``    -- layer i reads the concatenation of the input and every earlier layer's
  ``growth`` outputs (a dense block for vectors); the head reads all of them.
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
    """``num_layers`` hidden layers of ``hidden`` units: Linear -> act (-> dropout), then a linear head."""

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
    ``h = h + act(Linear(h))``, then a linear head. Same parameters as ``PlainMLP`` of equal width."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.layers[0](x)))
        for layer in self.layers[1:]:
            h = h + self.drop(self.act(layer(h)))
        return self.head(h)


class DenseMLP(_MLP):
    """A dense block for vectors: layer i maps ``in_features + (i-1) * growth`` inputs (the input
    and all earlier outputs, concatenated) to ``growth`` outputs; the head reads all
    ``in_features + num_layers * growth`` features.

    Args:
        in_features: input width (2 for the toy problem, the feature count for tabular data).
        growth: units each layer adds (the growth rate k).
        num_layers: hidden layers.
        out_features: outputs (classes, or 1 for regression).
        activation: "relu", "tanh" or "gelu".
        dropout: dropout probability after each layer's activation.
    """

    def __init__(self, in_features: int, growth: int, num_layers: int, out_features: int,
                 activation: str = "relu", dropout: float = 0.0):
        _check_mlp_args(in_features, growth, num_layers, out_features, activation, dropout,
                        width_name="growth")
        shapes = [(in_features + i * growth, growth) for i in range(num_layers)]
        super().__init__(shapes, in_features + num_layers * growth, out_features, activation, dropout)
        self.growth, self.num_features = growth, in_features + num_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}), got {tuple(x.shape)}")
        features = [x]
        for layer in self.layers:
            features.append(self.drop(self.act(layer(torch.cat(features, 1)))))
        return self.head(torch.cat(features, 1))


def _check_mlp_args(in_features, width, num_layers, out_features, activation, dropout,
                    width_name: str) -> None:
    for name, value in (("in_features", in_features), (width_name, width),
                        ("num_layers", num_layers), ("out_features", out_features)):
        validate.check_int(name, value, 1)
    validate.check_choice("activation", activation, tuple(ACTIVATIONS))
    validate.check_number("dropout", dropout, 0.0, 1.0, high_open=True)
