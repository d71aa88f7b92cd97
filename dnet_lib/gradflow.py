"""Gradient flow through plain, residual and dense stacks (``models.DeepConvNet``) of one depth:
``|d loss / d W|`` per layer, and ``|d loss / d o_l|`` per unit output, optionally only along
the path from ``o_l`` straight to the head (Huang et al.'s implicit deep supervision: a
DenseNet's classifier reads every layer; a plain net's head only the last)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import DeepConvNet

__all__ = ["build_nets", "layer_gradient_norms", "feature_gradient_norms"]


def build_nets(depth: int, width: int = 16, batch_norm: bool = False, init: str = "default",
               seed: int = 0) -> dict[str, DeepConvNet]:
    """The three wirings at one depth (1-channel images, 10 classes), each seeded by ``seed``."""
    nets = {}
    for kind in DeepConvNet.KINDS:
        torch.manual_seed(seed)
        nets[kind] = DeepConvNet(kind, depth, width, batch_norm=batch_norm, init=init)
    return nets


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """L2 norm of ``d loss / d weight`` per Conv2d and Linear, in registration order (for our
    nets: input to output); ``.grad`` untouched."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError(f"model must hold a Conv2d or Linear, got {type(model).__name__}")
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), [layer.weight for layer in layers])
    return [g.norm().item() for g in grads]


def feature_gradient_norms(model: DeepConvNet, x: torch.Tensor, y: torch.Tensor,
                           direct_only: bool = False) -> list[float]:
    """L2 norm of ``d loss / d o_l`` per unit output of a ``DeepConvNet``; ``direct_only``: only
    the gradient straight from the head (the forward values, and the loss, are unchanged)."""
    if not isinstance(model, DeepConvNet):
        raise ValueError(f"model must be a DeepConvNet, got {type(model).__name__}")
    outputs: list[torch.Tensor] = []
    loss = F.cross_entropy(model(x, detach_unit_inputs=direct_only, unit_outputs=outputs), y)
    grads = torch.autograd.grad(loss, outputs, allow_unused=True)
    return [0.0 if g is None else g.norm().item() for g in grads]
