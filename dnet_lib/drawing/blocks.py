"""Block diagrams read from real modules: what a residual block, a dense block and a transition do.

* ``residual_vs_dense``   -- the same input through residual blocks (add) and a dense block (concat)
* ``dense_block_stack``   -- the input each dense layer reads, growing by k per layer
* ``transition_diagram``  -- a transition: channels floor(θ·m), resolution halved

Widths are read from the modules' convolutions and shapes measured by running them: change the
module and the drawing changes.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import models, style
from ..validate import check_int
from .figure import Canvas, Drawing, Part, new_figure, shades

__all__ = ["residual_vs_dense", "dense_block_stack", "transition_diagram"]

C = style.COLORS


# --------------------------------------------------------------------------- reading modules
def _convs(module: nn.Module) -> list[nn.Conv2d]:
    """The module's own convolutions in order (a projection shortcut is not the main path)."""
    return [m for name, m in module.named_children() if isinstance(m, nn.Conv2d)]


def _layer_widths(layer: nn.Module) -> tuple[int, int, int | None]:
    """(channels read, channels produced, bottleneck width or None) of a dense layer."""
    convs = _convs(layer)
    if not convs:
        raise ValueError(f"expected a dense layer with convolutions, got {type(layer).__name__}")
    inner = convs[0].out_channels if len(convs) > 1 else None
    return convs[0].in_channels, convs[-1].out_channels, inner


def _dense_layers(block: nn.Module) -> list[nn.Module]:
    if not isinstance(block, (nn.ModuleDict, nn.Sequential)) or not len(block):
        raise ValueError(f"dense must be a dense block (e.g. models.DenseBlock), "
                         f"got {type(block).__name__}")
    return list(block.values()) if isinstance(block, nn.ModuleDict) else list(block)


def _residual_blocks(residual: nn.Module) -> list[nn.Module]:
    blocks = list(residual) if isinstance(residual, nn.Sequential) else [residual]
    for b in blocks:
        if not isinstance(b, (models.BasicBlock, models.Bottleneck)):
            raise ValueError(f"residual must be a BasicBlock, a Bottleneck or an nn.Sequential "
                             f"of them, got {type(b).__name__}")
    return blocks


def _kernel_text(conv: nn.Conv2d) -> str:
    k = conv.kernel_size
    return f"{k[0]}×{k[1]}" + (f"/{conv.stride[0]}" if conv.stride[0] > 1 else "")


# --------------------------------------------------------------------------- tensor bars
def _bar(ax, canvas: Canvas, x: float, slices: Sequence[tuple[int, str, str]], scale: float,
         width: float = 0.55, y0: float = 0.0, **meta) -> float:
    """A tensor as a vertical bar of stacked channel slices (channels, colour, label); its top."""
    from matplotlib.patches import Rectangle
    y = y0
    for channels, colour, label in slices:
        h = channels * scale
        rect = ax.add_patch(Rectangle((x - width / 2, y), width, h, facecolor=colour,
                                      edgecolor="white", linewidth=1.2))
        canvas.add(rect, "slice", label, channels, **meta)
        y += h
    return y


def _arrow(ax, start, end, colour=C["neutral"], rad: float = 0.0, style_="-|>", lw=1.6):
    from matplotlib.patches import FancyArrowPatch
    return ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style_, mutation_scale=12,
                                        color=colour, linewidth=lw,
                                        connectionstyle=f"arc3,rad={rad}"))


def _op_box(ax, x: float, y: float, text: str, colour: str):
    return ax.text(x, y, text, ha="center", va="center", fontsize=10, color="white",
                   bbox=dict(boxstyle="round,pad=0.35", facecolor=colour, edgecolor="none"))


