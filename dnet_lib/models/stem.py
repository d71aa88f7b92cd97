"""The stem: the layers between the image and the first block, described by a small spec.

``Stem(kernel_size, stride, norm, pool, ...)`` says what the layers are; ``Stem.layers`` builds
them with torchvision's names (``conv0``, ``norm0``, ``relu0``, ``pool0``), and ``Stem.out_size``
says how they shrink an image. The three presets every model accepts by name:

* ``"imagenet"``: 7x7/2 conv, BN-ReLU, 3x3/2 max pool (the papers' ImageNet stem);
* ``"cifar"``: one 3x3 conv (DenseNet's CIFAR stem; ResNet's adds BN-ReLU);
* ``"d2l"``: the imagenet stem, in a model whose convolutions all carry a bias (d2l's default).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .. import validate

__all__ = ["Stem", "STEMS", "resolve_stem"]

STEMS = ("imagenet", "cifar", "d2l")
STEM_NAMES = ("conv0", "norm0", "relu0", "pool0")     # torchvision's names inside ``features``


@dataclass(frozen=True)
class Stem:
    """conv(kernel_size, stride, padding kernel_size // 2) [-BN-ReLU] [-max pool].

    ``pool`` is the max-pool kernel (0: no pool), with ``pool_stride`` and ``pool_padding``.
    """
    kernel_size: int = 7
    stride: int = 2
    norm: bool = True
    pool: int = 3
    pool_stride: int = 2
    pool_padding: int = 1

    def __post_init__(self):
        validate.check_int("kernel_size", self.kernel_size, 1)
        validate.check_int("stride", self.stride, 1)
        validate.check_int("pool", self.pool, 0)
        validate.check_int("pool_stride", self.pool_stride, 1)
        if self.pool:                            # nn.MaxPool2d allows padding up to kernel // 2
            validate.check_int("pool_padding", self.pool_padding, 0, self.pool // 2)

    def layers(self, in_channels: int, out_channels: int, bias: bool = False
               ) -> list[tuple[str, nn.Module]]:
        """The stem's modules, named as in torchvision's DenseNet."""
        layers = [("conv0", nn.Conv2d(in_channels, out_channels, self.kernel_size, self.stride,
                                      padding=self.kernel_size // 2, bias=bias))]
        if self.norm:
            layers += [("norm0", nn.BatchNorm2d(out_channels)), ("relu0", nn.ReLU(inplace=True))]
        if self.pool:
            layers.append(("pool0", nn.MaxPool2d(self.pool, self.pool_stride, self.pool_padding)))
        return layers

    def conv_size(self, size: int) -> int:
        """Side length after the convolution (0 when the image is too small)."""
        pad = self.kernel_size // 2
        return max((size + 2 * pad - self.kernel_size) // self.stride + 1, 0)

    def out_size(self, size: int) -> int:
        """Side length of the stem's output for an input of side ``size`` (0: too small)."""
        size = self.conv_size(size)
        if self.pool and size >= 1:
            size = max((size + 2 * self.pool_padding - self.pool) // self.pool_stride + 1, 0)
        return size


IMAGENET = Stem()


def resolve_stem(stem: str | Stem, norm_for_cifar: bool = False) -> Stem:
    """A ``Stem`` for a preset name (or the spec itself). ResNet's CIFAR stem has BN-ReLU."""
    if isinstance(stem, Stem):
        return stem
    if not isinstance(stem, str) or stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS} or a Stem(...), got {stem!r}")
    if stem == "cifar":
        return Stem(kernel_size=3, stride=1, norm=norm_for_cifar, pool=0)
    return IMAGENET
