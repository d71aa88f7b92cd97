"""A small Dual Path Network (Chen et al., 2017): addition *and* concatenation in one block.
Each layer emits R + k channels: R added to the residual path, k appended to the dense path
(no grouped convolutions, so the split output is the only new idea)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ._common import check_input, init_weights, min_input_size, transition_channels
from .densenet import Transition
from .stem import CIFAR_STEM, Stem, check_stem

__all__ = ["DualPathLayer", "DualPathBlock", "DualPathNet"]


class DualPathLayer(nn.Module):
    """BN-ReLU-1x1(-> bn_size*k)-BN-ReLU-3x3(-> R+k) on ``[residual, dense]``; returns the
    residual increment (R channels) and the new dense maps (k channels)."""

    def __init__(self, residual_channels: int, dense_channels: int, growth_rate: int,
                 bn_size: int = 4):
        super().__init__()
        validate.check_ints(residual_channels=residual_channels, growth_rate=growth_rate,
                            bn_size=bn_size)
        validate.check_int("dense_channels", dense_channels, 0)    # the dense path may be empty
        self.residual_channels, self.growth_rate = residual_channels, growth_rate
        in_channels = residual_channels + dense_channels
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, residual_channels + growth_rate, 3, padding=1, bias=False)

    def forward(self, residual: torch.Tensor, dense: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = residual if dense is None else torch.cat([residual, dense], 1)
        out = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        return out[:, :self.residual_channels], out[:, self.residual_channels:]


class DualPathBlock(nn.Module):
    """``num_layers`` dual-path layers; the input's first ``residual_channels`` channels start
    the residual path, the rest (maybe none) the dense path; returns ``[residual, dense]``."""

    def __init__(self, num_layers: int, residual_channels: int, growth_rate: int,
                 dense_channels: int = 0, bn_size: int = 4):
        super().__init__()
        validate.check_int("num_layers", num_layers, 1)    # the layers check the widths
        self.num_layers, self.residual_channels = num_layers, residual_channels
        self.growth_rate, self.dense_channels = growth_rate, dense_channels
        self.in_channels = residual_channels + dense_channels
        self.out_channels = self.in_channels + num_layers * growth_rate
        self.layers = nn.ModuleList(
            DualPathLayer(residual_channels, dense_channels + i * growth_rate, growth_rate, bn_size)
            for i in range(num_layers))

    def paths(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """``(residual, dense)`` before the first layer and after each layer (for inspection)."""
        check_input(x, self.in_channels, 1, "DualPathBlock")
        residual = x[:, :self.residual_channels]
        dense = x[:, self.residual_channels:] if self.dense_channels else None
        states = [(residual, dense)]
        for layer in self.layers:
            increment, new = layer(residual, dense)
            residual = residual + increment
            dense = new if dense is None else torch.cat([dense, new], 1)
            states.append((residual, dense))
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual, dense = self.paths(x)[-1]
        return torch.cat([residual, dense], 1)


class DualPathNet(nn.Module):
    """A small DPN for 28-32 px images: stem, dual-path blocks, transitions, BN-ReLU-pool-linear;
    transitions keep floor(θ · dense channels) dense maps plus the next block's residual width."""

    def __init__(self, residual_channels: Sequence[int] = (32, 64, 128), growth_rate: int = 8,
                 block_config: Sequence[int] = (3, 3, 3), bn_size: int = 4,
                 compression: float = 0.5, in_channels: int = 1, num_classes: int = 10,
                 stem: Stem = CIFAR_STEM):
        super().__init__()
        block_config = validate.check_block_config(block_config)
        residual_channels = validate.check_block_config(residual_channels, "residual_channels",
                                                        len(block_config))
        validate.check_ints(growth_rate=growth_rate, in_channels=in_channels,
                            num_classes=num_classes)
        validate.check_compression(compression)
        self.in_channels = in_channels
        self.stem_spec = check_stem(stem)
        self.stem = nn.Sequential(OrderedDict(self.stem_spec.layers(in_channels,
                                                                    residual_channels[0])))
        self.blocks, self.transitions, dense = nn.ModuleList(), nn.ModuleList(), 0
        for i, (num_layers, width) in enumerate(zip(block_config, residual_channels)):
            block = DualPathBlock(num_layers, width, growth_rate, dense, bn_size)
            self.blocks.append(block)
            if i + 1 < len(block_config):
                dense = transition_channels(dense + num_layers * growth_rate, compression)
                self.transitions.append(Transition(block.out_channels,
                                                   residual_channels[i + 1] + dense))
        self.num_features = block.out_channels
        self.norm = nn.BatchNorm2d(self.num_features)
        self.classifier = nn.Linear(self.num_features, num_classes)
        self.min_input_size = min_input_size(self.feature_size)
        init_weights(self)

    def feature_size(self, size: int) -> int:
        """Side length of the last block's maps for an input of side ``size`` (0: too small)."""
        return self.stem_spec.out_size(size) // 2 ** len(self.transitions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.min_input_size, "DualPathNet")
        x = self.blocks[0](self.stem(x))
        for transition, block in zip(self.transitions, self.blocks[1:]):
            x = block(transition(x))
        x = F.relu(self.norm(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