# --------------------------------------------------------------------------- 1. add vs concat
def residual_vs_dense(residual: nn.Module | None = None, dense: nn.Module | None = None) -> Drawing:
    """Residual blocks (top) and a dense block (bottom) on the same input x.

    Top: each block computes F(x) and *adds* it to x: the state keeps its width.
    Bottom: each dense layer computes k new channels and *concatenates* them: the state grows and
    every earlier slice stays visible. Bar heights are the real channel counts on one scale.
    Defaults: two ``BasicBlock(64, 64)`` and ``DenseBlock(2, 64, 32, bottleneck=False)``.
    """
    if residual is None:
        residual = nn.Sequential(models.BasicBlock(64, 64), models.BasicBlock(64, 64))
    if dense is None:
        dense = models.DenseBlock(2, 64, 32, bottleneck=False)
    blocks, layers = _residual_blocks(residual), _dense_layers(dense)
    res_widths = [_convs(blocks[0])[0].in_channels] + [_convs(b)[-1].out_channels for b in blocks]
    dense_in = _layer_widths(layers[0])[0]
    dense_new = [_layer_widths(layer)[1] for layer in layers]
    tallest = max(max(res_widths), dense_in + sum(dense_new))
    steps = max(len(blocks), len(layers))
    scale = 1.0 / tallest
    res_top = max(res_widths) * scale
    with style.context():
        fig, canvas = new_figure(6.4, 2.2 + 3.4 * (res_top + 0.75) / 1.75,
                                 "addition vs concatenation")
        # row heights proportional to their data range: one channel is as tall in both rows
        ax_res, ax_den = fig.subplots(2, 1, gridspec_kw={"height_ratios": [res_top + 0.75, 1.75]})
        for ax, top in ((ax_res, res_top), (ax_den, 1.0)):
            ax.set_xlim(-0.7, 2 * steps + 0.7)
            ax.set_ylim(-0.38, top + 0.37)
            ax.axis("off")

        def skip(ax, x0, x1, y_from, y_to, level, colour, text):
            """Shortcut drawn around the block: up, across, down onto the next tensor. It leaves
            the right of its input's top and lands left of centre, so consecutive shortcuts stay
            apart: each block's shortcut starts at that block's own input."""
            x0, x1 = x0 + 0.14, x1 - 0.14
            line = ax.plot([x0, x0, x1], [y_from + 0.02, level, level], color=colour, lw=1.6)[0]
            arrow = _arrow(ax, (x1, level), (x1, y_to + 0.02), colour)
            ax.text((x0 + x1) / 2, level + 0.03, text, ha="center", va="bottom", fontsize=10,
                    color=colour)
            return [line, arrow]

        # residual: x -> F -> x + F(x), the shortcut adds x
        ax_res.set_title("ResNet: add the block's output to its input")
        _bar(ax_res, canvas, 0, [(res_widths[0], C["input"], "x")], scale, panel="residual")
        canvas.add(ax_res.text(0, -0.06, f"x\n{res_widths[0]} ch", ha="center", va="top",
                               fontsize=10), "label", "x", res_widths[0], panel="residual")
        for i, block in enumerate(blocks):
            x0, x1 = 2 * i, 2 * i + 2
            convs = _convs(block)
            text = "F: " + ", ".join(_kernel_text(c) for c in convs)
            mid = 0.5 * min(res_widths[i], res_widths[i + 1]) * scale
            _arrow(ax_res, (x0 + 0.3, mid), (x1 - 0.3, mid))
            canvas.add(_op_box(ax_res, x0 + 1, mid, "F", C["residual"]),
                       "op", text, len(convs), panel="residual")
            projection = getattr(block, "downsample", None) is not None
            shortcut = "1×1 projection" if projection else "identity"
            canvas.add(skip(ax_res, x0, x1, res_widths[i] * scale, res_widths[i + 1] * scale,
                            res_top + 0.12, C["add"], "+ x" if not projection else "+ proj(x)"),
                       "skip", shortcut, None, panel="residual")
            _bar(ax_res, canvas, x1, [(res_widths[i + 1], C["add"], f"x{i + 1}")], scale,
                 panel="residual")
            canvas.add(ax_res.text(x1, -0.06, f"x + F(x)\n{res_widths[i + 1]} ch", ha="center",
                                   va="top", fontsize=10), "label", f"x{i + 1}",
                       res_widths[i + 1], panel="residual")

        # dense: x0 -> H1 -> [x0, x1] -> H2 -> [x0, x1, x2] ..., the shortcut keeps every slice
        ax_den.set_title("DenseNet: concatenate the layer's output to its input")
        slices = [(dense_in, C["input"], "x0")]
        _bar(ax_den, canvas, 0, slices, scale, panel="dense", stage=0)
        canvas.add(ax_den.text(0, -0.06, f"x0\n{dense_in} ch", ha="center", va="top",
                               fontsize=10), "label", "x0", dense_in, panel="dense")
        tones = shades(C["dense"], len(layers))
        for i, layer in enumerate(layers):
            c_in, k, inner = _layer_widths(layer)
            x0, x1 = 2 * i, 2 * i + 2
            text = f"H{i + 1}: " + ", ".join(_kernel_text(c) for c in _convs(layer))
            before = sum(s[0] for s in slices) * scale
            mid = 0.5 * dense_in * scale
            _arrow(ax_den, (x0 + 0.3, mid), (x1 - 0.3, mid), C["concat"])
            canvas.add(_op_box(ax_den, x0 + 1, mid, f"H{i + 1}\n+{k}", C["dense"]),
                       "op", text, k, panel="dense", reads=c_in)
            slices = slices + [(k, tones[i], f"x{i + 1}")]
            after = sum(s[0] for s in slices) * scale
            skip(ax_den, x0, x1, before, after, 1.12, C["concat"], "concat")
            _bar(ax_den, canvas, x1, slices, scale, panel="dense", stage=i + 1)
            total = sum(s[0] for s in slices)
            parts = " + ".join(str(s[0]) for s in slices)
            names = ", ".join(s[2] for s in slices)
            canvas.add(ax_den.text(x1, -0.06, f"[{names}]\n{total} ch", ha="center",
                                   va="top", fontsize=10), "label", parts, total, panel="dense")
        return canvas.done()


