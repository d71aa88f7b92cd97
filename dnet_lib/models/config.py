"""TEMPORARY stand-in (helper C's branch) for helper A's ``models/config.py``: the PLAN.md API only,
as plain data, so the explorers can be written against it. A's version replaces this file.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .stem import Stem

__all__ = ["DenseNetConfig", "IMAGENET_STEM", "CIFAR_STEM", "CIFAR_STEM_BN", "DENSENET121",
           "DENSENET161", "DENSENET169", "DENSENET201", "DENSENET264", "D2L_DENSENET",
           "cifar_config"]

IMAGENET_STEM = Stem()                                            # 7x7/2, BN-ReLU, 3x3/2 max pool
CIFAR_STEM = Stem(kernel_size=3, stride=1, norm=False, pool=0)    # DenseNet's: one 3x3 conv
CIFAR_STEM_BN = Stem(kernel_size=3, stride=1, norm=True, pool=0)  # ResNet's: 3x3 conv, BN-ReLU


@dataclass(frozen=True)
class DenseNetConfig:
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

    @property
    def variant(self) -> str:
        suffix = ("B" if self.bottleneck else "") + ("C" if self.compression < 1 else "")
        return "DenseNet" + (f"-{suffix}" if suffix else "")

    def replace(self, **changes) -> "DenseNetConfig":
        return dataclasses.replace(self, **changes)


DENSENET121 = DenseNetConfig()
DENSENET161 = DenseNetConfig(48, (6, 12, 36, 24), 96)
DENSENET169 = DenseNetConfig(32, (6, 12, 32, 32))
DENSENET201 = DenseNetConfig(32, (6, 12, 48, 32))
DENSENET264 = DenseNetConfig(32, (6, 12, 64, 48))
D2L_DENSENET = DenseNetConfig(32, (4, 4, 4, 4), 64, bottleneck=False, num_classes=10,
                              in_channels=1, conv_bias=True)


def cifar_config(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True,
                 compression: float = 0.5, num_classes: int = 10, **changes) -> DenseNetConfig:
    n = (depth - 4) // (6 if bottleneck else 3)
    changes.setdefault("num_init_features", 2 * growth_rate if bottleneck and compression < 1 else 16)
    return DenseNetConfig(growth_rate, (n,) * 3, bottleneck=bottleneck, compression=compression,
                          num_classes=num_classes, stem=CIFAR_STEM, **changes)
