"""Pictures of real modules (``blocks``) and of the analyses' measurements (``charts``), no
number hand-made. Most return a ``Drawing``: the ``figure`` plus the ``parts`` drawn, with their
real numbers; it shows itself as a PNG."""
from . import blocks, charts
from .blocks import *  # noqa: F401,F403 (each module's __all__ is the public list)
from .charts import *  # noqa: F401,F403
from .figure import Drawing, Part

__all__ = ["Part", "Drawing", *blocks.__all__, *charts.__all__]
