"""What several networks share: input checks, size arithmetic, weight initialisation."""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import validate


def check_input(x: torch.Tensor, in_channels: int, min_size: int, model: str) -> None:
    """A clear error for a batch a model or block cannot read (shape, channels, too small)."""
    if x.dim() != 4:
        raise ValueError(f"input must be a 4-D tensor (batch, channels, height, width), "
                         f"got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"input has {x.shape[1]} channels but {model} was built with "
                         f"in_channels={in_channels}")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"input height and width must be >= {min_size} for this {model} "
                         f"(stem and downsampling), got {tuple(x.shape[-2:])}")


def min_input_size(size_after) -> int:
    """Smallest side length (below 4096) for which ``size_after(side)`` stays positive."""
    for side in range(1, 4096):
        if size_after(side) >= 1:
            return side
    raise ValueError("model downsamples too much for any input below 4096 pixels")


def transition_channels(m: int, compression: float) -> int:
    """Channels a transition emits after a block of ``m`` channels: floor(θ·m) (paper, Sec. 3)."""
    validate.check_int("m", m, 1)
    validate.check_compression(compression)
    out = math.floor(compression * m)
    if out < 1:
        raise ValueError(f"compression={compression} leaves no channels from m={m}; "
                         f"need compression >= 1/m")
    return out


def init_weights(model: nn.Module, mode: str = "fan_in", zero_linear_bias: bool = True) -> None:
    """He-normal convolutions (``mode`` fan_in: DenseNet's, fan_out: ResNet's), zero conv
    biases, BatchNorm at identity; torchvision's DenseNet also zeroes the classifier's bias."""
    if any(p.is_meta for p in model.parameters()):
        return      # shapes only: nothing to fill, and filling meta tensors imports torch._dynamo
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and zero_linear_bias:
            nn.init.zeros_(m.bias)
