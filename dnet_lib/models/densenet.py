"""DenseNet (Huang et al., 2017) with torchvision's module names, so its weights load strictly.

* ``DenseLayer``  -- BN-ReLU-3x3 conv, or the bottleneck BN-ReLU-1x1-BN-ReLU-3x3.
* ``DenseBlock``  -- layers whose inputs are the concatenation of all earlier outputs.
* ``Transition``  -- BN-ReLU-1x1 conv to floor(compression * m) channels, 2x2 pool.
* ``DenseNet``    -- stem + blocks + transitions + BN-ReLU-global pool-linear head.

Argument checks live in the ``_check_*`` functions at the bottom, out of the reader's way.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from . import batchstats
from .recompute import bn_relu_conv_recomputed
from .stem import STEM_NAMES, Stem, resolve_stem

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121", "densenet161",
           "densenet169", "densenet201", "densenet264", "densenet_cifar", "d2l_densenet",
           "torchvision_densenet_cifar"]


class DenseLayer(nn.Module):
    """One composite function H_l: reads all earlier feature maps, returns ``growth_rate`` new ones.

    Plain (DenseNet):        norm1-relu1-conv1(3x3 -> k)
    Bottleneck (DenseNet-B): norm1-relu1-conv1(1x1 -> bn_size*k)-norm2-relu2-conv2(3x3 -> k)
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool = True, bn_size: int = 4,
                 drop_rate: float = 0.0, memory_efficient: bool = False, conv_bias: bool = False):
        super().__init__()
        _check_layer_args(in_channels, growth_rate, bn_size, drop_rate)
        self.in_channels, self.growth_rate, self.bottleneck = in_channels, growth_rate, bottleneck
        self.drop_rate, self.memory_efficient = float(drop_rate), memory_efficient
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
        if self.memory_efficient and torch.is_grad_enabled():
            out = self.forward_recomputing(features)
        else:
            out = self.conv1(self.relu1(self._norm_concat(features)))
            if self.bottleneck:
                out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out

    def _norm_concat(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """``norm1(cat(features))``; on a CPU in training, each map's batch statistics are
        computed once for all the layers that read it (``batchstats``), same result."""
        if batchstats.applies(self.norm1, features[0]):
            return batchstats.batch_norm_concat(features, self.norm1)
        return self.norm1(torch.cat(features, 1))

    def forward_recomputing(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The same output, storing only each convolution's input *before* its BN-ReLU: the
        k-channel ``features`` (kept anyway) and the bottleneck's output. Backward recomputes the
        concatenation and the BN-ReLUs, which are cheap; no convolution runs twice."""
        out = bn_relu_conv_recomputed(features, self.norm1, self.conv1)
        if self.bottleneck:
            out = bn_relu_conv_recomputed([out], self.norm2, self.conv2)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; output = concatenation of the input and every layer's output."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool = True,
                 bn_size: int = 4, drop_rate: float = 0.0, memory_efficient: bool = False,
                 conv_bias: bool = False):
        super().__init__()
        validate.check_int("num_layers", num_layers, 1)
        self.in_channels, self.growth_rate, self.num_layers = in_channels, growth_rate, num_layers
        self.out_channels = in_channels + num_layers * growth_rate
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(
                in_channels + i * growth_rate, growth_rate, bottleneck, bn_size, drop_rate,
                memory_efficient, conv_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input_shape(x, self.in_channels)
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)   # one concatenation at the end, as torchvision does


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``out_channels`` then 2x2 pooling (average, or max for the exercise)."""

    def __init__(self, in_channels: int, out_channels: int, conv_bias: bool = False,
                 drop_rate: float = 0.0, pool: str = "avg"):
        _check_transition_args(in_channels, out_channels, pool)
        layers = [("norm", nn.BatchNorm2d(in_channels)), ("relu", nn.ReLU(inplace=True)),
                  ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=conv_bias))]
        if drop_rate > 0:
            layers.append(("drop", nn.Dropout(drop_rate)))
        layers.append(("pool", nn.AvgPool2d(2, 2) if pool == "avg" else nn.MaxPool2d(2, 2)))
        super().__init__(OrderedDict(layers))
        self.in_channels, self.out_channels = in_channels, out_channels


