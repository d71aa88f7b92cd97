"""Plots of measurements: per-layer costs of a block, channels through whole networks, unit costs.

* ``block_cost_bars``  -- per-layer parameters and input size of one dense block (``arith``)
* ``stage_diagram``    -- channels and resolution through two networks (``stages.trace_widths``)
* ``layer_costs``      -- parameters, FLOPs and saved activations per unit (``stages.unit_costs``)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import models, style
from ..stages import trace_widths, unit_costs
from ..units import BYTES_PER_FLOAT32
from .figure import BYTE_UNITS, COUNT_UNITS, FLOP_UNITS, Drawing, Part, new_figure, scaled

__all__ = ["block_cost_bars", "stage_diagram", "layer_costs"]

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
        ax_p, ax_m = fig.subplots(1, 2)
        xs = range(1, len(layers) + 1)
        div, unit = scaled(params, COUNT_UNITS)
        for x, v, bar in zip(xs, params, ax_p.bar(xs, [v / div for v in params],
                                                   color=C["dense"])):
            canvas.add(bar, "bar", f"layer {x}", v, metric="params")
        style.label(ax_p, x="layer", y=f"parameters ({unit})" if unit else "parameters",
                    title=f"total {stats['params']:,}")
        div, unit = scaled(nbytes, BYTE_UNITS)
        for x, v, bar in zip(xs, nbytes, ax_m.bar(xs, [v / div for v in nbytes],
                                                  color=C["bottleneck"])):
            canvas.add(bar, "bar", f"layer {x}", v, metric="input_bytes")
        style.label(ax_m, x="layer", y=f"input of the layer ({unit})",
                    title=f"one {size}×{size} image")
        for ax in (ax_p, ax_m):
            ax.grid(axis="x", visible=False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return canvas.done()


def _log2_ticks(ax, axis: str, values) -> None:
    lo, hi = min(values), max(values)
    low, high = int(math.floor(math.log2(lo))), int(math.ceil(math.log2(hi)))
    ticks = [2 ** e for e in range(low, high + 1)]
    getattr(ax, f"set_{axis}scale")("log", base=2)
    getattr(ax, f"set_{axis}ticks")(ticks, [str(t) for t in ticks])
    from matplotlib.ticker import NullLocator
    getattr(ax, f"{axis}axis").set_minor_locator(NullLocator())


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
            xs = [p.convs for p in points]
            (line,) = ax_c.step(xs, [p.channels for p in points], where="post", color=colour,
                                label=label)
            canvas.add(line, "channels", label, max(p.channels for p in points),
                       model=label, values=[p.channels for p in points])
            (line,) = ax_r.step(xs, [p.resolution for p in points], where="post", color=colour,
                                label=label)
            canvas.add(line, "resolution", label, min(p.resolution for p in points),
                       model=label, values=[p.resolution for p in points])
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
        all_c = [p.channels for _, _, pts in traces for p in pts]
        all_r = [p.resolution for _, _, pts in traces for p in pts]
        _log2_ticks(ax_c, "y", all_c)
        _log2_ticks(ax_r, "y", all_r)
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


def layer_costs(densenet: nn.Module | None = None, resnet: nn.Module | None = None,
                size: int = 224) -> Drawing:
    """Bars per unit (stem, dense layers, transitions, residual blocks, head) of two networks:
    parameters, FLOPs and activation bytes saved for backward, one image of ``size``×``size``.

    Rows share their y axis, so the two networks compare bar for bar. Defaults: DenseNet-121 vs
    ResNet-50 at 224×224 (a few seconds on a CPU); pass smaller CIFAR models for smoke runs.
    """
    densenet = models.densenet121() if densenet is None else densenet
    resnet = models.resnet50() if resnet is None else resnet
    data = [(_model_label(net), unit_costs(net, size)) for net in (densenet, resnet)]
    metrics = [("params", "parameters", COUNT_UNITS), ("flops", "FLOPs", FLOP_UNITS),
               ("activation_bytes", "saved activations", BYTE_UNITS)]
    colours = {"stem": C["input"], "head": C["neutral"], "dense": C["dense"],
               "transition": C["transition"], "residual": C["residual"]}
    with style.context():
        fig, canvas = new_figure(6.4, 6.6, "layer costs")
        axes = fig.subplots(3, 2, sharey="row")
        for row, (key, name, unit_choices) in enumerate(metrics):
            div, unit = scaled([getattr(c, key) for _, costs in data for c in costs], unit_choices)
            for col, (label, costs) in enumerate(data):
                ax = axes[row][col]
                values = [getattr(c, key) for c in costs]
                bars = ax.bar(range(len(costs)), [v / div for v in values], width=0.85,
                              color=[colours[c.kind] for c in costs])
                for bar, c, v in zip(bars, costs, values):
                    canvas.add(bar, "bar", c.unit, v, model=label, metric=key, unit_kind=c.kind)
                ax.grid(axis="x", visible=False)
                if row == 0:
                    ax.set_title(f"{label} ({size}×{size})", fontsize=12)
                if col == 0:
                    if key == "params":
                        ylabel = f"parameters ({unit})" if unit else "parameters"
                    elif key == "flops":
                        ylabel = f"{unit}FLOPs per image"
                    else:
                        ylabel = f"saved for backward ({unit})"
                    ax.set_ylabel(ylabel, fontsize=11)
                if row == 2:
                    ax.set_xlabel("unit (stem → head)", fontsize=11)
                canvas.parts.append(Part("total", f"{label} {key}", sum(values), "",
                                         {"model": label, "metric": key}))
        from matplotlib.patches import Patch
        present = {c.kind for _, costs in data for c in costs}
        handles = [Patch(color=colours[k], label=k) for k in
                   ("stem", "dense", "transition", "residual", "head") if k in present]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=10)
        return canvas.done()
