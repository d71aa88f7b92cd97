"""Gradient flow at initialisation: plain, residual and dense stacks of the same depth.

``DeepConvNet(kind, depth)`` builds three nets from one unit, ``u(h) = conv3x3(relu([bn](h)))``:

* ``"plain"``:    ``h = u(h)``                       (each layer sees only its predecessor)
* ``"residual"``: ``h = h + u(h)``                   (pre-activation ResNet, one conv per unit)
* ``"dense"``:    ``h = cat(h, u(h))``               (DenseNet: each unit adds ``growth_rate`` maps)

Each has a 3x3 stem conv, ``depth`` units and a head ``relu -> global average pool -> linear``,
so the three have the same number of convolutions between input and classifier.

What is measured:

* ``layer_gradient_norms`` -- the L2 norm of ``d loss / d W`` for each layer's weight, by autograd,
  for one batch. The usual "vanishing gradient" picture.
* ``feature_gradient_norms`` -- the L2 norm of ``d loss / d o_l`` for each unit's output ``o_l``.
  With ``direct_only=True`` the unit inputs are detached, so the only path left from the loss to
  ``o_l`` is the one that goes *straight to the head* without passing through a later unit. That
  direct part is what Huang et al. call implicit deep supervision: in a DenseNet the classifier
  reads every layer's maps through its own weights, so each layer gets a gradient one linear map
  away from the loss. (In a residual net the final sum also reaches every unit directly, but all
  units receive the *same* signal, ``d loss / d h_final``; in a plain net only the last unit has a
  direct path.)
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KINDS", "INITS", "DeepConvNet", "build_nets", "layer_gradient_norms",
           "feature_gradient_norms", "plot_gradient_norms"]

KINDS = ("plain", "residual", "dense")
INITS = ("default", "kaiming")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


class _Unit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels) if batch_norm else nn.Identity()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(F.relu(self.norm(h)))


class DeepConvNet(nn.Module):
    """A stack of ``depth`` identical conv units wired as ``kind`` (see the module docstring).

    Args:
        kind: "plain", "residual" or "dense".
        depth: number of units (3x3 convs) between stem and head.
        width: channels of the plain/residual path, and of the dense stem.
        growth_rate: channels each dense unit adds (default: ``width``); ignored otherwise.
        batch_norm: put a BatchNorm in front of each unit's ReLU.
        init: "default" (PyTorch's conv init, weight variance 1/(3 fan_in)) or "kaiming"
            (He et al.'s variance 2/fan_in, which keeps a plain ReLU stack's signal scale).
    """

    def __init__(self, kind: str, depth: int, width: int = 16, growth_rate: int | None = None,
                 in_channels: int = 1, num_classes: int = 10, batch_norm: bool = False,
                 init: str = "default"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for name, value in (("depth", depth), ("width", width), ("in_channels", in_channels),
                            ("num_classes", num_classes)):
            _check_positive_int(name, value)
        growth_rate = width if growth_rate is None else growth_rate
        _check_positive_int("growth_rate", growth_rate)
        self.kind, self.depth, self.width, self.growth_rate = kind, depth, width, growth_rate
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        units, channels = [], width
        for _ in range(depth):
            if kind == "dense":
                units.append(_Unit(channels, growth_rate, batch_norm))
                channels += growth_rate
            else:
                units.append(_Unit(channels, width, batch_norm))
        self.units = nn.ModuleList(units)
        self.num_features = channels
        self.head = nn.Linear(channels, num_classes)
        if init == "kaiming":
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)

    def gradient_layers(self) -> list[nn.Module]:
        """The layers ``layer_gradient_norms`` reports, input to output: stem, units, head."""
        return [self.stem, *[u.conv for u in self.units], self.head]

    def forward(self, x: torch.Tensor, detach_unit_inputs: bool = False,
                unit_outputs: list | None = None) -> torch.Tensor:
        """``unit_outputs``: a list that receives each unit's output ``o_l`` (for gradients).
        ``detach_unit_inputs``: cut every path into a unit, leaving only the direct paths to the head."""
        if x.dim() != 4:
            raise ValueError(f"x must be a 4-D tensor (batch, channels, height, width), got {tuple(x.shape)}")
        h = self.stem(x)
        features = [h]
        for unit in self.units:
            inp = torch.cat(features, 1) if self.kind == "dense" else h
            out = unit(inp.detach() if detach_unit_inputs else inp)
            if unit_outputs is not None:
                out.retain_grad()
                unit_outputs.append(out)
            if self.kind == "plain":
                h = out
            elif self.kind == "residual":
                h = h + out
            else:
                features.append(out)
        if self.kind == "dense":
            h = torch.cat(features, 1)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(F.relu(h), 1), 1))


def build_nets(depth: int, width: int = 16, growth_rate: int | None = None, in_channels: int = 1,
               num_classes: int = 10, batch_norm: bool = False, init: str = "default",
               seed: int = 0) -> dict[str, DeepConvNet]:
    """The three wirings at the same depth, each initialised from ``seed``."""
    nets = {}
    for kind in KINDS:
        torch.manual_seed(seed)
        nets[kind] = DeepConvNet(kind, depth, width, growth_rate, in_channels, num_classes,
                                 batch_norm, init)
    return nets


def _default_layers(model: nn.Module) -> list[nn.Module]:
    if hasattr(model, "gradient_layers"):
        return list(model.gradient_layers())
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                         layers: Sequence[nn.Module] | None = None,
                         loss_fn: Callable = F.cross_entropy) -> list[float]:
    """L2 norm of ``d loss / d weight`` for each layer, in order (input to output).

    ``layers`` defaults to ``model.gradient_layers()`` or else every Conv2d/Linear in registration
    order (that works for the DenseNet and ResNet of ``dnet_lib.models``). The model's existing
    ``.grad`` fields are left untouched: the gradients come from ``torch.autograd.grad``.
    """
    layers = _default_layers(model) if layers is None else list(layers)
    if not layers:
        raise ValueError("layers must name at least one module with a weight")
    weights = [layer.weight for layer in layers]
    loss = loss_fn(model(x), y)
    grads = torch.autograd.grad(loss, weights)
    return [g.norm().item() for g in grads]


def feature_gradient_norms(model: DeepConvNet, x: torch.Tensor, y: torch.Tensor,
                           direct_only: bool = False,
                           loss_fn: Callable = F.cross_entropy) -> list[float]:
    """L2 norm of ``d loss / d o_l`` for each unit output ``o_l`` of a ``DeepConvNet``.

    ``direct_only=True`` keeps only the gradient that reaches ``o_l`` straight from the head
    (see the module docstring); the forward values, and so the loss, are unchanged.
    """
    if not isinstance(model, DeepConvNet):
        raise ValueError(f"model must be a DeepConvNet, got {type(model).__name__}")
    outputs: list[torch.Tensor] = []
    loss = loss_fn(model(x, detach_unit_inputs=direct_only, unit_outputs=outputs), y)
    grads = torch.autograd.grad(loss, outputs, allow_unused=True)
    return [0.0 if g is None else g.norm().item() for g in grads]


def plot_gradient_norms(norms: dict[str, Sequence[float]], ax=None, ylabel: str = "gradient norm",
                        title: str | None = None):
    """Log-scale line plot of one norm sequence per net. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for name, values in norms.items():
        values = [v if v > 0 else float("nan") for v in values]
        ax.semilogy(range(1, len(values) + 1), values, marker=".", label=name)
    ax.set_xlabel("layer (input to output)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