class DenseNet(nn.Module):
    """DenseNet (Huang et al., 2017) with all its variants.

    Args:
        growth_rate: k, channels each dense layer adds.
        block_config: layers per dense block, e.g. (6, 12, 24, 16) for DenseNet-121.
        num_init_features: channels after the stem.
        bottleneck: use the 1x1 bottleneck (DenseNet-B) of width ``bn_size * growth_rate``.
        compression: theta in (0, 1]; transitions emit floor(theta * m) channels (DenseNet-C if < 1).
        drop_rate: dropout after each dense layer (and transition conv).
        stem: "imagenet" (7x7/2 conv, BN-ReLU, 3x3/2 max pool), "cifar" (one 3x3 conv), "d2l"
            (the imagenet stem with biased convolutions, as d2l builds it) or a ``Stem(...)``.
        memory_efficient: recompute concatenations and their BN-ReLU in backward instead of
            storing them.
        conv_bias: give every convolution a bias (default: only with the "d2l" stem).
        transition_pool: "avg" (the paper) or "max" (for the d2l exercise).
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                 compression: float = 0.5, drop_rate: float = 0.0, num_classes: int = 1000,
                 in_channels: int = 3, stem: str | Stem = "imagenet", memory_efficient: bool = False,
                 conv_bias: bool | None = None, transition_pool: str = "avg"):
        super().__init__()
        block_config = _check_densenet_args(growth_rate, block_config, num_init_features,
                                            compression, num_classes, in_channels)
        if conv_bias is None:
            conv_bias = stem == "d2l"
        self.stem_spec = resolve_stem(stem)
        self.growth_rate, self.block_config, self.compression = growth_rate, block_config, compression
        self.bottleneck, self.in_channels = bottleneck, in_channels

        self.features = nn.Sequential(OrderedDict(
            self.stem_spec.layers(in_channels, num_init_features, conv_bias)))
        channels = num_init_features
        self.stage_channels = [channels]     # channels entering each block, then the head
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bottleneck, bn_size, drop_rate,
                               memory_efficient, conv_bias)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                out = _transition_channels(channels, compression)
                self.features.add_module(f"transition{i + 1}", Transition(
                    channels, out, conv_bias, drop_rate, transition_pool))
                channels = out
            self.stage_channels.append(channels)
        self.features.add_module("norm5", nn.BatchNorm2d(channels))   # torchvision's name, any depth
        self.num_features = channels
        self.classifier = nn.Linear(channels, num_classes)
        self.min_input_size = _min_input_size(self.feature_size)
        _init_weights(self)

    @property
    def stem(self) -> nn.Sequential:
        """The layers before the first dense block (the same modules, as one Sequential)."""
        return nn.Sequential(OrderedDict((name, module) for name, module in self.features.named_children()
                                         if name in STEM_NAMES))

    def feature_size(self, size: int) -> int:
        """Side length of the final feature map for an input of side ``size``."""
        return _pooled_size(self.stem_spec, len(self.block_config) - 1, size)

    def dense_blocks(self) -> list[DenseBlock]:
        return [m for m in self.features if isinstance(m, DenseBlock)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_channels, self.min_input_size, "DenseNet")
        x = F.relu(self.features(x), inplace=True)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------- factories
def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121 (paper Table 1): k=32, blocks 6/12/24/16."""
    return DenseNet(32, (6, 12, 24, 16), 64, **kwargs)


def densenet161(**kwargs) -> DenseNet:
    """DenseNet-161: k=48, blocks 6/12/36/24, 96 stem channels."""
    return DenseNet(48, (6, 12, 36, 24), 96, **kwargs)


def densenet169(**kwargs) -> DenseNet:
    """DenseNet-169 (paper Table 1): k=32, blocks 6/12/32/32."""
    return DenseNet(32, (6, 12, 32, 32), 64, **kwargs)


def densenet201(**kwargs) -> DenseNet:
    """DenseNet-201 (paper Table 1): k=32, blocks 6/12/48/32."""
    return DenseNet(32, (6, 12, 48, 32), 64, **kwargs)


def densenet264(**kwargs) -> DenseNet:
    """DenseNet-264 (paper Table 1): k=32, blocks 6/12/64/48."""
    return DenseNet(32, (6, 12, 64, 48), 64, **kwargs)


def densenet_cifar(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                   compression: float = 0.5, num_classes: int = 10, **kwargs) -> DenseNet:
    """The paper's CIFAR DenseNets (Table 2): three equal blocks, 3x3 stem.

    depth L counts the stem conv, the two transitions and the classifier, plus every conv in the
    blocks: (L - 4) / 3 layers per block, or (L - 4) / 6 with bottlenecks (two convs per layer).
    The stem has 2k channels for DenseNet-BC and 16 otherwise.
    """
    n = _cifar_layers_per_block(depth, bottleneck)
    kwargs.setdefault("num_init_features", 2 * growth_rate if bottleneck and compression < 1 else 16)
    return DenseNet(growth_rate=growth_rate, block_config=(n, n, n), bottleneck=bottleneck,
                    compression=compression, num_classes=num_classes, stem="cifar", **kwargs)


