"""Diagrams drawn from real modules: pass a block or a network, get a picture of *its* structure.

Nothing here is a hand-drawn number: widths are read from the module's convolutions, shapes are
measured by running it (``dnet_lib.stages``), and costs come from ``dnet_lib.arith``. Change
the module and the drawing changes (``tests/test_drawing.py``).

* ``blocks``: ``residual_vs_dense``, ``dense_block_stack``, ``transition_diagram``
* ``plots``:  ``block_cost_bars``, ``stage_diagram``

Each returns a ``Drawing``: the matplotlib ``figure`` plus ``parts``, a list of what was drawn with
the real numbers (each part's artists carry the same ``gid``). A ``Drawing`` shows itself as a
PNG when it is the last line of a notebook cell.
"""
from .figure import Drawing, Part
from .blocks import dense_block_stack, residual_vs_dense, transition_diagram
from .plots import block_cost_bars, stage_diagram

__all__ = ["Part", "Drawing", "residual_vs_dense", "dense_block_stack", "block_cost_bars",
           "transition_diagram", "stage_diagram"]
