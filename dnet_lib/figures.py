"""Pictures the chapters show before the words, drawn from real modules.

* ``weight_slices(conv, widths)``: a convolution's weight tensor as a block matrix, cut along
  its input channels into one slice per concatenated input, beside the inputs it multiplies:
  the picture of ``W * [X0, ..., Xl] = sum_i Wi * Xi`` (Chapter 2).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import style


def weight_slices(conv: nn.Conv2d, widths: Sequence[int], names: Sequence[str] | None = None):
    """Draw ``conv.weight`` (out x in, summed over the kernel window) split into the column
    blocks that multiply the concatenated inputs of ``widths`` channels; returns the Figure.

    Every entry shown is a number of the real weight tensor; the blocks' widths are read from
    its input-channel axis, so they must add up to ``conv.in_channels``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1 or sum(widths) != conv.in_channels:
        raise ValueError(f"widths must be positive and add up to conv.in_channels = "
                         f"{conv.in_channels}, got {widths}")
    names = list(names) if names is not None else [f"X{i}" for i in range(len(widths))]
    if len(names) != len(widths):
        raise ValueError(f"names must have one entry per width ({len(widths)}), got {names}")
    with torch.no_grad():
        matrix = conv.weight.detach().float().sum(dim=(2, 3)).cpu().numpy()
    out_ch, in_ch = matrix.shape
    limit = float(abs(matrix).max()) or 1.0
    colours = [style.COLORS["input"]] + [style.COLORS["dense"]] * (len(widths) - 1)
    with style.context():
        fig = Figure(figsize=(8.0, 3.6), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[in_ch, 3])
        left.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                    extent=(0, in_ch, out_ch, 0))
        start = 0
        for i, (width, name) in enumerate(zip(widths, names)):
            left.add_patch(Rectangle((start, 0), width, out_ch, fill=False, lw=2.5,
                                     edgecolor=style.COLORS["neutral"]))
            left.text(start + width / 2, -0.6, f"W{i}: {width} cols", ha="center",
                      va="bottom", fontsize=10)
            right.add_patch(Rectangle((0, start), 1, width, color=colours[i], alpha=0.8))
            right.text(0.5, start + width / 2, f"{name}\n{width} ch", ha="center",
                       va="center", fontsize=10, color="white")
            start += width
        left.set_xlabel(f"input channel of the concatenation ({in_ch})")
        left.set_ylabel(f"output channel ({out_ch})")
        left.set_title(f"weight of a real {conv.kernel_size[0]}x{conv.kernel_size[1]} "
                       f"conv, split by input", fontsize=11)
        left.grid(False)
        right.set_xlim(0, 1)
        right.set_ylim(in_ch, 0)
        right.set_axis_off()
        right.set_title("[X0, ...]", fontsize=11)
    return fig
