"""Diagrams drawn from real modules: pass a block or a network, get a picture of *its* structure.

Nothing here is a hand-drawn number: widths are read from the module's convolutions, shapes are
measured by running it, and costs come from ``dnet_lib.arith`` and ``dnet_lib.memory``. Change the
module and the drawing changes (``tests/test_drawing.py`` checks that).

* ``residual_vs_dense``   -- the same input through residual blocks (add) and a dense block (concat)
* ``dense_block_stack``   -- the input each dense layer reads, growing by k per layer
* ``transition_diagram``  -- a transition: channels floor(θ·m), resolution halved
* ``stage_diagram``       -- channels and resolution through two whole networks
* ``layer_costs``         -- parameters, FLOPs and saved activations per layer of two networks

Each returns a ``Drawing``: the matplotlib ``figure`` plus ``parts``, a list of what was drawn with
the real numbers (each part's artists carry the same ``gid``). A ``Drawing`` shows itself as a
PNG when it is the last line of a notebook cell.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from . import arith, memory, models, style
from .units import BYTES_PER_FLOAT32
from .validate import check_int

__all__ = ["Part", "Drawing", "residual_vs_dense", "dense_block_stack", "block_cost_bars",
           "transition_diagram", "stage_diagram", "layer_costs", "trace_widths", "unit_costs"]

C = style.COLORS


# --------------------------------------------------------------------------- result type
@dataclass
class Part:
    """One thing a drawing shows: ``kind`` (e.g. "slice"), a ``label`` and its real ``value``."""
    kind: str
    label: str
    value: float | int | None = None
    gid: str = ""
    meta: dict = field(default_factory=dict)


@dataclass
class Drawing:
    """A figure and the list of parts drawn on it (for tests and for readers who want numbers)."""
    figure: object
    parts: list[Part] = field(default_factory=list)
    title: str = ""

    def find(self, kind: str, **meta) -> list[Part]:
        """Parts of this ``kind`` whose ``meta`` has all the given items."""
        return [p for p in self.parts
                if p.kind == kind and all(p.meta.get(k) == v for k, v in meta.items())]

    def texts(self) -> list[str]:
        """Every text drawn on the figure (labels, titles, annotations)."""
        return [t.get_text() for t in self.figure.findobj(
            lambda a: hasattr(a, "get_text") and callable(a.get_text)) if t.get_text()]

    def to_bytes(self, fmt: str = "png") -> bytes:
        buf = io.BytesIO()
        with style.context():
            self.figure.savefig(buf, format=fmt)
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the figure (format from the suffix: .png, .svg, .pdf) atomically."""
        from .files import atomic_write
        path = Path(path)
        data = self.to_bytes(path.suffix.lstrip(".") or "png")
        atomic_write(path, lambda f: f.write(data))
        return path

    def _repr_png_(self) -> bytes:
        return self.to_bytes("png")

    def __repr__(self) -> str:
        return f"Drawing({self.title!r}, {len(self.parts)} parts)"


class _Canvas:
    """A figure plus the parts list; ``add`` draws an artist and records what it shows."""

    def __init__(self, fig, title: str):
        self.fig, self.parts, self.title = fig, [], title

    def add(self, artist, kind: str, label: str, value=None, **meta):
        gid = f"{kind}-{len(self.parts)}"
        for a in (artist if isinstance(artist, (list, tuple)) else [artist]):
            a.set_gid(gid)
        self.parts.append(Part(kind, label, value, gid, meta))
        return artist

    def done(self) -> Drawing:
        return Drawing(self.fig, self.parts, self.title)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


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


def _model_label(model: nn.Module) -> str:
    """e.g. DenseNet-121, ResNet-50: weighted layers = main-path convolutions + linear layers."""
    depth = sum(1 for name, m in model.named_modules()
                if (isinstance(m, nn.Conv2d) and "downsample" not in name)
                or isinstance(m, nn.Linear))
    return f"{type(model).__name__}-{depth}"


