"""One plot style for the whole book: readable on a phone, colour-blind safe, one colour per idea
(the Okabe-Ito palette). ``style.use()`` once in a chapter's setup cell, then e.g.
``ax.plot(x, y, color=style.COLORS["dense"])`` and ``style.label(ax, x="depth (layers)")``."""
from __future__ import annotations

import matplotlib

# Okabe & Ito (2008), "Color Universal Design"; in the order of the colour cycle.
PALETTE: dict[str, str] = {
    "blue": "#0072B2", "vermillion": "#D55E00", "green": "#009E73", "orange": "#E69F00",
    "sky": "#56B4E9", "purple": "#CC79A7", "black": "#000000", "yellow": "#F0E442",
}

COLORS: dict[str, str] = {
    "input": "#999999",                  # the block's input x / x0 (grey: neither family)
    **dict.fromkeys(("residual", "add", "resnet"), PALETTE["vermillion"]),  # F(x), x + F(x)
    **dict.fromkeys(("dense", "concat", "densenet"), PALETTE["blue"]),  # k new maps, [x0, ...]
    "transition": PALETTE["green"],      # transition layers, compression θ
    "bottleneck": PALETTE["orange"],     # the 1x1 bottleneck (DenseNet-B)
    "highlight": PALETTE["purple"],
    "neutral": "#444444",                # text, arrows, outlines
}

# Sizes chosen so a 6.4-inch-wide figure scaled to a phone (~360 px) keeps ~8 px text.
RC_PARAMS: dict[str, object] = {
    "figure.figsize": (6.4, 3.8), "figure.dpi": 110, "savefig.dpi": 150,
    "savefig.bbox": "tight", "figure.constrained_layout.use": True,
    "font.size": 12, "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 12,
    "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 11, "legend.frameon": False,
    "lines.linewidth": 2.2, "lines.markersize": 6,
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True,
    # the whole palette, blue first (DenseNet) and vermillion second (ResNet)
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE.values())),
}


def use() -> None:
    """Apply the book's style to every later matplotlib figure (call once per notebook)."""
    matplotlib.rcParams.update(RC_PARAMS)


def context():
    """A context manager: the book's style for the figures made inside the ``with`` block."""
    return matplotlib.rc_context(RC_PARAMS)


def label(ax, x: str | None = None, y: str | None = None, title: str | None = None) -> None:
    """Label axes; the book's convention is "quantity (unit)", e.g. "memory (MiB)"."""
    ax.set(**{k: v for k, v in {"xlabel": x, "ylabel": y, "title": title}.items() if v is not None})
