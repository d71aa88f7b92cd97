"""dnet_lib: the library behind the DenseNet-versus-ResNet book; what the chapters import.

Submodules: ``models`` (every network: DenseNet, ResNet, their parts and stems, the dual-path
net, the gradient-flow nets, the toy MLPs), ``arith`` (channel/parameter/FLOP arithmetic),
``stages`` (a network walked through stage by stage), ``memory`` (saved-activation bytes, step
time), ``data`` (Fashion-MNIST, CIFAR-10, house prices, and the data set-up), ``train`` (``fit``
and ``History``), ``reference`` (the reference runs the chapters load) and ``results`` (committed
result files as tables and figures), ``reuse`` and ``gradflow`` (what DenseNet learns),
``degradation`` (deep plain nets train worse), ``toy`` (the 2-D spirals problem), ``explorers`` (growth-rate and θ widgets), ``export`` and ``live`` (the trained networks as ONNX files, and the page that runs them), ``drawing``, ``figures`` and
``style`` (diagrams, pictures and plots), ``exercises`` (the exercises' visible checks), ``runtime`` (smoke
mode, device, ``REPO_URL``), ``validate``, ``files``, ``units``.
"""
from . import models, runtime
from .models import (DenseNet, DenseBlock, DenseLayer, Transition, ResNet, BasicBlock, Bottleneck,
                     Stem, densenet121, densenet161, densenet169, densenet201, densenet264,
                     densenet_cifar, d2l_densenet, resnet18, resnet34, resnet50, resnet_cifar,
                     d2l_resnet18)

__version__ = "0.1.0"