# --------------------------------------------------------------------------- tensor bars
def _bar(ax, canvas: _Canvas, x: float, slices: Sequence[tuple[int, str, str]], scale: float,
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
        fig = _figure(6.4, 2.2 + 3.4 * (res_top + 0.75) / (1.0 + 0.75))
        canvas = _Canvas(fig, "addition vs concatenation")
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
        shades = _shades(C["dense"], len(layers))
        for i, layer in enumerate(layers):
            c_in, k, inner = _layer_widths(layer)
            x0, x1 = 2 * i, 2 * i + 2
            text = f"H{i + 1}: " + ", ".join(_kernel_text(c) for c in _convs(layer))
            before = sum(s[0] for s in slices) * scale
            mid = 0.5 * dense_in * scale
            _arrow(ax_den, (x0 + 0.3, mid), (x1 - 0.3, mid), C["concat"])
            canvas.add(_op_box(ax_den, x0 + 1, mid, f"H{i + 1}\n+{k}", C["dense"]),
                       "op", text, k, panel="dense", reads=c_in)
            slices = slices + [(k, shades[i], f"x{i + 1}")]
            after = sum(s[0] for s in slices) * scale
            skip(ax_den, x0, x1, before, after, 1.12, C["concat"], "concat")
            _bar(ax_den, canvas, x1, slices, scale, panel="dense", stage=i + 1)
            total = sum(s[0] for s in slices)
            parts = " + ".join(str(s[0]) for s in slices)
            names = ", ".join(s[2] for s in slices)
            canvas.add(ax_den.text(x1, -0.06, f"[{names}]\n{total} ch", ha="center",
                                   va="top", fontsize=10), "label", parts, total, panel="dense")
        return canvas.done()


def _shades(colour: str, n: int) -> list[str]:
    """n alternating shades of one colour so neighbouring slices stay distinguishable."""
    from matplotlib.colors import to_rgb
    r, g, b = to_rgb(colour)
    out = []
    for i in range(n):
        f = 0.0 if i % 2 == 0 else 0.35     # lighten every other slice towards white
        out.append((r + (1 - r) * f, g + (1 - g) * f, b + (1 - b) * f))
    return out


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
    shades = _shades(C["dense"], len(layers))
    with style.context():
        fig = _figure(6.4, 1.3 + 0.34 * min(rows, 16))      # deep blocks: thinner rows
        fontsize = 10 if rows <= 16 else 8
        canvas = _Canvas(fig, "dense block channel stack")
        ax = fig.subplots()
        from matplotlib.patches import Rectangle
        for r in range(rows):
            y = rows - 1 - r
            slices = [(c0, C["input"], "x0")] + [(widths[j][1], shades[j], f"x{j + 1}")
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
        fig = _figure(6.4, 2.8)
        canvas = _Canvas(fig, "dense block costs")
        ax_p, ax_m = fig.subplots(1, 2)
        xs = range(1, len(layers) + 1)
        div, unit = _scaled(params, [(1e6, "millions"), (1e3, "thousands"), (1, "")])
        for x, v, bar in zip(xs, params, ax_p.bar(xs, [v / div for v in params],
                                                   color=C["dense"])):
            canvas.add(bar, "bar", f"layer {x}", v, metric="params")
        style.label(ax_p, x="layer", y=f"parameters ({unit})" if unit else "parameters",
                    title=f"total {stats['params']:,}")
        div, unit = _scaled(nbytes, [(2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "B")])
        for x, v, bar in zip(xs, nbytes, ax_m.bar(xs, [v / div for v in nbytes],
                                                  color=C["bottleneck"])):
            canvas.add(bar, "bar", f"layer {x}", v, metric="input_bytes")
        style.label(ax_m, x="layer", y=f"input of the layer ({unit})",
                    title=f"one {size}×{size} image")
        for ax in (ax_p, ax_m):
            ax.grid(axis="x", visible=False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
        fig = _figure(6.4, 3.4)
        canvas = _Canvas(fig, "transition")
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


# --------------------------------------------------------------------------- 4. stages
@dataclass
class WidthPoint:
    """The network's state after one unit: channels carried, resolution, convolutions passed."""
    unit: str
    kind: str            # "input", "stem", "dense", "transition", "residual"
    channels: int
    resolution: int
    convs: int


_UNIT_TYPES = (models.DenseLayer, models.Transition, models.BasicBlock, models.Bottleneck)


def _unit_kind(module: nn.Module) -> str:
    if isinstance(module, models.DenseLayer):
        return "dense"
    if isinstance(module, models.Transition):
        return "transition"
    return "residual"


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Named dense layers, transitions and residual blocks, in registration (= forward) order."""
    out, inside = [], None
    for name, m in model.named_modules():
        if inside is not None and name.startswith(inside + "."):
            continue
        if isinstance(m, _UNIT_TYPES):
            out.append((name, m))
            inside = name
    return out


def _checked_units(model: nn.Module, size: int) -> tuple[list[tuple[str, nn.Module]], int]:
    """The model's units and its input channels; a clear error for sizes and unknown models."""
    check_int("size", size, 1)
    units = _units(model)
    if not units:
        raise ValueError(f"model has no dense layers, transitions or residual blocks: "
                         f"{type(model).__name__}")
    return units, next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def trace_widths(model: nn.Module, size: int = 224) -> list[WidthPoint]:
    """Run one zero image through ``model`` and record the state after every unit (forward hooks).

    For a dense layer the state is the concatenation it adds to (its inputs + its k outputs).
    ``convs`` counts main-path convolutions passed (projection shortcuts excluded). Only shapes
    are read, so a model built under ``with torch.device("meta"):`` is traced without computing.
    """
    units, in_channels = _checked_units(model, size)
    points = [WidthPoint("input", "input", in_channels, size, 0)]
    count = [0]
    handles = []

    def count_conv(name):
        def hook(module, args, output):
            if "downsample" not in name:
                count[0] += 1
        return hook

    def record(name, kind):
        def pre(module, args):
            if len(points) == 1:                     # the first unit sees the stem's output
                x = args[0]
                c = sum(t.shape[1] for t in x) if isinstance(x, (list, tuple)) else x.shape[1]
                first = x[0] if isinstance(x, (list, tuple)) else x
                points.append(WidthPoint("stem", "stem", c, first.shape[-1], count[0]))

        def post(module, args, output):
            x = args[0]
            if kind == "dense":
                c = sum(t.shape[1] for t in x) if isinstance(x, (list, tuple)) else x.shape[1]
                c += output.shape[1]
            else:
                c = output.shape[1]
            points.append(WidthPoint(name, kind, c, output.shape[-1], count[0]))
        return pre, post

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(count_conv(name)))
    for name, m in units:
        pre, post = record(name, _unit_kind(m))
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters(), torch.zeros(())).device   # "meta" works too
            model(torch.zeros(1, in_channels, size, size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return points


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
        fig = _figure(6.4, 5.4)
        canvas = _Canvas(fig, "stages")
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


# --------------------------------------------------------------------------- 5. costs
@dataclass
class UnitCost:
    """One unit's costs for one image: parameters, FLOPs, bytes saved for backward."""
    unit: str
    kind: str            # "stem", "dense", "transition", "residual", "head"
    params: int
    flops: int
    activation_bytes: int


def unit_costs(model: nn.Module, size: int = 32) -> list[UnitCost]:
    """Per-unit parameters (``arith.count_params``, all of them), FLOPs (torch's
    ``FlopCounterMode``, what ``arith.count_flops`` uses) and saved activation bytes
    (``memory.saved_activation_bytes``) for one ``size``×``size`` image. Everything before the first unit is "stem", after the last
    "head"; the columns add up to the whole model's numbers.
    """
    from torch.utils.flop_counter import FlopCounterMode
    units, in_channels = _checked_units(model, size)
    order = [name for name, _ in model.named_modules()]
    first, last = order.index(units[0][0]), order.index(units[-1][0])

    def owner(name: str) -> str:
        for unit, _ in units:
            if name == unit or name.startswith(unit + "."):
                return unit
        if name == "":
            return "head"           # functional ops in the model's own forward come after stem
        position = order.index(name) if name in order else len(order)
        return "stem" if position < first else "head" if position > last else "head"

    rows = {"stem": [0, 0, 0]}
    for unit, _ in units:
        rows[unit] = [0, 0, 0]
    rows["head"] = [0, 0, 0]
    leaves = [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]
    for name, module in leaves:                  # leaf modules hold the parameters
        rows[owner(name)][0] += arith.count_params(module)
    x = torch.zeros(1, in_channels, size, size)
    # FLOPs per leaf: the counter's total before and after each leaf runs (works on every torch
    # version with FlopCounterMode, with or without its per-module breakdown)
    start, handles = {}, []
    counter = FlopCounterMode(display=False)

    def before(name):
        def hook(module, args):
            start[name] = counter.get_total_flops()
        return hook

    def after(name):
        def hook(module, args, output):
            rows[owner(name)][1] += counter.get_total_flops() - start.pop(name)
        return hook

    for name, module in leaves:
        handles.append(module.register_forward_pre_hook(before(name)))
        handles.append(module.register_forward_hook(after(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    counted = sum(r[1] for r in rows.values())
    rows["head"][1] += counter.get_total_flops() - counted   # ops in the model's own forward
    saved = memory.saved_activation_bytes(model, x)
    for name, nbytes in saved.by_module.items():
        rows[owner(name)][2] += nbytes
    kinds = {unit: _unit_kind(m) for unit, m in units}
    return [UnitCost(unit, kinds.get(unit, unit), *vals) for unit, vals in rows.items()]


def _scaled(values: Sequence[float], units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    top = max(values) if values else 0
    for div, name in units:
        if top >= div:
            return div, name
    return units[-1]


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
    metrics = [("params", "parameters", [(1e6, "millions"), (1e3, "thousands"), (1, "")]),
               ("flops", "FLOPs", [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")]),
               ("activation_bytes", "saved activations",
                [(2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "B")])]
    colours = {"stem": C["input"], "head": C["neutral"], "dense": C["dense"],
               "transition": C["transition"], "residual": C["residual"]}
    with style.context():
        fig = _figure(6.4, 6.6)
        canvas = _Canvas(fig, "layer costs")
        axes = fig.subplots(3, 2, sharey="row")
        for row, (key, name, unit_choices) in enumerate(metrics):
            div, unit = _scaled([getattr(c, key) for _, costs in data for c in costs], unit_choices)
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
