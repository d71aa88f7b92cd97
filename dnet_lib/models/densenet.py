"""DenseNet (Huang et al., 2017) with torchvision's module names, so its weights load strictly:
``DenseLayer``, ``DenseBlock``, ``Transition``, ``DenseNet`` (built from a ``DenseNetConfig``)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from . import efficient
from ._common import check_input, init_weights, min_input_size, transition_channels
from .config import D2L_DENSENET, DENSENET121, DenseNetConfig, cifar_config

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121", "densenet161",
           "densenet169", "densenet201", "densenet264", "densenet_cifar", "d2l_densenet",
           "torchvision_densenet_cifar"]


class DenseLayer(nn.Module):
    """One composite function H_l: reads all earlier feature maps, returns ``growth_rate`` new ones.

    Plain (DenseNet):        norm1-relu1-conv1(3x3 -> k)
    Bottleneck (DenseNet-B): norm1-relu1-conv1(1x1 -> bn_size*k)-norm2-relu2-conv2(3x3 -> k)
    ``memory_efficient``, ``fast_cpu``: ``models.efficient``'s paths (same result)."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool = True,
                 bn_size: int = 4, drop_rate: float = 0.0, conv_bias: bool = False, *,
                 memory_efficient: bool = False, fast_cpu: bool = False):
        super().__init__()
        validate.check_ints(in_channels=in_channels, growth_rate=growth_rate, bn_size=bn_size)
        validate.check_number("drop_rate", drop_rate, 0, 1, high_open=True)
        self.in_channels, self.growth_rate, self.bottleneck = in_channels, growth_rate, bottleneck
        self.drop_rate = float(drop_rate)
        self.memory_efficient, self.fast_cpu = memory_efficient, fast_cpu
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        if bottleneck:
            width = bn_size * growth_rate
            self.conv1 = nn.Conv2d(in_channels, width, 1, bias=conv_bias)
            self.norm2 = nn.BatchNorm2d(width)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=conv_bias)
        else:
            self.conv1 = nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=conv_bias)

    def forward(self, features: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        if isinstance(features, torch.Tensor):
            features = [features]
        if self.memory_efficient or self.fast_cpu:
            out = efficient.dense_layer_forward(self, features)
        else:
            out = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
            if self.bottleneck:
                out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; output = concatenation of the input and every layer's output."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool = True,
                 bn_size: int = 4, drop_rate: float = 0.0, conv_bias: bool = False, *,
                 memory_efficient: bool = False, fast_cpu: bool = False):
        super().__init__()
        validate.check_int("num_layers", num_layers, 1)
        self.in_channels, self.growth_rate, self.num_layers = in_channels, growth_rate, num_layers
        self.out_channels = in_channels + num_layers * growth_rate
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(
                in_channels + i * growth_rate, growth_rate, bottleneck, bn_size, drop_rate,
                conv_bias, memory_efficient=memory_efficient, fast_cpu=fast_cpu))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, 1, "DenseBlock")
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)   # one concatenation at the end, as torchvision does


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``out_channels`` then 2x2 pooling (average, or max for the exercise)."""

    def __init__(self, in_channels: int, out_channels: int, conv_bias: bool = False,
                 drop_rate: float = 0.0, pool: str = "avg"):
        validate.check_ints(in_channels=in_channels, out_channels=out_channels)
        validate.check_choice("pool", pool, ("avg", "max"))
        layers = [("norm", nn.BatchNorm2d(in_channels)), ("relu", nn.ReLU(inplace=True)),
                  ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=conv_bias))]
        if drop_rate > 0:
            layers.append(("drop", nn.Dropout(drop_rate)))
        layers.append(("pool", nn.AvgPool2d(2, 2) if pool == "avg" else nn.MaxPool2d(2, 2)))
        super().__init__(OrderedDict(layers))
        self.in_channels, self.out_channels = in_channels, out_channels


class DenseNet(nn.Module):
    """DenseNet with all its variants, from a ``DenseNetConfig`` and ``changes`` to its fields;
    ``memory_efficient``, ``fast_cpu``: ``models.efficient``'s paths."""

    def __init__(self, config: DenseNetConfig = DENSENET121, *, memory_efficient: bool = False,
                 fast_cpu: bool = False, **changes):
        super().__init__()
        if not isinstance(config, DenseNetConfig):
            raise ValueError(f"config must be a models.DenseNetConfig, got {config!r}")
        self.config = c = config.replace(**changes) if changes else config
        # the config's fields the chapters and drawings read off the model
        self.growth_rate, self.block_config, self.in_channels = (c.growth_rate, c.block_config,
                                                                  c.in_channels)
        self.features = nn.Sequential(OrderedDict(
            c.stem.layers(c.in_channels, c.num_init_features, c.conv_bias)))
        channels = c.num_init_features
        self.stage_channels = [channels]     # channels entering each block, then the head
        for i, num_layers in enumerate(c.block_config):
            block = DenseBlock(num_layers, channels, c.growth_rate, c.bottleneck, c.bn_size,
                               c.drop_rate, c.conv_bias, memory_efficient=memory_efficient,
                               fast_cpu=fast_cpu)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(c.block_config) - 1:
                out = transition_channels(channels, c.compression)
                self.features.add_module(f"transition{i + 1}", Transition(
                    channels, out, c.conv_bias, c.drop_rate, c.transition_pool))
                channels = out
            self.stage_channels.append(channels)
        self.features.add_module("norm5", nn.BatchNorm2d(channels))   # torchvision's, any depth
        self.num_features = channels
        self.classifier = nn.Linear(channels, c.num_classes)
        self.min_input_size = min_input_size(self.feature_size)
        init_weights(self)

    def feature_size(self, size: int) -> int:
        """Side length of the final feature map for an input of side ``size``."""
        return self.config.stem.out_size(size) // 2 ** (len(self.block_config) - 1)

    def dense_blocks(self) -> list[DenseBlock]:
        """The dense blocks, in order."""
        return [m for m in self.features if isinstance(m, DenseBlock)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.min_input_size, "DenseNet")
        x = F.relu(self.features(x), inplace=True)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


