"""Charts of measurements: ``block_cost_bars`` and ``stage_diagram`` return a ``Drawing``; the
``plot_*`` charts of the analyses draw on ``ax`` or on a new pyplot figure."""
from __future__ import annotations

from itertools import groupby

import numpy as np
from torch import nn

from .. import results, reuse, seeds, style, toy
from ..stages import stage_of, trace_units
from ..units import BYTES_PER_FLOAT32
from .figure import Drawing, new_figure, pyplot_axes, stacked_bar, subplots

__all__ = ["block_cost_bars", "stage_diagram", "plot_depth_curves", "plot_less_data_gaps",
           "plot_saved_by_layer", "plot_sweep", "plot_feature_reuse", "plot_cutoffs",
           "plot_gradient_norms", "plot_plane", "plot_decision_boundary", "plot_learning_curves"]

C = style.COLORS
SAVED_COLOURS = {"feature maps (kept anyway)": "#9ecae1",
                 "concatenation (BatchNorm's input)": "#fd8d3c",
                 "BN-ReLU output (the conv's input)": "#e6550d",
                 "bottleneck (4k maps)": "#756bb1", "other": "#bdbdbd"}


def block_cost_bars(stats: dict) -> Drawing:
    """Per-layer parameters and input size of one dense block (``arith.dense_block_stats``):
    both grow with the layer index, so the block's totals grow with L²."""
    from matplotlib.ticker import MaxNLocator
    layers, size = stats["layers"], stats["image_size"]
    panels = (([r["params"] for r in layers], ((1e6, "millions"), (1e3, "thousands"), (1, "")),
               C["dense"], "params", "parameters", f"total {stats['params']:,}"),
              ([r["input_values"] * BYTES_PER_FLOAT32 for r in layers],
               ((2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "B")), C["bottleneck"], "input_bytes",
               "input of the layer", f"one {size}×{size} image"))
    with style.context():
        d = new_figure(6.4, 2.8, "dense block costs")
        xs = range(1, len(layers) + 1)
        for ax, (values, units, colour, key, name, title) in zip(d.figure.subplots(1, 2), panels):
            # the first unit the largest value reaches
            div, unit = next((u for u in units if max(values) >= u[0]), units[-1])
            for x, v, bar in zip(xs, values, ax.bar(xs, [v / div for v in values], color=colour)):
                d.add(bar, "bar", f"layer {x}", v, metric=key)
            style.label(ax, x="layer", y=f"{name} ({unit})" if unit else name, title=title)
            ax.grid(axis="x", visible=False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return d


def stage_diagram(densenet: nn.Module, resnet: nn.Module, size: int = 224) -> Drawing:
    """Channels carried (top) and resolution (bottom) of two networks against convolutions."""
    with style.context():
        d = new_figure(6.4, 5.4, "stages")
        ax_c, ax_r = d.figure.subplots(2, 1, sharex=True)
        for net, colour in ((densenet, C["densenet"]), (resnet, C["resnet"])):
            points = trace_units(net, size)[:-1]          # the input to the last unit
            depth = points[-1].convs + sum(isinstance(m, nn.Linear) for m in net.modules())
            label = f"{type(net).__name__}-{depth}"      # ResNet-50: 49 convolutions + 1 linear
            for ax, kind in ((ax_c, "channels"), (ax_r, "resolution")):
                ax.step([p.convs for p in points], [getattr(p, kind) for p in points], where="post",
                        color=colour, label=label)
            for x in [p.convs for p in points if p.kind == "transition"]:
                ax_c.axvline(x, color=C["transition"], lw=0.8, alpha=0.5, label="transition")
            # label the width where each stage ends; a ResNet plateau at its middle
            for _, stage in groupby([p for p in points if p.kind in ("dense", "residual")],
                                    key=lambda p: stage_of(p.unit)):
                stage = list(stage)
                p, plateau = stage[-1], stage[-1].kind == "residual"
                x = (stage[0].convs + p.convs) / 2 if plateau else p.convs
                d.add(ax_c.annotate(str(p.channels), (x, p.channels), fontsize=9, color=colour,
                                    textcoords="offset points", xytext=(0, 5) if plateau
                                    else (3, 2), ha="center" if plateau else "left"),
                      "stage_end", label, p.channels, model=label, unit=p.unit)
            d.add([], "trace", label, len(points), points=points)
        for ax in (ax_c, ax_r):                  # base-2 log axes, ticks written as numbers
            ax.set_yscale("log", base=2)
            ax.yaxis.set_major_formatter("{x:g}")
        legend = dict(zip(*ax_c.get_legend_handles_labels()[::-1]))   # one "transition"
        ax_c.legend(list(legend.values()), list(legend), loc="lower right")
        style.label(ax_c, y="channels carried",
                    title=f"Channels and resolution through the network ({size}×{size} input)")
        style.label(ax_r, x="convolutions passed (depth)", y="resolution (pixels per side)")
        return d


def plot_depth_curves(comparison, ax=None):
    """A ``degradation.DepthComparison``'s loss curves (5-step moving averages): plain grey,
    residual vermillion, the deepest solid, the others dashed. Returns the axes."""
    import pandas as pd
    ax = pyplot_axes(ax)
    deepest = max(depth for _, depth in comparison.curves)
    for (wiring, depth), losses in comparison.curves.items():
        smooth = pd.Series(losses).rolling(5, min_periods=1).mean()
        ax.plot(range(1, len(losses) + 1), smooth, "-" if depth == deepest else "--",
                color=C.get(wiring, C["neutral"]), label=f"{wiring}, {depth} layers")
    style.label(ax, x="training step", y="training loss (cross-entropy)")
    ax.legend()
    return ax


def plot_less_data_gaps(record: dict):
    """``seeds.less_data_gaps``: DenseNet minus ResNet test accuracy against training images (log
    scale), one dot per seed, a line through the means, zero marked. Returns the figure."""
    table = seeds.less_data_gaps(record)
    fig, ax = subplots(figsize=(5, 3.2))
    dots = table.gaps.explode()                  # one dot per seed
    ax.semilogx(dots.index, 100 * dots.astype(float), "o", color="C0", alpha=0.6, ms=5)
    ax.semilogx(table.index, 100 * table.gap_mean, "-", color="C0", label="mean over seeds")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(list(table.index), [f"{int(n):,}" for n in table.index])
    ax.xaxis.set_minor_formatter("")
    names = [results.network_label(record, n).split(" ")[0] for n in ("densenet", "resnet")]
    style.label(ax, x="training images (log scale)", y=f"{names[0]} - {names[1]} (points)")
    ax.legend(fontsize="small")
    return fig


def plot_saved_by_layer(panels: dict, title: str):
    """A panel per ``memory.saved_by_layer`` list: a row per dense layer, a bar per saved storage
    as wide as its channels, coloured by kind (statistics: not drawn). Returns the figure."""
    from matplotlib.patches import Patch
    fig, axes = subplots(1, len(panels), figsize=(4.6 * len(panels), 3.2), sharex=True,
                         squeeze=False)
    ends = [1]
    for ax, (name, tensors) in zip(axes[0], panels.items()):
        layers = sorted({t.layer for t in tensors})
        for layer in layers:
            drawn = [t for t in tensors if t.layer == layer and t.channels]
            ends.append(stacked_bar(ax, layer, [t.channels for t in drawn],
                                    [SAVED_COLOURS[t.kind] for t in drawn], 0.7)[1])
            ax.text(ends[-1] + 1, layer, f"{ends[-1]}", va="center", fontsize=7)
        style.label(ax, x="channels stored for backward", y="dense layer", title=name)
        ax.set_yticks(layers)
        ax.invert_yaxis()
    axes[0][0].set_xlim(0, max(ends) * 1.15)
    fig.suptitle(title, fontsize=10)
    used = {t.kind for tensors in panels.values() for t in tensors if t.channels}
    fig.legend(handles=[Patch(color=c, label=k) for k, c in SAVED_COLOURS.items() if k in used],
               loc="outside lower center", ncol=2, fontsize="small", frameon=False)
    return fig


def plot_sweep(table, x: str, xlabel: str, title: str):
    """``memory.sweep``: saved MiB (left), step time (right) against ``x``, a line per variant."""
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    for ax, column, y in zip(axes, ("saved_MiB", "step_s"),
                             ("saved for backward (MiB)", "training step (s)")):
        for name, part in table.groupby("variant", sort=False):
            ax.plot(part[x], part[column], "-o", label=name)
        style.label(ax, x=xlabel, y=y)
    axes[0].legend(fontsize="small")
    fig.suptitle(title, fontsize=10)
    return fig


def plot_feature_reuse(model: nn.Module, axes=None):
    """Heat maps of a DenseNet's ``reuse.feature_reuse`` (row-normalised), target layer across,
    source down, one per dense block (on ``axes`` or a new figure). Returns the figure."""
    matrices = reuse.feature_reuse(model, normalize="row")
    n = len(matrices)
    if axes is None:
        axes = subplots(1, n, figsize=(2.6 * n + 0.6, 2.8))[1]
    for b, (ax, m) in enumerate(zip(np.atleast_1d(axes), matrices)):
        ax.figure.colorbar(ax.imshow(m.T, interpolation="nearest"), ax=ax, fraction=0.046, pad=0.04)
        labels = [str(i) for i in range(1, len(m))]
        ax.set_xticks(range(len(m)), labels + ["cls" if b == n - 1 else "trans"], fontsize=7)
        ax.set_yticks(range(len(m)), ["in"] + labels, fontsize=7)
        style.label(ax, x="target layer", y="source" if b == 0 else None)
        ax.set_title(f"dense block {b + 1}", fontsize=9)
    return ax.figure


def plot_cutoffs(matrices_by_model: dict):
    """Four panels, one per Figure 5 observation: holds (1) or fails (0) against its cut-off,
    one line per model, today's cut-off dashed. Returns the figure."""
    curves = reuse.cutoff_curves(matrices_by_model)
    fig, axes = subplots(1, 4, figsize=(10, 2.6), sharey=True)
    grids = {3: np.linspace(0, 1, 101), 4: np.linspace(0, 3, 121)}   # 3, 4: one statistic each
    for i, name in enumerate(matrices_by_model):
        offset = 0.04 * (i - (len(matrices_by_model) - 1) / 2)     # lines side by side
        for obs, p in curves[curves.model == name].groupby("observation"):
            if obs <= 2:
                x, holds, where = p.cutoff, p.statistic >= reuse.RULES[obs], "mid"
            else:
                x, holds, where = grids[obs], p.statistic.iloc[0] >= grids[obs], "post"
            axes[obs - 1].step(x, holds + offset, where=where, color=f"C{i}", label=name)
    used = "'used' fraction of row max"
    for obs, (ax, x) in enumerate(zip(axes, (used, used, "required share", "required ratio")), 1):
        ax.axvline(reuse.USED_FRACTION if obs <= 2 else reuse.RULES[obs], c="0.4", ls="--", lw=0.8)
        style.label(ax, x=x, title=f"observation {obs}")
        ax.set_yticks([0, 1], ["fails", "holds"])
    axes[0].legend(fontsize="x-small", loc="lower left")
    return fig


def plot_gradient_norms(norms: dict, ax=None, ylabel: str = "gradient norm", title: str = ""):
    """Log-scale line plot of one norm sequence per net (zeros left out). Returns the axes."""
    ax = pyplot_axes(ax, (5, 3))
    for name, values in norms.items():
        ax.semilogy(range(1, len(values) + 1), np.ma.masked_equal(values, 0), ".-", label=name)
    style.label(ax, x="layer (input to output)", y=ylabel, title=title)
    ax.legend()
    return ax


def plot_plane(ax, pred, title: str = "") -> None:
    """``toy.predict_plane``'s classes as an image (a colour per class), the images as dots."""
    ax.imshow(pred.T, origin="lower", extent=(*toy.SPAN, *toy.SPAN), cmap="tab10", vmin=0, vmax=9)
    ax.plot([0, 1, 0], [0, 0, 1], "ko", ms=4)
    style.label(ax, x="s (towards b)", y="t (towards c)", title=title)


def plot_decision_boundary(model: nn.Module, x, y, ax, title: str = "") -> None:
    """A toy model's probability map (``toy.decision_grid``), its 0.5 contour, the points."""
    xs, ys, prob = toy.decision_grid(model)
    ax.contourf(xs, ys, prob, levels=20, cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    ax.contour(xs, ys, prob, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", s=4, edgecolors="none")
    ax.set(xlim=toy.EXTENT[:2], ylim=toy.EXTENT[2:], aspect="equal")
    style.label(ax, x="$x_1$", y="$x_2$")
    ax.set_title(title, fontsize=9)


def plot_learning_curves(record: dict, group: str | None = "main"):
    """Training loss and test accuracy against epoch of every run of ``group`` (``None``: all) in a
    record (``results.curves``): a colour per network, a line per seed. Returns the figure."""
    table = results.curves(record, group)
    if table.empty:
        raise ValueError(f"no runs of group {group!r} in this result file")
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    for i, (net, part) in enumerate(table.groupby("network", sort=False)):
        colour = next((C[k] for k in ("densenet", "resnet") if net.lower().startswith(k)), f"C{i}")
        for j, (_, run) in enumerate(part.groupby("seed")):
            for ax, column in zip(axes, ("train_loss", "test_acc")):
                shown = run.dropna(subset=[column])          # epochs without a test
                ax.plot(shown.epoch, shown[column], "-o", color=colour, alpha=0.8, ms=3,
                        label=net if j == 0 else None)
    axes[0].set(xlabel="epoch", ylabel="training loss", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="test accuracy")
    axes[1].legend(fontsize="small", loc="lower right")
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    return fig
