"""Addition *and* concatenation: a small Dual Path Network (Chen et al., 2017).

The network classes live in ``dnet_lib.models.dualpath`` (every network of the book is in
``dnet_lib.models``); they are re-exported here under their old names for the chapters.
"""
from __future__ import annotations

from .models.dualpath import DualPathBlock, DualPathLayer, DualPathNet, dpn_small

__all__ = ["DualPathLayer", "DualPathBlock", "DualPathNet", "dpn_small"]
