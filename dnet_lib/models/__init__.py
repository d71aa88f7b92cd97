"""Every network of the book, small enough to read in one sitting.

Module names follow torchvision (``features.denseblock1.denselayer1.norm1``, ``layer1.0.conv1``)
so its state dicts load with ``strict=True``. Read ``stem``, ``config`` (``DenseNetConfig``),
``densenet``, ``resnet``, then ``dualpath``, ``deepconv`` (plain/residual/dense conv stacks),
``mlp``; ``efficient`` holds a dense layer's opt-in fast paths. Every model's ``.stem`` is the
module(s) before its first block.
"""
from ._common import transition_channels
from .stem import CIFAR_STEM, CIFAR_STEM_BN, IMAGENET_STEM, Stem
from .config import (D2L_DENSENET, DENSENET121, DENSENET161, DENSENET169, DENSENET201,
                     DENSENET264, DenseNetConfig, cifar_config)
from .densenet import (DenseLayer, DenseBlock, Transition, DenseNet, densenet121, densenet161,
                       densenet169, densenet201, densenet264, densenet_cifar, d2l_densenet,
                       torchvision_densenet_cifar)
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet_cifar,
                     d2l_resnet18)
from .dualpath import DualPathLayer, DualPathBlock, DualPathNet, dpn_small
from .deepconv import DeepConvNet
from .mlp import PlainMLP, ResidualMLP, DenseMLP

FACTORIES = ("densenet121", "densenet161", "densenet169", "densenet201", "densenet264",
             "densenet_cifar", "d2l_densenet", "torchvision_densenet_cifar", "resnet18",
             "resnet34", "resnet50", "resnet_cifar", "d2l_resnet18", "dpn_small")

__all__ = [
    "Stem", "IMAGENET_STEM", "CIFAR_STEM", "CIFAR_STEM_BN",
    "DenseNetConfig", "DENSENET121", "DENSENET161", "DENSENET169", "DENSENET201", "DENSENET264",
    "D2L_DENSENET", "cifar_config", "transition_channels",
    "DenseLayer", "DenseBlock", "Transition", "DenseNet",
    "BasicBlock", "Bottleneck", "ResNet",
    "DualPathLayer", "DualPathBlock", "DualPathNet",
    "DeepConvNet", "PlainMLP", "ResidualMLP", "DenseMLP", "FACTORIES", *FACTORIES,
]
