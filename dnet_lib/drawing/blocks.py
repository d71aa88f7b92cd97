"""Block diagrams read from real modules: widths from their convolutions, shapes from running
them."""
from __future__ import annotations

import copy
from itertools import accumulate
from typing import Sequence

import torch
from torch import nn

from .. import models, style
from ..validate import check_int
from .figure import Drawing, new_figure, stacked_bar, subplots

__all__ = ["residual_vs_dense", "dense_block_stack", "transition_diagram", "weight_slices",
           "dual_path_widths", "plot_dual_path_block"]

C = style.COLORS


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    """The module's own convolutions in order (a projection shortcut is not the main path)."""
    return [m for m in module.children() if isinstance(m, nn.Conv2d)]


def _dense_block(block: nn.Module) -> tuple[list[list[nn.Conv2d]], list[tuple]]:
    """A dense block's convolutions, layer by layer, and its output read from them as (channels,
    colour, name) slices: the block's input x0, then each layer's."""
    layers = [_convs(layer) for layer in block.children()]
    if not layers or not all(layers):
        raise ValueError(f"dense must be a dense block of layers with convolutions (e.g. "
                         f"models.DenseBlock), got {type(block).__name__}")
    from matplotlib.colors import to_rgb
    light = tuple(v + (1 - v) * 0.35 for v in to_rgb(C["dense"]))    # neighbours alternate
    return layers, [(layers[0][0].in_channels, C["input"], "x0")] + [
        (c[-1].out_channels, (C["dense"], light)[i % 2], f"x{i + 1}") for i, c in enumerate(layers)]


def _stack(ax, d: Drawing, at: float, slices, thick: float, scale: float = 1,
           vertical: bool = True, **meta) -> float:
    """A tensor as one bar of (channels, colour, name) slices, each a part; where the bar ends."""
    bars, end = stacked_bar(ax, at, [s[0] * scale for s in slices], [s[1] for s in slices],
                            thick, vertical=vertical)
    for bar, (channels, _, name) in zip(bars, slices):
        d.add(bar, "slice", name, channels, **meta)
    return end