# --------------------------------------------------------------------------- 2. channel stack
def dense_block_stack(block: nn.Module) -> Drawing:
    """One row per dense layer: the concatenation it reads, slice by slice, with its real width.

    Row l shows the block input (c0 channels, grey) and the k channels of each earlier layer;
    the last row is the block's output, c0 + L·k channels.
    """
    layers = _dense_layers(block)
    widths = [_layer_widths(layer) for layer in layers]
    c0 = widths[0][0]
    out_channels = c0 + sum(w[1] for w in widths)
    rows = len(layers) + 1
    tones = shades(C["dense"], len(layers))
    with style.context():
        # deep blocks: thinner rows
        fig, canvas = new_figure(6.4, 1.3 + 0.34 * min(rows, 16), "dense block channel stack")
        fontsize = 10 if rows <= 16 else 8
        ax = fig.subplots()
        from matplotlib.patches import Rectangle
        for r in range(rows):
            y = rows - 1 - r
            slices = [(c0, C["input"], "x0")] + [(widths[j][1], tones[j], f"x{j + 1}")
                                                  for j in range(r)]
            left = 0
            for channels, colour, name in slices:
                rect = ax.add_patch(Rectangle((left, y - 0.35), channels, 0.7, facecolor=colour,
                                              edgecolor="white", linewidth=0.8))
                canvas.add(rect, "slice", name, channels, row=r)
                left += channels
            if r < len(layers):
                reads, k, inner = widths[r]
                if reads != left:
                    raise ValueError(f"layer {r + 1} reads {reads} channels but the earlier "
                                     f"outputs add up to {left}: not a dense block")
                name = f"layer {r + 1}"
                note = f"reads {reads}" + (f" → 1×1: {inner}" if inner else "") + f" → +{k}"
            else:
                name, note = "output", f"{left} = {c0} + {len(layers)}×{widths[0][1]}" \
                    if len({w[1] for w in widths}) == 1 else f"{left}"
            canvas.add(ax.text(left + 0.01 * out_channels, y, note, va="center",
                               fontsize=fontsize),
                       "row", name, left, row=r)
        row_names = ["output" if r == rows - 1 else f"layer {r + 1}" for r in range(rows)]
        ax.set_yticks(range(rows), row_names[::-1], fontsize=fontsize + 1)
        ax.set_xlim(0, out_channels * 1.45)
        ax.set_ylim(-0.6, rows - 0.4)
        ax.grid(False)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        style.label(ax, x="channels (concatenated input of each layer)")
        ax.set_title(f"Dense block: c0 = {c0}, growth rate k = {widths[0][1]}, L = {len(layers)}")
        return canvas.done()


