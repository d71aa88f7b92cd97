"""Every network of the book, small enough to read in one sitting.

Module names follow torchvision (``features.denseblock1.denselayer1.norm1``, ``layer1.0.conv1``)
so its state dicts load with ``strict=True``. Read ``stem``, ``config`` (``DenseNetConfig``),
``densenet``, ``resnet``, then ``dualpath``, ``deepconv`` (plain/residual/dense conv stacks),
``mlp``; ``efficient`` holds a dense layer's opt-in fast paths. Every model's ``.stem`` is the
module(s) before its first block.
"""
from . import config, deepconv, densenet, dualpath, mlp, resnet, stem
from ._common import transition_channels
from .stem import *          # noqa: F401,F403  (each module's __all__ lists its public names)
from .config import *        # noqa: F401,F403
from .densenet import *      # noqa: F401,F403
from .resnet import *        # noqa: F401,F403
from .dualpath import *      # noqa: F401,F403
from .deepconv import *      # noqa: F401,F403
from .mlp import *           # noqa: F401,F403

# the model factories (``name(**kwargs) -> nn.Module``), in the order a reader meets them
FACTORIES = tuple(name for module in (densenet, resnet, dualpath) for name in module.__all__
                  if name[0].islower())

__all__ = ["transition_channels", "FACTORIES",
           *(name for module in (stem, config, densenet, resnet, dualpath, deepconv, mlp)
             for name in module.__all__)]