def d2l_densenet(num_classes: int = 10, in_channels: int = 1, **kwargs) -> DenseNet:
    """The d2l section's DenseNet: 64-channel stem, k=32, four blocks of 4 plain layers,
    transitions that halve the channels, biased convolutions (758,226 parameters)."""
    kwargs.setdefault("growth_rate", 32)
    kwargs.setdefault("block_config", (4, 4, 4, 4))
    kwargs.setdefault("num_init_features", 64)
    return DenseNet(bottleneck=False, compression=0.5, num_classes=num_classes,
                    in_channels=in_channels, stem="d2l", **kwargs)


def torchvision_densenet_cifar(depth: int = 100, growth_rate: int = 12, num_classes: int = 10,
                               memory_efficient: bool = False) -> nn.Module:
    """torchvision's own ``DenseNet`` class as a CIFAR DenseNet-BC (its real layer code).

    torchvision always builds the ImageNet stem, so ``features.conv0`` becomes a 3x3 convolution
    to 2k channels and ``norm0``/``relu0``/``pool0`` become ``nn.Identity``. Everything else is
    torchvision's, and it loads ``densenet_cifar(depth, growth_rate)``'s state dict strictly.
    """
    import torchvision
    n = _cifar_layers_per_block(depth, bottleneck=True)
    model = torchvision.models.DenseNet(growth_rate=growth_rate, block_config=(n, n, n),
                                        num_init_features=2 * growth_rate, bn_size=4,
                                        num_classes=num_classes, memory_efficient=memory_efficient)
    model.features.conv0 = nn.Conv2d(3, 2 * growth_rate, 3, padding=1, bias=False)
    for name in ("norm0", "relu0", "pool0"):
        setattr(model.features, name, nn.Identity())
    return model


# --------------------------------------------------------------------------- checks and sizes
def _check_layer_args(in_channels, growth_rate, bn_size, drop_rate) -> None:
    validate.check_int("in_channels", in_channels, 1)
    validate.check_int("growth_rate", growth_rate, 1)
    validate.check_int("bn_size", bn_size, 1)
    validate.check_number("drop_rate", drop_rate, 0, 1, high_open=True)


def _check_transition_args(in_channels, out_channels, pool) -> None:
    validate.check_int("in_channels", in_channels, 1)
    validate.check_int("out_channels", out_channels, 1)
    validate.check_choice("pool", pool, ("avg", "max"))


def _check_densenet_args(growth_rate, block_config, num_init_features, compression, num_classes,
                         in_channels) -> tuple[int, ...]:
    """Checks what the layers do not check themselves; returns ``block_config`` as a tuple."""
    validate.check_int("growth_rate", growth_rate, 1)
    validate.check_int("num_init_features", num_init_features, 1)
    validate.check_compression(compression)
    validate.check_int("num_classes", num_classes, 1)
    validate.check_int("in_channels", in_channels, 1)
    return validate.check_block_config(block_config)


def _transition_channels(channels: int, compression: float) -> int:
    from ..arith import transition_channels       # arith is the one home of the floor rule
    return transition_channels(channels, compression)


def _cifar_layers_per_block(depth: int, bottleneck: bool) -> int:
    validate.check_int("depth", depth, 1)
    convs_per_layer = 2 if bottleneck else 1
    if (depth - 4) % (3 * convs_per_layer) or depth <= 4:
        raise ValueError(f"depth must be {3 * convs_per_layer}n + 4 with n >= 1 "
                         f"({'bottleneck' if bottleneck else 'plain'} layers), got {depth}")
    return (depth - 4) // (3 * convs_per_layer)


def _check_input_shape(x: torch.Tensor, channels: int) -> None:
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"input must have shape (batch, {channels}, H, W), got {tuple(x.shape)}")


def _check_input(x: torch.Tensor, in_channels: int, min_size: int, model: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"input must be a 4-D tensor (batch, channels, height, width), "
                         f"got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"input has {x.shape[1]} channels but {model} was built with "
                         f"in_channels={in_channels}")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"input height and width must be >= {min_size} for this {model} "
                         f"(stem and downsampling), got {tuple(x.shape[-2:])}")


def _pooled_size(stem: Stem, transitions: int, size: int) -> int:
    """Side length after ``stem`` and ``transitions`` 2x2 pools (0: the input is too small)."""
    size = stem.out_size(size)
    for _ in range(transitions):
        size //= 2
    return size


def _min_input_size(size_after, limit: int = 4096) -> int:
    """Smallest side length for which ``size_after`` stays positive."""
    for s in range(1, limit):
        if size_after(s) >= 1:
            return s
    raise ValueError("model downsamples too much for any input up to 4096 pixels")
