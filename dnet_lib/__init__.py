"""dnet_lib: the library behind the DenseNet-versus-ResNet book; what the chapters import.

Networks: ``models``, ``arith``, ``stages``. Data and training: ``data``, ``train``.
Analyses: ``memory``, ``reuse``, ``gradflow``, ``degradation``, ``toy``, ``seeds``.
Results: ``reference``, ``results``, ``live``. Pictures and widgets: ``drawing``, ``style``,
``explorers``. Exercises' checks: ``exercises``. Plumbing: ``runtime``, ``validate``, ``files``,
``units``.
"""
from . import models, runtime
from .models import (DenseNet, DenseBlock, DenseLayer, Transition, ResNet, BasicBlock, Bottleneck,
                     Stem, densenet121, densenet161, densenet169, densenet201, densenet264,
                     densenet_cifar, d2l_densenet, resnet18, resnet34, resnet50, resnet_cifar,
                     d2l_resnet18)

__version__ = "0.1.0"
