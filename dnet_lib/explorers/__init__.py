"""Explorers for DenseNet's two knobs, the growth rate k and the compression θ. Each displays as
``text/html`` (the static book: the page's sliders, its script redraws) and, in a running
kernel, as a live ipywidgets 7.x/8.x view (Python recomputes, the same script draws)."""
from .page import WIDGET_VIEW, Explorer
from .growth_rate import (GROWTH_RATE_RANGE, IMAGE_SIZES, IN_CHANNELS_RANGE, NUM_LAYERS_RANGE,
                          GrowthRateExplorer, growth_rate_explorer, growth_tables)
from .compression import (ARCHITECTURES, THETAS, VARIANT_PANELS, CompressionExplorer,
                          architecture_stats, compression_explorer)