# --------------------------------------------------------------------------- factories
def _preset(name: str, title: str, config: DenseNetConfig = DENSENET121, **changes):
    config = config.replace(**changes)

    def factory(**kwargs) -> DenseNet:
        return DenseNet(config, **kwargs)
    factory.__name__ = factory.__qualname__ = name
    blocks = "/".join(map(str, config.block_config))
    factory.__doc__ = (f"A {title}: k={config.growth_rate}, blocks {blocks}; ``kwargs``: "
                       "changed config fields or DenseNet's flags.")
    return factory


densenet121 = _preset("densenet121", "DenseNet-121 (paper, Table 1)")
densenet161 = _preset("densenet161", "DenseNet-161 (96 stem channels)", growth_rate=48,
                      block_config=(6, 12, 36, 24), num_init_features=96)
densenet169 = _preset("densenet169", "DenseNet-169 (paper, Table 1)", block_config=(6, 12, 32, 32))
densenet201 = _preset("densenet201", "DenseNet-201 (paper, Table 1)", block_config=(6, 12, 48, 32))
densenet264 = _preset("densenet264", "DenseNet-264 (paper, Table 1)", block_config=(6, 12, 64, 48))
d2l_densenet = _preset("d2l_densenet", "d2l's DenseNet (758,226 parameters)", D2L_DENSENET)


def densenet_cifar(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                   compression: float = 0.5, **kwargs) -> DenseNet:
    """The paper's CIFAR DenseNets (Table 2), from ``cifar_config``; ``kwargs``: changed config
    fields or DenseNet's flags."""
    return DenseNet(cifar_config(depth, growth_rate, bottleneck, compression), **kwargs)


def torchvision_densenet_cifar(depth: int = 100, growth_rate: int = 12, num_classes: int = 10,
                               memory_efficient: bool = False) -> nn.Module:
    """torchvision's own ``DenseNet`` as a CIFAR DenseNet-BC (a 3x3 conv stem, the rest of the
    stem ``nn.Identity``): it loads ``densenet_cifar(depth, growth_rate)``'s state dict strictly."""
    import torchvision
    config = cifar_config(depth, growth_rate, num_classes=num_classes)
    model = torchvision.models.DenseNet(growth_rate, config.block_config, config.num_init_features,
                                        num_classes=num_classes, memory_efficient=memory_efficient)
    model.features.conv0 = nn.Conv2d(3, config.num_init_features, 3, padding=1, bias=False)
    for name in ("norm0", "relu0", "pool0"):
        setattr(model.features, name, nn.Identity())
    return model
