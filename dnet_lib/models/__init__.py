"""Every network of the book; module names follow torchvision's, so its weights load strictly.
Read ``stem``, ``config``, ``densenet``, ``resnet``, ``dualpath``, ``deepconv``, ``mlp``;
``efficient`` holds a dense layer's opt-in fast paths."""
from . import config, deepconv, densenet, dualpath, mlp, resnet, stem
from ._common import check_input, transition_channels
from .stem import *          # noqa: F401,F403  (each module's __all__ lists its public names)
from .config import *        # noqa: F401,F403
from .densenet import *      # noqa: F401,F403
from .resnet import *        # noqa: F401,F403
from .dualpath import *      # noqa: F401,F403
from .deepconv import *      # noqa: F401,F403
from .mlp import *           # noqa: F401,F403

__all__ = ["check_input", "transition_channels",
           *(name for module in (stem, config, densenet, resnet, dualpath, deepconv, mlp)
             for name in module.__all__)]
