"""``DeepConvNet``: one conv unit ``u(h) = conv3x3(relu([bn](h)))`` stacked ``depth`` times,
wired ``"plain"`` (``h = u(h)``), ``"residual"`` (``h = h + u(h)``, pre-activation) or
``"dense"`` (``h = cat(h, u(h))``) between a 3x3 stem conv and a relu-pool-linear head: as many
convolutions each (``dnet_lib.gradflow`` measures how gradients flow through them)."""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ._common import check_input, init_weights

__all__ = ["DeepConvNet"]


class DeepConvNet(nn.Module):
    """``depth`` conv units wired as ``kind``, ``width`` channels (a dense unit adds ``width``);
    ``batch_norm``: a BN before each ReLU; ``init``: "default" (PyTorch's, variance 1/(3 fan_in))
    or "kaiming" (2/fan_in, which keeps a plain ReLU stack's signal scale)."""
    KINDS = ("plain", "residual", "dense")
    INITS = ("default", "kaiming")

    def __init__(self, kind: str, depth: int, width: int = 16, in_channels: int = 1,
                 num_classes: int = 10, batch_norm: bool = False, init: str = "default"):
        super().__init__()
        validate.check_choice("kind", kind, self.KINDS)
        validate.check_choice("init", init, self.INITS)
        validate.check_ints(depth=depth, width=width, in_channels=in_channels,
                            num_classes=num_classes)
        self.kind, self.depth, self.width = kind, depth, width
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        step = width if kind == "dense" else 0
        self.units = nn.ModuleList(nn.Sequential(OrderedDict(
            norm=nn.BatchNorm2d(width + i * step) if batch_norm else nn.Identity(), relu=nn.ReLU(),
            conv=nn.Conv2d(width + i * step, width, 3, padding=1))) for i in range(depth))
        self.num_features = width + depth * step
        self.head = nn.Linear(self.num_features, num_classes)
        if init == "kaiming":
            init_weights(self, zero_linear_bias=False)

    def forward(self, x: torch.Tensor, detach_unit_inputs: bool = False,
                unit_outputs: list | None = None) -> torch.Tensor:
        """The logits. ``unit_outputs``: a list that receives each unit's output (for gradients);
        ``detach_unit_inputs``: cut every path into a unit, leaving the direct paths to the head."""
        check_input(x, self.stem.in_channels, 1, "DeepConvNet")
        h = self.stem(x)
        for unit in self.units:
            out = unit(h.detach() if detach_unit_inputs else h)
            if unit_outputs is not None:
                out.retain_grad()
                unit_outputs.append(out)
            if self.kind == "dense":
                h = torch.cat([h, out], 1)
            else:
                h = out if self.kind == "plain" else h + out
        return self.head(torch.flatten(F.adaptive_avg_pool2d(F.relu(h), 1), 1))