def _arrow(ax, *points, colour=C["neutral"]):
    """An arrow along ``points``, its head at the last one."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path
    return ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=12,
                                        color=colour, linewidth=1.6))


def residual_vs_dense(residual: nn.Module | None = None, dense: nn.Module | None = None) -> Drawing:
    """Residual blocks (top: F(x) *added* to x, the width stays) and a dense block (bottom: k
    new channels *concatenated*, every earlier slice stays) on one channel scale. Defaults: two
    ``BasicBlock(64, 64)`` and ``DenseBlock(2, 64, 32, bottleneck=False)``."""
    if residual is None:
        residual = nn.Sequential(models.BasicBlock(64, 64), models.BasicBlock(64, 64))
    if dense is None:
        dense = models.DenseBlock(2, 64, 32, bottleneck=False)
    blocks = list(residual) if isinstance(residual, nn.Sequential) else [residual]
    if not all(isinstance(b, (models.BasicBlock, models.Bottleneck)) for b in blocks):
        raise ValueError(f"residual must be a BasicBlock, a Bottleneck or an nn.Sequential of "
                         f"them, got {type(residual).__name__}")
    # a row's states: (slices, caption, then the text and label of the shortcut reaching it)
    res = [([(_convs(blocks[0])[0].in_channels, C["input"], "x")], "x", "", "")]
    for i, b in enumerate(blocks, 1):
        res.append(([(_convs(b)[-1].out_channels, C["add"], f"x{i}")], "x + F(x)",
                     *(("+ x", "identity") if getattr(b, "downsample", None) is None
                       else ("+ proj(x)", "1×1 projection"))))
    slices = _dense_block(dense)[1]
    den = [(slices[:i], f"[{', '.join(s[2] for s in slices[:i])}]" if i > 1 else "x0", "concat",
            "concat") for i in range(1, len(slices) + 1)]
    scale = 1.0 / max(sum(s[0] for s in state[0]) for state in res + den)
    res_top = max(state[0][0][0] for state in res) * scale
    rows = (("residual", "ResNet: add the block's output to its input", res, res_top),
            ("dense", "DenseNet: concatenate the layer's output to its input", den, 1.0))
    with style.context():
        d = new_figure(6.4, 2.2 + 3.4 * (res_top + 0.75) / 1.75, "addition vs concatenation")
        # row heights proportional to their data range: one channel is as tall in both rows
        axes = d.figure.subplots(2, 1, gridspec_kw={"height_ratios": [res_top + 0.75, 1.75]})
        for ax, (panel, title, states, top) in zip(axes, rows):
            ax.set(xlim=(-0.7, 2 * max(len(res), len(den)) - 1.3), ylim=(-0.38, top + 0.37),
                   title=title)
            ax.axis("off")
            for i, (slices, caption, text, shortcut) in enumerate(states):
                x0, x1, total = 2 * i - 2, 2 * i, sum(s[0] for s in slices)
                height = _stack(ax, d, x1, slices, 0.55, scale, panel=panel, stage=i)
                d.add(ax.text(x1, -0.06, f"{caption}\n{total} ch", ha="center", va="top",
                              fontsize=10), "label", caption, total, panel=panel)
                if i:                # the step here: a block F or a layer Hi adding k channels
                    box = "F" if panel == "residual" else f"H{i}\n+{slices[-1][0]}"
                    mid = 0.5 * scale * min(states[i - 1][0][0][0], slices[0][0])
                    _arrow(ax, (x0 + 0.3, mid), (x1 - 0.3, mid))
                    d.add(ax.text(x0 + 1, mid, box, ha="center", va="center", color="white",
                                  fontsize=10, bbox=dict(boxstyle="round,pad=0.35",
                                                         facecolor=C[panel], edgecolor="none")),
                          "op", box, slices[-1][0], panel=panel)
                    # the shortcut leaves the right of its input's top, goes over the block and
                    # lands left of centre, so consecutive shortcuts stay apart
                    level, left, right = top + 0.12, x0 + 0.14, x1 - 0.14
                    d.add([_arrow(ax, (left, below + 0.02), (left, level), (right, level),
                                  (right, height + 0.02), colour=C[panel]),
                           ax.text(x0 + 1, level + 0.03, text, ha="center", va="bottom",
                                   fontsize=10, color=C[panel])],
                          "skip" if panel == "residual" else "concat", shortcut, panel=panel)
                below = height
        return d


def dense_block_stack(block: nn.Module) -> Drawing:
    """One row per dense layer: the concatenation it reads (the block input, c0 channels, then
    k per earlier layer); the last row is the block's output, c0 + L·k channels."""
    layers, slices = _dense_block(block)
    c0, k, L = slices[0][0], slices[1][0], len(layers)
    names, out = [f"layer {r + 1}" for r in range(L)] + ["output"], sum(s[0] for s in slices)
    fontsize = 10 if L < 16 else 8                       # deep blocks: thinner rows
    with style.context():
        d = new_figure(6.4, 1.3 + 0.34 * min(L + 1, 16), "dense block channel stack")
        ax = d.figure.subplots()
        for r, name in enumerate(names):
            left = _stack(ax, d, L - r, slices[:r + 1], 0.7, vertical=False, row=r)
            if r < L:
                first, new = layers[r][0], slices[r + 1][0]
                if first.in_channels != left:
                    raise ValueError(f"layer {r + 1} reads {first.in_channels} channels but the "
                                     f"earlier outputs add up to {left}: not a dense block")
                inner = f" → 1×1: {first.out_channels}" if len(layers[r]) > 1 else ""
                note = f"reads {left}{inner} → +{new}"
            else:                                   # the output: c0 + L·k if the widths add up
                note = f"{left} = {c0} + {L}×{k}" if left == c0 + L * k else f"{left}"
            d.add(ax.text(left + 0.01 * out, L - r, note, va="center", fontsize=fontsize),
                  "row", name, left, row=r)
        ax.set_yticks(range(L + 1), names[::-1], fontsize=fontsize + 1)
        ax.set(xlim=(0, out * 1.45), ylim=(-0.6, L + 0.6),
               title=f"Dense block: c0 = {c0}, growth rate k = {k}, L = {L}",
               xlabel="channels (concatenated input of each layer)")
        ax.grid(False)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        return d


