"""Every network of the book, small enough to read in one sitting.

Module names follow torchvision (``features.denseblock1.denselayer1.norm1``, ``features.norm5``,
``layer1.0.conv1``...) so torchvision state dicts load with ``strict=True``.

* ``densenet``  -- ``DenseLayer``, ``DenseBlock``, ``Transition``, ``DenseNet`` and factories.
* ``resnet``    -- ``BasicBlock``, ``Bottleneck``, ``ResNet`` and factories.
* ``stem``      -- ``Stem``: the layers before the first block, as a spec (or a preset name).
* ``recompute`` -- the memory-efficient BN-ReLU-conv over a concatenation.
* ``batchstats`` -- BatchNorm over a concatenation with each map's statistics computed once.
* ``dualpath``  -- a small Dual Path Network (addition and concatenation together).
* ``deepconv``  -- ``DeepConvNet``: one conv unit stacked plain, residual or dense.
* ``mlp``       -- ``PlainMLP``, ``ResidualMLP``, ``DenseMLP`` for vectors.

Every model's ``.stem`` is the module(s) before its first block.
"""
from .stem import STEMS, Stem
from .config import (DenseNetConfig, IMAGENET_STEM, CIFAR_STEM, CIFAR_STEM_BN, DENSENET121,
                     DENSENET161, DENSENET169, DENSENET201, DENSENET264, D2L_DENSENET,
                     cifar_config)   # TEMPORARY (helper C): helper A's config replaces this
from .densenet import (DenseLayer, DenseBlock, Transition, DenseNet, densenet121, densenet161,
                       densenet169, densenet201, densenet264, densenet_cifar, d2l_densenet,
                       torchvision_densenet_cifar)
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet_cifar,
                     d2l_resnet18)
from .dualpath import DualPathLayer, DualPathBlock, DualPathNet, dpn_small
from .deepconv import DeepConvNet
from .mlp import PlainMLP, ResidualMLP, DenseMLP

__all__ = [
    "Stem", "STEMS",
    "DenseNetConfig", "IMAGENET_STEM", "CIFAR_STEM", "CIFAR_STEM_BN", "DENSENET121", "DENSENET161",
    "DENSENET169", "DENSENET201", "DENSENET264", "D2L_DENSENET", "cifar_config",
    "DenseLayer", "DenseBlock", "Transition", "DenseNet",
    "densenet121", "densenet161", "densenet169", "densenet201", "densenet264",
    "densenet_cifar", "d2l_densenet", "torchvision_densenet_cifar",
    "BasicBlock", "Bottleneck", "ResNet",
    "resnet18", "resnet34", "resnet50", "resnet_cifar", "d2l_resnet18",
    "DualPathLayer", "DualPathBlock", "DualPathNet", "dpn_small",
    "DeepConvNet", "PlainMLP", "ResidualMLP", "DenseMLP",
]
