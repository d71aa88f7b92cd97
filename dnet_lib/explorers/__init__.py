"""Explorers for DenseNet's two knobs: the growth rate k and the compression θ.

``growth_rate_explorer()`` and ``compression_explorer()`` return an object that Jupyter displays
in two ways, both drawn by the explorer's own page script (``growth_rate.js``,
``compression.js``; files of this package) from numbers ``dnet_lib.arith`` computes:

* ``text/html`` for the static book (no kernel, no network): sliders, and the script redraws;
* a live ipywidgets view (7.x or 8.x; in a running kernel, not during the book build), which
  Jupyter and Colab prefer: ipywidgets sliders, Python recomputes, the same script draws.
"""
from .page import WIDGET_VIEW, Explorer, widget_view
from .growth_rate import (GROWTH_RATE_RANGE, IMAGE_SIZES, IN_CHANNELS_RANGE, NUM_LAYERS_RANGE,
                          GrowthRateExplorer, growth_rate_explorer, growth_tables)
from .compression import (ARCHITECTURES, THETAS, VARIANT_PANELS, Architecture,
                          CompressionExplorer, architecture_stats, channel_profile,
                          compression_explorer, profile_svg)
