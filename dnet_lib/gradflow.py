"""Gradient flow at initialisation: plain, residual and dense stacks of the same depth.

``models.DeepConvNet(kind, depth)`` builds three nets from one unit ``u(h) =
conv3x3(relu([bn](h)))``, wired plain (``h = u(h)``), residual (``h = h + u(h)``) or dense
(``h = cat(h, u(h))``), with the same number of convolutions between input and classifier.

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

from .models import DeepConvNet

__all__ = ["build_nets", "layer_gradient_norms", "feature_gradient_norms",
           "plot_gradient_norms"]


def build_nets(depth: int, width: int = 16, growth_rate: int | None = None, in_channels: int = 1,
               num_classes: int = 10, batch_norm: bool = False, init: str = "default",
               seed: int = 0) -> dict[str, DeepConvNet]:
    """The three wirings at the same depth, each initialised from ``seed``."""
    nets = {}
    for kind in DeepConvNet.KINDS:
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
