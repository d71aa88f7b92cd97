"""Pictures of real modules (``blocks``) and of the analyses' measurements (``charts``). No
number in them is hand-made: widths are read from the modules, shapes measured by running them,
costs from ``dnet_lib.arith``. Most return a ``Drawing``: the matplotlib ``figure`` plus
``parts``, what was drawn with its real numbers; it shows itself as a PNG.
"""
from . import blocks, charts
from .blocks import *  # noqa: F401,F403 (each module's __all__ is the public list)
from .charts import *  # noqa: F401,F403
from .figure import Drawing, Part

__all__ = ["Part", "Drawing", *blocks.__all__, *charts.__all__]
