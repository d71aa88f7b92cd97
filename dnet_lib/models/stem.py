"""The stem, the layers between the image and the first block, as a small spec. Presets:
``IMAGENET_STEM`` (7x7/2 conv, BN-ReLU, 3x3/2 max pool: both papers'), ``CIFAR_STEM`` (one 3x3
conv: DenseNet's), ``CIFAR_STEM_BN`` (a 3x3 conv, BN-ReLU: ResNet's)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .. import validate

__all__ = ["Stem", "IMAGENET_STEM", "CIFAR_STEM", "CIFAR_STEM_BN"]


@dataclass(frozen=True)
class Stem:
    """conv(kernel_size, stride, padding kernel_size // 2) [-BN-ReLU] [-max pool of kernel
    ``pool`` (0: none), ``pool_stride``, ``pool_padding``]."""
    kernel_size: int = 7
    stride: int = 2
    norm: bool = True
    pool: int = 3
    pool_stride: int = 2
    pool_padding: int = 1

    def __post_init__(self):
        validate.check_ints(kernel_size=self.kernel_size, stride=self.stride,
                            pool_stride=self.pool_stride)
        validate.check_int("pool", self.pool, 0)
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
        return max((size + 2 * (self.kernel_size // 2) - self.kernel_size) // self.stride + 1, 0)

    def out_size(self, size: int) -> int:
        """Side length of the stem's output for an input of side ``size`` (0: too small)."""
        size = self.conv_size(size)
        if self.pool and size >= 1:
            size = max((size + 2 * self.pool_padding - self.pool) // self.pool_stride + 1, 0)
        return size


IMAGENET_STEM = Stem()
CIFAR_STEM = Stem(kernel_size=3, stride=1, norm=False, pool=0)
CIFAR_STEM_BN = Stem(kernel_size=3, stride=1, norm=True, pool=0)


def check_stem(stem) -> Stem:
    """``stem`` must be a spec (a preset word would hide which layers it means)."""
    if not isinstance(stem, Stem):
        raise ValueError(f"stem must be a models.Stem (e.g. IMAGENET_STEM, CIFAR_STEM, "
                         f"CIFAR_STEM_BN), got {stem!r}")
    return stem
