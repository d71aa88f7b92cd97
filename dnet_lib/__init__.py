"""dnet_lib: the library behind the DenseNet-versus-ResNet book.

Submodules: ``models`` (DenseNet, ResNet and their parts), ``runtime`` (smoke mode, device),
``arith`` (channel/parameter/FLOP arithmetic), ``memory`` (saved-activation bytes),
``data`` (Fashion-MNIST, CIFAR-10, house prices), ``train`` (``fit`` and ``History``),
``reuse`` and ``gradflow`` (what DenseNet learns), ``explorers`` (growth-rate and θ widgets),
``assign`` and ``checks`` (classroom notebooks).
"""
from . import models, runtime
from .models import (DenseNet, DenseBlock, DenseLayer, Transition, ResNet, BasicBlock, Bottleneck,
                     densenet121, densenet161, densenet169, densenet201, densenet264,
                     densenet_cifar, d2l_densenet, resnet18, resnet34, resnet50, resnet_cifar,
                     d2l_resnet18)

__version__ = "0.1.0"
