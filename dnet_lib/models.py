"""DenseNet and ResNet, small enough to read in one sitting.

Module names follow torchvision (``features.denseblock1.denselayer1.norm1``,
``layer1.0.conv1``...) so torchvision state dicts load with ``strict=True``.

* ``DenseLayer``  -- BN-ReLU-3x3 conv, or the bottleneck BN-ReLU-1x1-BN-ReLU-3x3.
* ``DenseBlock``  -- layers whose inputs are the concatenation of all earlier outputs.
* ``Transition``  -- BN-ReLU-1x1 conv to floor(compression * m) channels, 2x2 avg pool.
* ``DenseNet``    -- stem + blocks + transitions + BN-ReLU-global pool-linear head.
* ``BasicBlock``, ``Bottleneck``, ``ResNet`` -- the residual baselines.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

__all__ = [
    "DenseLayer", "DenseBlock", "Transition", "DenseNet",
    "densenet121", "densenet161", "densenet169", "densenet201", "densenet264",
    "densenet_cifar", "d2l_densenet",
    "BasicBlock", "Bottleneck", "ResNet",
    "resnet18", "resnet34", "resnet50", "resnet_cifar", "d2l_resnet18",
    "STEMS",
]

STEMS = ("imagenet", "cifar", "d2l")


# --------------------------------------------------------------------------- checks
def _check_int(name: str, value, low: int, allowed: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}{allowed or ''}, got {value!r}")


def _check_compression(compression) -> None:
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) \
            or not math.isfinite(compression) or not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1], got {compression!r}")


def _check_drop_rate(drop_rate) -> None:
    if isinstance(drop_rate, bool) or not isinstance(drop_rate, (int, float)) \
            or not 0 <= drop_rate < 1:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")


def _check_block_config(block_config) -> tuple[int, ...]:
    try:
        config = tuple(block_config)
    except TypeError:
        raise ValueError(f"block_config must be a non-empty sequence of positive integers, "
                         f"got {block_config!r}") from None
    if not config or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in config):
        raise ValueError(f"block_config must be a non-empty sequence of positive integers, "
                         f"got {block_config!r}")
    return config


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


def _min_input_size(size_after: Callable[[int], int], limit: int = 4096) -> int:
    """Smallest side length for which ``size_after`` stays positive."""
    for s in range(1, limit):
        if size_after(s) >= 1:
            return s
    raise ValueError("model downsamples too much for any input up to 4096 pixels")


def _stem(kind: str, in_channels: int, out_channels: int, bias: bool) -> list[tuple[str, nn.Module]]:
    if kind not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {kind!r}")
    if kind == "cifar":
        return [("conv0", nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias))]
    return [
        ("conv0", nn.Conv2d(in_channels, out_channels, 7, stride=2, padding=3, bias=bias)),
        ("norm0", nn.BatchNorm2d(out_channels)),
        ("relu0", nn.ReLU(inplace=True)),
        ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
    ]


def _stem_size(kind: str, s: int) -> int:
    if kind == "cifar":
        return s
    s = (s + 2 * 3 - 7) // 2 + 1           # 7x7 conv, stride 2, padding 3
    return (s + 2 * 1 - 3) // 2 + 1 if s >= 1 else 0  # 3x3 max pool, stride 2, padding 1


def _batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, update_stats: bool) -> torch.Tensor:
    """BatchNorm that can skip the running-stat update (for recomputation)."""
    if update_stats or not norm.training:
        return norm(x)
    # momentum 0 keeps the running stats exactly as they are and saves the same tensors as norm(x)
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, True, 0.0, norm.eps)


# --------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    """One composite function H_l: reads all earlier feature maps, returns ``growth_rate`` new ones.

    Plain (DenseNet):        norm1-relu1-conv1(3x3 -> k)
    Bottleneck (DenseNet-B): norm1-relu1-conv1(1x1 -> bn_size*k)-norm2-relu2-conv2(3x3 -> k)
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool = True, bn_size: int = 4,
                 drop_rate: float = 0.0, memory_efficient: bool = False, conv_bias: bool = False):
        super().__init__()
        _check_int("in_channels", in_channels, 1)
        _check_int("growth_rate", growth_rate, 1)
        _check_int("bn_size", bn_size, 1)
        _check_drop_rate(drop_rate)
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

    def _pre_conv(self, features: Sequence[torch.Tensor], update_stats: bool = True) -> torch.Tensor:
        """Everything up to the last convolution's input."""
        x = torch.cat(list(features), 1) if len(features) > 1 else features[0]
        x = self.relu1(_batch_norm(self.norm1, x, update_stats))
        if not self.bottleneck:
            return x
        return self.relu2(_batch_norm(self.norm2, self.conv1(x), update_stats))

    def forward(self, features: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        if isinstance(features, torch.Tensor):
            features = [features]
        wants_grad = torch.is_grad_enabled() and any(f.requires_grad for f in features)
        if self.memory_efficient and wants_grad:
            out = self._checkpointed(features)
        else:
            out = self._pre_conv(features)
            out = self.conv2(out) if self.bottleneck else self.conv1(out)
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out

    def _checkpointed(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        # Recompute instead of storing: the concatenation and its BN/ReLU (quadratic in depth)
        # are rebuilt in backward from the k-channel inputs that must be kept anyway.
        calls = [0]

        def closure(*inputs):
            calls[0] += 1
            first = calls[0] == 1       # the recomputation must not update BN running stats again
            out = self._pre_conv(inputs, update_stats=first)
            return out if self.bottleneck else self.conv1(out)

        out = cp.checkpoint(closure, *features, use_reentrant=False)
        return self.conv2(out) if self.bottleneck else out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; output = concatenation of the input and every layer's output."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool = True,
                 bn_size: int = 4, drop_rate: float = 0.0, memory_efficient: bool = False,
                 conv_bias: bool = False):
        super().__init__()
        _check_int("num_layers", num_layers, 1)
        _check_int("in_channels", in_channels, 1)
        _check_int("growth_rate", growth_rate, 1)
        self.in_channels, self.growth_rate, self.num_layers = in_channels, growth_rate, num_layers
        self.out_channels = in_channels + num_layers * growth_rate
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(
                in_channels + i * growth_rate, growth_rate, bottleneck, bn_size, drop_rate,
                memory_efficient, conv_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"input must have shape (batch, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)   # one concatenation at the end, as torchvision does


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``out_channels`` then 2x2 pooling (average, or max for the exercise)."""

    def __init__(self, in_channels: int, out_channels: int, conv_bias: bool = False,
                 drop_rate: float = 0.0, pool: str = "avg"):
        _check_int("in_channels", in_channels, 1)
        _check_int("out_channels", out_channels, 1)
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
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
        stem: "imagenet" (7x7/2 conv + 3x3/2 max pool), "cifar" (one 3x3 conv), "d2l"
            (the imagenet stem with a conv bias, as d2l builds it).
        memory_efficient: recompute concatenations and BN/ReLU in backward instead of storing them.
        conv_bias: give every convolution a bias (d2l's ``LazyConv2d`` default).
        transition_pool: "avg" (the paper) or "max" (for the d2l exercise).
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                 compression: float = 0.5, drop_rate: float = 0.0, num_classes: int = 1000,
                 in_channels: int = 3, stem: str = "imagenet", memory_efficient: bool = False,
                 conv_bias: bool | None = None, transition_pool: str = "avg"):
        super().__init__()
        _check_int("growth_rate", growth_rate, 1)
        block_config = _check_block_config(block_config)
        _check_int("num_init_features", num_init_features, 1)
        _check_int("bn_size", bn_size, 1)
        _check_compression(compression)
        _check_drop_rate(drop_rate)
        _check_int("num_classes", num_classes, 1)
        _check_int("in_channels", in_channels, 1)
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if conv_bias is None:
            conv_bias = stem == "d2l"
        self.growth_rate, self.block_config, self.compression = growth_rate, block_config, compression
        self.bottleneck, self.in_channels, self.stem = bottleneck, in_channels, stem

        self.features = nn.Sequential(OrderedDict(_stem(stem, in_channels, num_init_features, conv_bias)))
        channels = num_init_features
        self.stage_channels = [channels]     # channels entering each block, then the head
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bottleneck, bn_size, drop_rate,
                               memory_efficient, conv_bias)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                out = int(math.floor(compression * channels))
                if out < 1:
                    raise ValueError(f"compression={compression} leaves no channels after block {i + 1} "
                                     f"({channels} channels); use a larger compression")
                self.features.add_module(f"transition{i + 1}", Transition(
                    channels, out, conv_bias, drop_rate, transition_pool))
                channels = out
            self.stage_channels.append(channels)
        self.features.add_module(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels))
        self.num_features = channels
        self.classifier = nn.Linear(channels, num_classes)
        self.min_input_size = _min_input_size(self.feature_size)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def feature_size(self, size: int) -> int:
        """Side length of the final feature map for an input of side ``size``."""
        size = _stem_size(self.stem, size)
        for _ in range(len(self.block_config) - 1):
            size //= 2                       # each transition's 2x2 pool
        return size

    def dense_blocks(self) -> list[DenseBlock]:
        return [m for m in self.features if isinstance(m, DenseBlock)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_channels, self.min_input_size, "DenseNet")
        x = F.relu(self.features(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


def _densenet(growth_rate: int, block_config, num_init_features: int, **kwargs) -> DenseNet:
    return DenseNet(growth_rate=growth_rate, block_config=block_config,
                    num_init_features=num_init_features, **kwargs)


def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121 (paper Table 1): k=32, blocks 6/12/24/16."""
    return _densenet(32, (6, 12, 24, 16), 64, **kwargs)


def densenet161(**kwargs) -> DenseNet:
    """DenseNet-161: k=48, blocks 6/12/36/24, 96 stem channels."""
    return _densenet(48, (6, 12, 36, 24), 96, **kwargs)


def densenet169(**kwargs) -> DenseNet:
    """DenseNet-169 (paper Table 1): k=32, blocks 6/12/32/32."""
    return _densenet(32, (6, 12, 32, 32), 64, **kwargs)


def densenet201(**kwargs) -> DenseNet:
    """DenseNet-201 (paper Table 1): k=32, blocks 6/12/48/32."""
    return _densenet(32, (6, 12, 48, 32), 64, **kwargs)


def densenet264(**kwargs) -> DenseNet:
    """DenseNet-264 (paper Table 1): k=32, blocks 6/12/64/48."""
    return _densenet(32, (6, 12, 64, 48), 64, **kwargs)


def densenet_cifar(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                   compression: float = 0.5, num_classes: int = 10, **kwargs) -> DenseNet:
    """The paper's CIFAR DenseNets (Table 2): three equal blocks, 3x3 stem.

    depth L counts the stem conv, the two transitions and the classifier, plus every conv in the
    blocks: (L - 4) / 3 layers per block, or (L - 4) / 6 with bottlenecks (two convs per layer).
    The stem has 2k channels for DenseNet-BC and 16 otherwise.
    """
    _check_int("depth", depth, 1)
    convs_per_layer = 2 if bottleneck else 1
    if (depth - 4) % (3 * convs_per_layer) or depth <= 4:
        raise ValueError(f"depth must be {3 * convs_per_layer}n + 4 with n >= 1 "
                         f"({'bottleneck' if bottleneck else 'plain'} layers), got {depth}")
    n = (depth - 4) // (3 * convs_per_layer)
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


# --------------------------------------------------------------------------- ResNet
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
    """ResNet (He et al., 2016) with torchvision's module names.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        widths: base width of each stage; the first block of every stage but the first has stride 2.
        stem: "imagenet", "cifar" (3x3 conv + BN + ReLU) or "d2l" (imagenet stem with conv bias).
        shortcut_norm: BN after the 1x1 projection shortcut (d2l's block has none).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck] = BasicBlock,
                 layers: Sequence[int] = (2, 2, 2, 2), widths: Sequence[int] = (64, 128, 256, 512),
                 num_classes: int = 1000, in_channels: int = 3, stem: str = "imagenet",
                 conv_bias: bool | None = None, shortcut_norm: bool = True):
        super().__init__()
        layers = _check_block_config(layers)
        widths = tuple(widths)
        if len(widths) != len(layers) or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be {len(layers)} positive integers (one per stage), got {widths!r}")
        _check_int("num_classes", num_classes, 1)
        _check_int("in_channels", in_channels, 1)
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if conv_bias is None:
            conv_bias = stem == "d2l"
        self.in_channels, self.stem, self.layers_config = in_channels, stem, layers
        channels = widths[0]
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=conv_bias)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, channels, 7, stride=2, padding=3, bias=conv_bias)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (num_blocks, width) in enumerate(zip(layers, widths)):
            stage = []
            for j in range(num_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                stage.append(block(channels, width, stride, conv_bias, shortcut_norm))
                channels = width * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.num_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.num_features = channels
        self.min_input_size = _min_input_size(self.feature_size)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def feature_size(self, size: int) -> int:
        size = _stem_size(self.stem, size)
        for _ in range(self.num_stages - 1):
            size = (size - 1) // 2 + 1 if size >= 1 else 0   # stride-2 3x3 conv, padding 1
        return size

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_channels, self.min_input_size, "ResNet")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(**kwargs) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


def resnet34(**kwargs) -> ResNet:
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


def resnet50(**kwargs) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)


def resnet_cifar(depth: int = 56, num_classes: int = 10, **kwargs) -> ResNet:
    """He et al.'s CIFAR ResNets (ResNet-20/32/44/56/110): depth = 6n + 2, widths 16/32/64.
    Shortcuts that change shape use a 1x1 projection (option B)."""
    _check_int("depth", depth, 8)
    if (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (e.g. 20, 56, 110), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, (n, n, n), (16, 32, 64), num_classes=num_classes, stem="cifar", **kwargs)


def d2l_resnet18(num_classes: int = 10, in_channels: int = 1, **kwargs) -> ResNet:
    """d2l's ResNet-18: biased convolutions, projection shortcuts without BN (11,178,378 params)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, in_channels=in_channels,
                  stem="d2l", shortcut_norm=False, **kwargs)