# --------------------------------------------------------------------------- 3. transition
def transition_diagram(transition: nn.Module | None = None, size: int = 28) -> Drawing:
    """A transition layer on an m-channel, size×size input: 1×1 conv to floor(θ·m), then pooling.

    Shapes are measured by running each child of the module on a zero tensor (eval mode, so
    BatchNorm statistics are untouched). Default: ``Transition(256, 128)`` (θ = 0.5).
    """
    check_int("size", size, 2)
    if transition is None:
        transition = models.Transition(256, 128)
    convs = [m for m in transition.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"transition must contain a convolution, got {type(transition).__name__}")
    m = convs[0].in_channels
    shapes = [("input", (m, size, size))]
    was_training = transition.training
    transition.eval()
    try:
        x = torch.zeros(1, m, size, size)
        with torch.no_grad():
            for name, child in transition.named_children():
                y = child(x)
                if y.shape != x.shape:
                    shapes.append((f"{name}: {_child_text(child)}", tuple(y.shape[1:])))
                x = y
    finally:
        transition.train(was_training)
    theta = shapes[-1][1][0] / m
    tallest, widest = max(s[1][0] for s in shapes), size
    with style.context():
        fig, canvas = new_figure(6.4, 3.4, "transition")
        ax = fig.subplots()
        ax.axis("off")
        from matplotlib.patches import Rectangle
        n = len(shapes)
        ax.set_xlim(-0.8, 2.4 * (n - 1) + 1.2)
        ax.set_ylim(-0.55, 1.25)
        for i, (step, (c, h, w)) in enumerate(shapes):
            x0 = 2.4 * i
            bw, bh = 0.9 * w / widest, c / tallest         # width: resolution, height: channels
            colour = C["input"] if i == 0 else C["transition"]
            rect = ax.add_patch(Rectangle((x0 - bw / 2, 0), bw, bh, facecolor=colour,
                                          edgecolor="white"))
            canvas.add(rect, "tensor", step, c, resolution=(h, w), index=i)
            canvas.add(ax.text(x0, -0.08, f"{c} ch\n{h}×{w}", ha="center", va="top", fontsize=11),
                       "label", f"{c} ch {h}×{w}", c, index=i)
            if i:
                _arrow(ax, (2.4 * (i - 1) + 0.55, 0.5), (x0 - 0.55, 0.5))
                op = step.split(": ", 1)[1]
                ax.text(x0 - 1.2, 0.62, op, ha="center", va="bottom", fontsize=10,
                        color=C["neutral"])
        out_c = shapes[-1][1][0]
        ax.set_title(f"Transition: {m} → ⌊θ·m⌋ = {out_c} channels (θ = {theta:.2g}), "
                     f"{size}×{size} → {shapes[-1][1][1]}×{shapes[-1][1][2]}", fontsize=12)
        ax.text(-0.75, 1.2, "bar height: channels, bar width: resolution", fontsize=9,
                color=C["neutral"], va="top")
        canvas.parts.append(Part("theta", "out/in channels", theta, "", {"m": m, "out": out_c}))
        return canvas.done()


def _child_text(child: nn.Module) -> str:
    if isinstance(child, nn.Conv2d):
        return f"{_kernel_text(child)} conv"
    if isinstance(child, (nn.AvgPool2d, nn.MaxPool2d)):
        k = child.kernel_size if isinstance(child.kernel_size, int) else child.kernel_size[0]
        return f"{k}×{k} {'avg' if isinstance(child, nn.AvgPool2d) else 'max'} pool"
    return type(child).__name__