def transition_diagram(transition: nn.Module, size: int = 28) -> Drawing:
    """A transition on an m-channel, size×size input: 1×1 conv to floor(θ·m), then pooling;
    shapes measured by running a copy of each child (the module keeps its mode and statistics)."""
    check_int("size", size, 2)
    m = next((conv.in_channels for conv in _convs(transition)), None)
    if m is None:
        raise ValueError(f"transition must contain a convolution, got {type(transition).__name__}")
    shapes, x = [("input", (m, size, size))], torch.zeros(1, m, size, size)
    with torch.no_grad():
        for child in copy.deepcopy(transition).eval().children():
            before, x = x.shape, child(x)
            if x.shape != before:
                shapes.append((_child_text(child), tuple(x.shape[1:])))
    (out, h, w), tallest = shapes[-1][1], max(s[1][0] for s in shapes)
    with style.context():
        d = new_figure(6.4, 3.4, "transition")
        ax = d.figure.subplots()
        ax.axis("off")
        ax.set(xlim=(-0.8, 2.4 * len(shapes) - 1.2), ylim=(-0.55, 1.25))
        for i, (op, (c, ch, cw)) in enumerate(shapes):
            x0 = 2.4 * i                                 # height: channels, width: resolution
            bar = ax.bar(x0, c / tallest, 0.9 * cw / size, 0,
                         color=C["transition"] if i else C["input"], edgecolor="white")
            d.add(bar[0], "tensor", op, c, resolution=(ch, cw), index=i)
            d.add(ax.text(x0, -0.08, f"{c} ch\n{ch}×{cw}", ha="center", va="top", fontsize=11),
                  "label", f"{c} ch {ch}×{cw}", c, index=i)
            if i:
                _arrow(ax, (x0 - 1.85, 0.5), (x0 - 0.55, 0.5))
                ax.text(x0 - 1.2, 0.62, op, ha="center", va="bottom", fontsize=10,
                        color=C["neutral"])
        ax.set_title(f"Transition: {m} → ⌊θ·m⌋ = {out} channels (θ = {out / m:.2g}), "
                     f"{size}×{size} → {h}×{w}", fontsize=12)
        ax.text(-0.75, 1.2, "bar height: channels, bar width: resolution", fontsize=9,
                color=C["neutral"], va="top")
        d.add([], "theta", "out/in channels", out / m, m=m, out=out)
        return d


def _child_text(child: nn.Module) -> str:
    """A transition step's label, e.g. "1×1 conv" or "2×2 avg pool"."""
    kind = {nn.Conv2d: "conv", nn.AvgPool2d: "avg pool", nn.MaxPool2d: "max pool"}.get(type(child))
    k = getattr(child, "kernel_size", 0)
    k = (k, k) if isinstance(k, int) else k
    return f"{k[0]}×{k[1]} {kind}" if kind else type(child).__name__


