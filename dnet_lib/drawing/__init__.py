"""Pictures of real modules and of the analyses' measurements.

* ``blocks``: ``residual_vs_dense``, ``dense_block_stack``, ``transition_diagram``
* ``plots``:  ``block_cost_bars``, ``stage_diagram``
* ``charts``: the chapters' ``plot_*`` charts of the analyses (``reuse``, ``memory``, ...)

The diagrams draw no hand-made number: widths are read from the modules, shapes measured by
running them (``dnet_lib.stages``), costs from ``dnet_lib.arith``: change the module and the
drawing changes. Each returns a ``Drawing``, the matplotlib ``figure`` plus ``parts``, what was
drawn with its real numbers (each part's artists share a ``gid``); it shows itself as a PNG.
"""
from .figure import Drawing, Part
from .blocks import dense_block_stack, residual_vs_dense, transition_diagram
from .charts import (plot_cutoffs, plot_decision_boundary, plot_depth_curves, plot_feature_reuse,
                     plot_gradient_norms, plot_less_data_gaps, plot_plane, plot_saved_by_layer,
                     plot_sweep)
from .plots import block_cost_bars, stage_diagram

__all__ = ["Part", "Drawing", "residual_vs_dense", "dense_block_stack", "block_cost_bars",
           "transition_diagram", "stage_diagram", "plot_depth_curves", "plot_less_data_gaps",
           "plot_saved_by_layer", "plot_sweep", "plot_feature_reuse", "plot_cutoffs",
           "plot_gradient_norms", "plot_plane", "plot_decision_boundary"]
