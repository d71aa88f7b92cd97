"""Pictures of real modules and of the analyses' measurements.

* ``blocks``: ``residual_vs_dense``, ``dense_block_stack``, ``transition_diagram``,
  ``weight_slices``, ``dual_path_widths`` / ``plot_dual_path_block``
* ``charts``: ``block_cost_bars``, ``stage_diagram`` and the chapters' ``plot_*`` charts

The diagrams draw no hand-made number: widths are read from the modules, shapes measured by
running them (``dnet_lib.stages``), costs from ``dnet_lib.arith``: change the module and the
drawing changes. Most return a ``Drawing``, the matplotlib ``figure`` plus ``parts``, what was
drawn with its real numbers (each part's artists share a ``gid``); it shows itself as a PNG.
"""
from . import blocks, charts
from .blocks import *  # noqa: F401,F403 (each module's __all__ is the public list)
from .charts import *  # noqa: F401,F403
from .figure import Drawing, Part

__all__ = ["Part", "Drawing", *blocks.__all__, *charts.__all__]