def weight_slices(conv: nn.Conv2d, widths: Sequence[int]):
    """The figure of ``conv.weight`` (summed over the kernel window) cut into the column blocks
    that multiply inputs X0, X1, ... of ``widths`` channels (adding up to ``conv.in_channels``),
    beside them: ``W * [X0, ..., Xl] = sum_i Wi * Xi`` (chapter 2)."""
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1 or sum(widths) != conv.in_channels:
        raise ValueError(f"widths must be positive and add up to conv.in_channels = "
                         f"{conv.in_channels}, got {widths}")
    matrix = conv.weight.detach().float().sum(dim=(2, 3)).cpu().numpy()
    out_ch, in_ch = matrix.shape
    limit = float(abs(matrix).max()) or 1.0
    starts = list(accumulate(widths, initial=0))
    with style.context():
        fig = new_figure(8.0, 3.6, "weight slices").figure
        left, right = fig.subplots(1, 2, width_ratios=[in_ch, 3])
        left.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                    extent=(0, in_ch, out_ch, 0))
        left.bar(starts[:-1], out_ch, widths, 0, align="edge", fill=False, lw=2.5,
                 edgecolor=C["neutral"])
        left.secondary_xaxis("top").set_xticks([s + w / 2 for s, w in zip(starts, widths)],
                                               [f"W{i}: {w} cols" for i, w in enumerate(widths)])
        left.set(xlabel=f"input channel of the concatenation ({in_ch})",
                 ylabel=f"output channel ({out_ch})")
        left.set_title(f"weight of a real {conv.kernel_size[0]}x{conv.kernel_size[1]} conv, "
                       f"split by input", fontsize=11)
        left.grid(False)
        bars = right.bar(0, widths, 1, starts[:-1], align="edge", alpha=0.8, edgecolor="white",
                         color=[C["input"]] + [C["dense"]] * (len(widths) - 1))
        right.bar_label(bars, [f"X{i}\n{w} ch" for i, w in enumerate(widths)],
                        label_type="center", fontsize=10, color="white")
        right.set(xlim=(0, 1), ylim=(in_ch, 0))
        right.set_axis_off()
        right.set_title("[X0, ...]", fontsize=11)
    return fig


def dual_path_widths(block: nn.Module) -> list[dict]:
    """Per layer of a ``models.DualPathBlock``: channels read (residual, dense) and written
    (added to the residual path, appended to the dense path), from the modules' own sizes."""
    if not isinstance(block, models.DualPathBlock):
        raise ValueError(f"block must be a dnet_lib DualPathBlock, got {type(block).__name__}")
    return [dict(layer=i + 1, reads=layer.conv1.in_channels, residual=layer.residual_channels,
                 dense=layer.conv1.in_channels - layer.residual_channels,
                 added=layer.residual_channels, appended=layer.growth_rate)
            for i, layer in enumerate(block.layers)]


def plot_dual_path_block(block: nn.Module):
    """The figure of a dual-path block (chapter 9), a row per layer: what it reads (the residual
    path and the dense path's slices) and what it writes (added, appended)."""
    from matplotlib.patches import Patch
    kinds = {"residual": ("#3182bd", "residual path (read, then updated by addition)"),
             "dense input": ("#fdae6b", ""),        # the block's input dense path: no legend
             "dense": ("#e6550d", "dense path: one slice per earlier layer"),
             "added": ("#9ecae1", "written: added to the residual path"),
             "appended": ("#fd8d3c", "written: appended to the dense path")}
    rows = dual_path_widths(block)
    fig, ax = subplots(figsize=(8, 0.7 * len(rows) + 1.2))
    widest, k = max(r["reads"] for r in rows), rows[0]["appended"]
    x0 = widest * 1.5                            # where the written channels start
    for r in rows:
        y = -r["layer"]
        read = [(r["residual"], "residual"), (block.dense_channels, "dense input")]
        read += [(k, "dense")] * ((r["dense"] - block.dense_channels) // k)
        for at, parts in ((0, read), (x0, [(r["added"], "added"), (r["appended"], "appended")])):
            stacked_bar(ax, y, [p[0] for p in parts], [kinds[p[1]][0] for p in parts], 0.6, at)
        ax.annotate(f"reads {r['reads']}", (x0 - widest * 0.05, y), (r["reads"] + widest * 0.02, y),
                    va="center", fontsize=7, arrowprops=dict(arrowstyle="->", color="0.4", lw=0.8))
        ax.text(x0 + r["added"] / 2, y, f"+ {r['added']}", ha="center", va="center", fontsize=7)
        ax.text(x0 + r["added"] + r["appended"] + widest * 0.02, y, f"appends {r['appended']}",
                va="center", fontsize=7)
    ax.set_yticks([-r["layer"] for r in rows], [f"layer {r['layer']}" for r in rows])
    ax.set(xticks=[], xlim=(0, widest * 2.7))
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    ax.legend(handles=[Patch(color=c, label=t) for c, t in kinds.values() if t],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize="small",
              frameon=False)
    ax.set_title(f"dual-path block: residual width {rows[0]['residual']}, growth {k}", fontsize=9)
    return fig
