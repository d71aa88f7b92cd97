"""Plots of measurements: the per-layer costs of a block, the channels through whole networks.

* ``block_cost_bars``  -- per-layer parameters and input size of one dense block (``arith``)
* ``stage_diagram``    -- channels and resolution through two networks (``stages.trace_widths``)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import models, style
from ..stages import trace_widths
from ..units import BYTES_PER_FLOAT32
from .figure import BYTE_UNITS, COUNT_UNITS, Drawing, Part, new_figure, scaled

__all__ = ["block_cost_bars", "stage_diagram"]

C = style.COLORS


def _model_label(model: nn.Module) -> str:
    """e.g. DenseNet-121, ResNet-50: weighted layers = main-path convolutions + linear layers."""
    depth = sum(1 for name, m in model.named_modules()
                if (isinstance(m, nn.Conv2d) and "downsample" not in name)
                or isinstance(m, nn.Linear))
    return f"{type(model).__name__}-{depth}"


def block_cost_bars(stats: dict) -> Drawing:
    """Per-layer parameters and input size of one dense block, from ``arith.dense_block_stats``.

    Both grow linearly with the layer index (each layer reads k more channels), so the block's
    totals grow with L²: the picture behind "dense blocks get expensive when deep".
    """
    from matplotlib.ticker import MaxNLocator
    layers = stats["layers"]
    size = stats["image_size"]
    params = [r["params"] for r in layers]
    nbytes = [r["input_values"] * BYTES_PER_FLOAT32 for r in layers]
    with style.context():
        fig, canvas = new_figure(6.4, 2.8, "dense block costs")
        xs = range(1, len(layers) + 1)
        panels = ((params, COUNT_UNITS, C["dense"], "params", "parameters",
                   f"total {stats['params']:,}"),
                  (nbytes, BYTE_UNITS, C["bottleneck"], "input_bytes", "input of the layer",
                   f"one {size}×{size} image"))
        for ax, (values, units, colour, metric, name, title) in zip(fig.subplots(1, 2), panels):
            div, unit = scaled(values, units)
            for x, v, bar in zip(xs, values, ax.bar(xs, [v / div for v in values], color=colour)):
                canvas.add(bar, "bar", f"layer {x}", v, metric=metric)
            style.label(ax, x="layer", y=f"{name} ({unit})" if unit else name, title=title)
            ax.grid(axis="x", visible=False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return canvas.done()


def _log2_yticks(ax, values) -> None:
    """A base-2 log y axis labelled at the powers of two the values span."""
    from matplotlib.ticker import NullLocator
    low, high = math.floor(math.log2(min(values))), math.ceil(math.log2(max(values)))
    ticks = [2 ** e for e in range(low, high + 1)]
    ax.set_yscale("log", base=2)
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.yaxis.set_minor_locator(NullLocator())


def stage_diagram(densenet: nn.Module | None = None, resnet: nn.Module | None = None,
                  size: int = 224) -> Drawing:
    """Channels carried and resolution through two networks, measured with forward hooks.

    x axis: convolutions passed (depth); top: channels of the state (log scale); bottom: its
    resolution. DenseNet's channels rise by k per layer inside a block and drop at each
    transition; ResNet's change only where a stage starts. Defaults: DenseNet-121 vs ResNet-50,
    built on the "meta" device (structure only, instant); pass any models you like.
    """
    with torch.device("meta"):
        densenet = models.densenet121() if densenet is None else densenet
        resnet = models.resnet50() if resnet is None else resnet
    nets = [(densenet, C["densenet"]), (resnet, C["resnet"])]
    traces = [(_model_label(net), colour, trace_widths(net, size)) for net, colour in nets]
    with style.context():
        fig, canvas = new_figure(6.4, 5.4, "stages")
        ax_c, ax_r = fig.subplots(2, 1, sharex=True)
        for label, colour, points in traces:
            for ax, kind, pick in ((ax_c, "channels", max), (ax_r, "resolution", min)):
                values = [getattr(p, kind) for p in points]
                (line,) = ax.step([p.convs for p in points], values, where="post", color=colour,
                                  label=label)
                canvas.add(line, kind, label, pick(values), model=label, values=values)
            # label the widths where each stage ends (before a transition / a new stage)
            ends = [i for i, p in enumerate(points[:-1]) if points[i + 1].kind == "transition"
                    or (p.kind == "residual" and points[i + 1].channels != p.channels)]
            ends.append(len(points) - 1)
            for i in ends:
                p = points[i]
                x = p.convs
                if p.kind == "residual":         # a ResNet plateau: label its middle
                    start = next(j for j in range(i, -1, -1) if j == 0
                                 or points[j - 1].channels != p.channels)
                    x = (points[start].convs + p.convs) / 2
                plateau = p.kind == "residual"
                canvas.add(ax_c.annotate(str(p.channels), (x, p.channels),
                                         textcoords="offset points",
                                         xytext=(0, 5) if plateau else (3, 2),
                                         ha="center" if plateau else "left", fontsize=9,
                                         color=colour),
                           "stage_end", label, p.channels, model=label, unit=p.unit)
            for p in points:
                if p.kind == "transition":
                    ax_c.axvline(p.convs, color=C["transition"], lw=0.8, alpha=0.5)
        _log2_yticks(ax_c, [p.channels for _, _, pts in traces for p in pts])
        _log2_yticks(ax_r, [p.resolution for _, _, pts in traces for p in pts])
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], color=colour, label=label) for label, colour, _ in traces]
        handles.append(Line2D([], [], color=C["transition"], lw=0.8, label="transition"))
        ax_c.legend(handles=handles, loc="lower right")
        style.label(ax_c, y="channels carried",
                    title=f"Channels and resolution through the network ({size}×{size} input)")
        style.label(ax_r, x="convolutions passed (depth)", y="resolution (pixels per side)")
        for label, _, points in traces:
            canvas.parts.append(Part("trace", label, len(points), "", {"points": points}))
        return canvas.done()
