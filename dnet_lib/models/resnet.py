"""ResNet (He et al., 2016) with torchvision's module names, so its weights load strictly:
``BasicBlock``, ``Bottleneck``, ``ResNet`` (stem, stages of blocks, pool-linear head)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import validate
from ._common import check_input, init_weights, min_input_size
from .stem import CIFAR_STEM_BN, IMAGENET_STEM, Stem, check_stem

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50",
           "resnet_cifar", "d2l_resnet18"]


def _shortcut(in_channels: int, out_channels: int, stride: int, norm: bool, bias: bool):
    if stride == 1 and in_channels == out_channels:
        return None
    layers = [nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convs; output = relu(F(x) + x), with a 1x1 projection when shapes change."""
    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1, conv_bias: bool = False,
                 shortcut_norm: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=stride, padding=1, bias=conv_bias)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=conv_bias)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _shortcut(in_channels, width, stride, shortcut_norm, conv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4); stride on the 3x3 as torchvision (ResNet v1.5)."""
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, conv_bias: bool = False,
                 shortcut_norm: bool = True):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=conv_bias)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=conv_bias)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=conv_bias)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, out_channels, stride, shortcut_norm, conv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """``layers`` blocks per stage of base width ``widths``, stride 2 opening each later stage;
    ``conv_bias``, ``shortcut_norm=False``: d2l's (biased convs, BN-free shortcuts)."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck] = BasicBlock,
                 layers: Sequence[int] = (2, 2, 2, 2), widths: Sequence[int] = (64, 128, 256, 512),
                 num_classes: int = 1000, in_channels: int = 3, stem: Stem = IMAGENET_STEM,
                 conv_bias: bool = False, shortcut_norm: bool = True):
        super().__init__()
        layers = validate.check_block_config(layers)
        widths = validate.check_block_config(widths, "widths", len(layers))
        validate.check_ints(num_classes=num_classes, in_channels=in_channels)
        self.stem_spec = check_stem(stem)
        self.in_channels, self.layers_config = in_channels, layers
        channels = widths[0]
        stem_layers = dict(self.stem_spec.layers(in_channels, channels, conv_bias))
        self.conv1 = stem_layers["conv0"]
        self.bn1 = stem_layers.get("norm0", nn.Identity())
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = stem_layers.get("pool0", nn.Identity())
        for i, (num_blocks, width) in enumerate(zip(layers, widths)):
            stage = [block(channels, width, 2 if i else 1, conv_bias, shortcut_norm)]
            channels = width * block.expansion
            stage += [block(channels, width, 1, conv_bias, shortcut_norm)
                      for _ in range(num_blocks - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.num_features = channels
        self.min_input_size = min_input_size(self.feature_size)
        init_weights(self, mode="fan_out", zero_linear_bias=False)   # torchvision's ResNet init

    def feature_size(self, size: int) -> int:
        """Side length of the last stage's maps for an input of side ``size`` (0: too small)."""
        # each later stage opens with a stride-2 3x3 conv, padding 1: ceil(size / 2)
        return -(-self.stem_spec.out_size(size) // 2 ** (len(self.layers_config) - 1))

    def stages(self) -> list[nn.Sequential]:
        """``layer1``, ``layer2``, ...: the stages, in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.layers_config))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.min_input_size, "ResNet")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _preset(name: str, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...]):
    def factory(**kwargs) -> ResNet:
        return ResNet(block, layers, **kwargs)
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"A ResNet-{name[6:]} ({block.__name__}s {'/'.join(map(str, layers))}); "
                       "``kwargs``: ResNet's other arguments.")
    return factory


resnet18 = _preset("resnet18", BasicBlock, (2, 2, 2, 2))
resnet34 = _preset("resnet34", BasicBlock, (3, 4, 6, 3))
resnet50 = _preset("resnet50", Bottleneck, (3, 4, 6, 3))


def resnet_cifar(depth: int = 56, num_classes: int = 10, **kwargs) -> ResNet:
    """He et al.'s CIFAR ResNets (depth = 6n + 2, widths 16/32/64; 1x1 projections: option B)."""
    validate.check_int("depth", depth, 8)
    if (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (e.g. 20, 56, 110), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, (n, n, n), (16, 32, 64), num_classes=num_classes, stem=CIFAR_STEM_BN,
                  **kwargs)


def d2l_resnet18(num_classes: int = 10, in_channels: int = 1, **kwargs) -> ResNet:
    """d2l's ResNet-18: biased convolutions, projection shortcuts without BN (11,178,378 params)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, in_channels=in_channels,
                  conv_bias=True, shortcut_norm=False, **kwargs)
