"""``DenseNetConfig``, a DenseNet's architecture and the one home of its defaults (DenseNet-121's):
``DenseNet(config)`` builds it, ``arith.densenet_stats(config)`` counts it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import validate
from .stem import CIFAR_STEM, IMAGENET_STEM, Stem, check_stem

__all__ = ["DenseNetConfig", "DENSENET121", "D2L_DENSENET", "cifar_config"]


@dataclass(frozen=True)
class DenseNetConfig:
    """A DenseNet's architecture: growth_rate k, layers per block, channels after the stem;
    bottleneck: a 1x1 conv to ``bn_size * k`` before each 3x3 (DenseNet-B); compression θ in
    (0, 1]: transitions emit floor(θ·m) channels (DenseNet-C if θ < 1); conv_bias: d2l's."""
    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    num_init_features: int = 64
    bottleneck: bool = True
    bn_size: int = 4
    compression: float = 0.5
    drop_rate: float = 0.0
    num_classes: int = 1000
    in_channels: int = 3
    stem: Stem = IMAGENET_STEM
    conv_bias: bool = False
    transition_pool: str = "avg"

    def __post_init__(self):
        # frozen: the tuple form of block_config is set through object.__setattr__
        object.__setattr__(self, "block_config", validate.check_block_config(self.block_config))
        for name in ("growth_rate", "num_init_features", "bn_size", "num_classes", "in_channels"):
            validate.check_int(name, getattr(self, name), 1)
        validate.check_compression(self.compression)
        validate.check_number("drop_rate", self.drop_rate, 0, 1, high_open=True)
        check_stem(self.stem)
        validate.check_choice("transition_pool", self.transition_pool, ("avg", "max"))

    @property
    def variant(self) -> str:
        """DenseNet, DenseNet-B, DenseNet-C or DenseNet-BC (the paper's naming)."""
        suffix = ("B" if self.bottleneck else "") + ("C" if self.compression < 1 else "")
        return "DenseNet" + (f"-{suffix}" if suffix else "")

    def replace(self, **changes) -> DenseNetConfig:
        """A copy with some fields changed (checked like a new config)."""
        return dataclasses.replace(self, **changes)


DENSENET121 = DenseNetConfig()
# d2l's section 8.7: four blocks of 4 plain layers, biased convolutions, 758,226 parameters
D2L_DENSENET = DenseNetConfig(block_config=(4, 4, 4, 4), bottleneck=False, num_classes=10,
                              in_channels=1, conv_bias=True)


def cifar_config(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                 compression: float = 0.5, num_classes: int = 10, **changes) -> DenseNetConfig:
    """The config of the paper's CIFAR DenseNet of depth L (Table 2): three blocks of (L - 4) / 3
    layers, (L - 4) / 6 with bottlenecks; a stem of 2k channels for DenseNet-BC, else 16."""
    validate.check_int("depth", depth, 1)
    convs_per_layer = 2 if bottleneck else 1
    if (depth - 4) % (3 * convs_per_layer) or depth <= 4:
        raise ValueError(f"depth must be {3 * convs_per_layer}n + 4 with n >= 1 "
                         f"({'bottleneck' if bottleneck else 'plain'} layers), got {depth}")
    n = (depth - 4) // (3 * convs_per_layer)
    changes.setdefault("num_init_features", 2 * growth_rate if bottleneck and compression < 1
                       else 16)
    return DenseNetConfig(growth_rate=growth_rate, block_config=(n, n, n), bottleneck=bottleneck,
                          compression=compression, num_classes=num_classes, stem=CIFAR_STEM,
                          **changes)
