"""Explorers for DenseNet's two knobs: the growth rate k and the compression θ. Both draw.

``growth_rate_explorer()`` and ``compression_explorer()`` return an object that Jupyter displays.
It carries two views of the same numbers, all computed by ``dnet_lib.arith``:

* ``text/html`` for the static book (no kernel, no network): sliders and an SVG drawing redrawn
  by a few lines of our own JavaScript. The growth-rate page computes with constants that
  Python generates from ``arith`` (``growth_tables()``: per-layer quantities are affine in the
  layer's input width, and the tables hold those lines); the compression page swaps SVG frames
  rendered here in Python. No formula is written twice: ``tests/test_explorers.py`` runs the
  page's JavaScript (node) over a grid and compares it with ``arith``.
* a live ipywidgets view (7.x or 8.x; only in a running kernel, not during the book build):
  Jupyter and Colab prefer it; it recomputes in Python and redraws with ``dnet_lib.drawing``.
"""
from __future__ import annotations

import html
import itertools
import json
import os
from dataclasses import dataclass
from typing import Sequence

from . import arith, models, style
from .units import BYTES_PER_FLOAT32, format_bytes, format_count
from .validate import check_choice, check_compression, check_int

__all__ = [
    "ARCHITECTURES", "THETAS", "IMAGE_SIZES", "Architecture", "architecture_stats",
    "channel_profile", "growth_tables", "profile_svg",
    "growth_rate_explorer", "compression_explorer", "GrowthRateExplorer", "CompressionExplorer",
]

# Slider ranges of the growth-rate explorer (also checked by the browser test).
GROWTH_RATE_RANGE = (1, 48)
NUM_LAYERS_RANGE = (1, 24)
IN_CHANNELS_RANGE = (1, 256)
IMAGE_SIZES = (7, 14, 28, 32, 56, 96, 112, 224)
# θ values offered by the compression explorer: 0.10, 0.15, ..., 1.00. Python and the page use
# these exact floats, so floor(θ·m) agrees on both sides.
THETAS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 21))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# --------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class Architecture:
    """A DenseNet configuration the compression explorer offers (bottleneck and θ vary)."""
    label: str
    growth_rate: int
    block_config: tuple[int, ...]
    num_init_features: int
    stem: models.Stem
    in_channels: int
    num_classes: int
    bottleneck: bool     # the paper's setting, the explorer's starting point
    compression: float
    source: str
    conv_bias: bool = False

    def model_kwargs(self, bottleneck: bool, compression: float) -> dict:
        """Keyword arguments for ``dnet_lib.models.DenseNet`` with these settings."""
        return dict(growth_rate=self.growth_rate, block_config=self.block_config,
                    num_init_features=self.num_init_features, stem=self.stem,
                    in_channels=self.in_channels, num_classes=self.num_classes,
                    bottleneck=bottleneck, compression=compression, conv_bias=self.conv_bias)


ARCHITECTURES: dict[str, Architecture] = {
    "densenet121": Architecture("DenseNet-121 (ImageNet, k=32)", 32, (6, 12, 24, 16), 64,
                                models.IMAGENET_STEM, 3, 1000, True, 0.5, "Huang et al. 2017, Table 1"),
    "cifar_bc100": Architecture("DenseNet-BC L=100, k=12 (CIFAR)", 12, (16, 16, 16), 24,
                                models.CIFAR_STEM, 3, 10, True, 0.5, "Huang et al. 2017, Table 2"),
    "cifar_40": Architecture("DenseNet L=40, k=12 (CIFAR)", 12, (12, 12, 12), 16,
                             models.CIFAR_STEM, 3, 10, False, 1.0, "Huang et al. 2017, Table 2"),
    "d2l": Architecture("d2l DenseNet (Fashion-MNIST, k=32)", 32, (4, 4, 4, 4), 64,
                        models.IMAGENET_STEM, 1, 10, False, 0.5, "d2l.ai, section 8.7",
                        conv_bias=True),
}


def architecture_stats(name: str, bottleneck: bool, compression: float) -> dict:
    """``arith.densenet_stats`` for a preset with this bottleneck setting and θ."""
    check_choice("architecture", name, ARCHITECTURES)
    config = models.DenseNetConfig(**ARCHITECTURES[name].model_kwargs(bottleneck, compression))
    return arith.densenet_stats(config)


def channel_profile(stats: dict, growth_rate: int) -> list[int]:
    """Channels carried after the stem, after every dense layer and after every transition.

    ``stats`` is an ``arith.densenet_stats`` result; the per-layer widths come from
    ``arith.dense_block_channels``.
    """
    profile = [stats["stage_channels"][0]]
    for i, block in enumerate(stats["blocks"]):
        profile += arith.dense_block_channels(block["in_channels"], block["num_layers"],
                                              growth_rate)[1:]
        if i < len(stats["transitions"]):
            profile.append(stats["transitions"][i]["out_channels"])
    return profile


# --------------------------------------------------------------------------- display helpers
_counter = itertools.count()


def _uid(prefix: str) -> str:
    # unique per display within a page; os.urandom keeps two kernels' outputs apart too
    return f"{prefix}-{next(_counter)}-{os.urandom(3).hex()}"


def _want_widget() -> bool:
    """A live ipywidgets view only in a running kernel, and not while the book is built."""
    if os.environ.get("DNET_BOOK_BUILD"):
        return False
    try:
        from IPython import get_ipython
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def widget_view(widget) -> dict:
    """The mimebundle entry that shows a live widget, the same for ipywidgets 7 and 8.

    ipywidgets 8 widgets have ``_repr_mimebundle_``; 7.x widgets only ``_ipython_display_``.
    Both front-ends render a view from the widget's ``model_id`` (protocol version 2.0).
    """
    return {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}


def _css() -> str:
    colours = "".join(f"--dnet-{name}: {value}; " for name, value in style.COLORS.items())
    return f"""
<style>
.dnet-explorer {{{colours}border: 1px solid rgba(128,128,128,.45); border-radius: 6px;
  padding: .6em .9em; margin: .5em 0; font-size: .92em; max-width: 46em}}
.dnet-explorer label {{display: inline-block; min-width: 12em}}
.dnet-explorer input[type=range] {{width: 14em; max-width: 60%; vertical-align: middle}}
.dnet-explorer .dnet-value {{display: inline-block; min-width: 3em; font-weight: bold}}
.dnet-explorer table {{border-collapse: collapse; margin-top: .4em}}
.dnet-explorer th, .dnet-explorer td {{padding: .15em .7em; text-align: right;
  border-bottom: 1px solid rgba(128,128,128,.3)}}
.dnet-explorer .dnet-summary {{margin: .4em 0; font-size: 1.05em}}
.dnet-explorer .dnet-note {{opacity: .75; font-size: .9em}}
.dnet-explorer svg {{width: 100%; height: auto; display: block; margin: .3em 0}}
.dnet-explorer svg text {{font-family: sans-serif; fill: currentColor}}
</style>
"""


def _slider(uid: str, role: str, label: str, low: int, high: int, value: int) -> str:
    return (f'<div><label for="{uid}-{role}">{html.escape(label)}</label>'
            f'<input type="range" id="{uid}-{role}" data-role="{role}" min="{low}" max="{high}" '
            f'step="1" value="{value}"> <span class="dnet-value" data-role="{role}-value">'
            f'{value}</span></div>')


def _json_script(role: str, data) -> str:
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" data-role="{role}">{text}</script>'


def _png(drawing) -> bytes:
    png = drawing.to_bytes("png")
    drawing.figure.clear()
    return png


class _Explorer:
    """Shared display logic: text/html always, plus a live widget when a kernel can drive one."""

    def static_html(self) -> str:            # pragma: no cover - overridden
        raise NotImplementedError

    def widget(self):                        # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.static_html()}
        if _want_widget():
            bundle[WIDGET_VIEW] = widget_view(self.widget())
        return bundle


# --------------------------------------------------------------------------- growth rate
def _affine(values_at) -> list[int]:
    """[slope, intercept] of a quantity that is affine in a layer's input width c."""
    y1, y2 = values_at(1), values_at(2)
    return [y2 - y1, 2 * y1 - y2]


def growth_tables() -> dict:
    """The constants the growth-rate page computes with, generated from ``arith``.

    ``params[variant][k - 1]`` and ``inputValues[size]`` are [slope, intercept] lines in the
    input width c (a layer's parameters are affine in c for fixed k; its input holds c·H·W
    values); ``tests/test_explorers.py`` checks them against ``arith`` over the sliders' range.
    """
    ks = range(GROWTH_RATE_RANGE[0], GROWTH_RATE_RANGE[1] + 1)
    params = {name: [_affine(lambda c, k=k, b=b: arith.dense_layer_params(c, k, bottleneck=b))
                     for k in ks] for name, b in (("plain", False), ("bottleneck", True))}
    values = {str(s): _affine(lambda c, s=s: arith.dense_block_stats(
        c, 1, 1, s, bottleneck=False)["layers"][0]["input_values"]) for s in IMAGE_SIZES}
    return {"kMin": GROWTH_RATE_RANGE[0], "params": params, "inputValues": values,
            "bytesPerValue": BYTES_PER_FLOAT32, "sizes": list(IMAGE_SIZES)}


_GROWTH_CALC_JS = """
<script>
(function () {
  // Numbers only from the tables dnet_lib.explorers.growth_tables() generates from arith.
  var T = __TABLES__;
  function line(ab, c) { return ab[0] * c + ab[1]; }
  function blockStats(c0, L, k, size, bottleneck) {
    var p = T.params[bottleneck ? 'bottleneck' : 'plain'][k - T.kMin], v = T.inputValues[size];
    var layers = [], params = 0, inputs = 0;
    for (var i = 0; i < L; i++) {
      var c = c0 + i * k, lp = line(p, c), iv = line(v, c);
      layers.push({layer: i + 1, in_channels: c, out_channels: k, params: lp, input_values: iv});
      params += lp; inputs += iv;
    }
    var out = c0 + L * k, ov = line(v, out);
    return {in_channels: c0, num_layers: L, growth_rate: k, image_size: size,
            bottleneck: bottleneck, layers: layers, out_channels: out, params: params,
            output_values: ov, output_bytes: ov * T.bytesPerValue, layer_input_values: inputs};
  }
  function formatBytes(n) {       // as dnet_lib.units.format_bytes
    var units = ['B', 'KiB', 'MiB', 'GiB'];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(n) < 1024 || units[i] === 'GiB')
        return units[i] === 'B' ? n.toFixed(0) + ' B' : n.toFixed(1) + ' ' + units[i];
      n /= 1024;
    }
  }
  var w = (typeof window !== 'undefined') ? window : globalThis;
  w.dnetExplorers = w.dnetExplorers || {};
  w.dnetExplorers.blockStats = blockStats;
  w.dnetExplorers.formatBytes = formatBytes;
  w.dnetExplorers.bytesPerValue = T.bytesPerValue;
})();
</script>
"""

# Shared start of each explorer's page script: find its root once, define fmt() and get().
_UI_PROLOGUE = """<script>
(function () {
  var root = document.getElementById('__UID__');
  if (!root || root.dataset.ready) return;
  root.dataset.ready = '1';
  var fmt = function (n) { return n.toLocaleString('en-US'); };
  function get(role) { return root.querySelector('[data-role="' + role + '"]'); }
"""

_GROWTH_UI_JS = _UI_PROLOGUE + """  var E = window.dnetExplorers, sizes = __SIZES__, NS = 'http://www.w3.org/2000/svg';
  function el(parent, tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e); return e;
  }
  function niceMax(x) { var p = 1; while (p < x) p *= 2; return p; }
  function drawStack(svg, s) {
    // one row per layer: the slices it reads (c0 grey, then k per earlier layer); then the output
    svg.innerHTML = '';
    var rows = s.layers.length + 1, rowH = rows > 12 ? 13 : 20, left = 58, width = 300;
    var scale = width / niceMax(s.out_channels), h = rows * rowH + 28;
    svg.setAttribute('viewBox', '0 0 400 ' + h);
    for (var r = 0; r < rows; r++) {
      var y = 4 + r * rowH, x = left;
      var reads = r < s.layers.length ? s.layers[r].in_channels : s.out_channels;
      var slices = [s.in_channels]; for (var j = 0; j < r; j++) slices.push(s.growth_rate);
      for (var j = 0; j < slices.length; j++) {
        el(svg, 'rect', {x: x, y: y, width: Math.max(slices[j] * scale, 0.5), height: rowH - 3,
           fill: j === 0 ? 'var(--dnet-input)' : 'var(--dnet-dense)',
           'fill-opacity': j % 2 ? 0.65 : 1, 'data-role': 'slice', 'data-row': r});
        x += slices[j] * scale;
      }
      el(svg, 'text', {x: left - 5, y: y + rowH - 5, 'text-anchor': 'end', 'font-size': 11},
         r < s.layers.length ? 'layer ' + (r + 1) : 'output');
      el(svg, 'text', {x: x + 4, y: y + rowH - 5, 'font-size': 11, 'data-role': 'row-width'},
         String(reads));
    }
    el(svg, 'text', {x: left, y: h - 6, 'font-size': 11},
       'channels each layer reads (axis 0 to ' + niceMax(s.out_channels) + ')');
  }
  function drawBars(svg, values, colour, title) {
    svg.innerHTML = '';
    var n = values.length, w = 270, h = 120, top = Math.max.apply(null, values) || 1;
    svg.setAttribute('viewBox', '0 0 300 160');
    var bw = w / n;
    for (var i = 0; i < n; i++) {
      var bh = h * values[i] / top;
      el(svg, 'rect', {x: 25 + i * bw + bw * 0.1, y: 20 + h - bh, width: bw * 0.8, height: bh,
         fill: colour, 'data-role': 'bar'});
    }
    el(svg, 'line', {x1: 25, y1: 20 + h, x2: 25 + w, y2: 20 + h, stroke: 'currentColor'});
    el(svg, 'text', {x: 25, y: 13, 'font-size': 12}, title);
    el(svg, 'text', {x: 25, y: 155, 'font-size': 11}, 'layer 1 \u2192 ' + n);
  }
  function update() {
    var c0 = +get('in-channels').value, L = +get('num-layers').value,
        k = +get('growth-rate').value, size = sizes[+get('image-size').value],
        b = get('bottleneck').checked;
    get('in-channels-value').textContent = c0;
    get('num-layers-value').textContent = L;
    get('growth-rate-value').textContent = k;
    get('image-size-value').textContent = size + '\\u00d7' + size;
    var s = E.blockStats(c0, L, k, size, b);
    get('out-channels').textContent = s.out_channels;
    get('formula').textContent = c0 + ' + ' + L + ' \\u00d7 ' + k + ' = ' + s.out_channels;
    get('params').textContent = fmt(s.params);
    get('output-values').textContent = fmt(s.output_values);
    get('output-bytes').textContent = E.formatBytes(s.output_bytes);
    get('layers').innerHTML = s.layers.map(function (r) {
      return '<tr><td>' + r.layer + '</td><td>' + r.in_channels + '</td><td>' + r.out_channels +
             '</td><td>' + fmt(r.params) + '</td><td>' + fmt(r.input_values) + '</td></tr>';
    }).join('');
    drawStack(get('stack'), s);
    var p = s.layers.map(function (r) { return r.params; });
    var m = s.layers.map(function (r) { return r.input_values * E.bytesPerValue; });
    drawBars(get('params-bars'), p, 'var(--dnet-dense)',
             'parameters per layer (max ' + fmt(Math.max.apply(null, p)) + ')');
    drawBars(get('memory-bars'), m, 'var(--dnet-bottleneck)',
             'input per layer, one image (max ' + E.formatBytes(Math.max.apply(null, m)) + ')');
  }
  root.querySelectorAll('input').forEach(function (el) {
    el.addEventListener('input', update); el.addEventListener('change', update);
  });
  update();
})();
</script>
"""


class GrowthRateExplorer(_Explorer):
    """Sliders for one dense block: k, L, c0, image size and the bottleneck switch."""

    def __init__(self, in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                 image_size: int = 96, bottleneck: bool = False):
        check_int("in_channels", in_channels, *IN_CHANNELS_RANGE)
        check_int("num_layers", num_layers, *NUM_LAYERS_RANGE)
        check_int("growth_rate", growth_rate, *GROWTH_RATE_RANGE)
        check_choice("image_size", image_size, IMAGE_SIZES)
        self.in_channels, self.num_layers, self.growth_rate = in_channels, num_layers, growth_rate
        self.image_size, self.bottleneck = image_size, bool(bottleneck)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"GrowthRateExplorer(in_channels={self.in_channels}, num_layers={self.num_layers}, "
                f"growth_rate={self.growth_rate}, image_size={self.image_size}, "
                f"bottleneck={self.bottleneck}): out_channels={s['out_channels']}, "
                f"params={s['params']:,}")

    def stats(self) -> dict:
        return arith.dense_block_stats(self.in_channels, self.num_layers, self.growth_rate,
                                       self.image_size, bottleneck=self.bottleneck)

    @staticmethod
    def _rows(stats: dict) -> str:
        return "".join(
            f"<tr><td>{r['layer']}</td><td>{r['in_channels']}</td><td>{r['out_channels']}</td>"
            f"<td>{format_count(r['params'])}</td><td>{format_count(r['input_values'])}</td></tr>"
            for r in stats["layers"])

    def static_html(self) -> str:
        uid = _uid("dnet-growth")
        s = self.stats()
        size_index = IMAGE_SIZES.index(self.image_size)
        checked = " checked" if self.bottleneck else ""
        body = f"""
<div class="dnet-explorer dnet-growth" id="{uid}" data-in-channels="{self.in_channels}"
     data-num-layers="{self.num_layers}" data-growth-rate="{self.growth_rate}">
<div><strong>Growth-rate explorer</strong> (one dense block; numbers from dnet_lib.arith)</div>
{_slider(uid, "growth-rate", "growth rate k", *GROWTH_RATE_RANGE, self.growth_rate)}
{_slider(uid, "num-layers", "layers in the block L", *NUM_LAYERS_RANGE, self.num_layers)}
{_slider(uid, "in-channels", "input channels c0", *IN_CHANNELS_RANGE, self.in_channels)}
<div><label for="{uid}-image-size">image size</label><input type="range" id="{uid}-image-size"
 data-role="image-size" min="0" max="{len(IMAGE_SIZES) - 1}" step="1" value="{size_index}">
 <span class="dnet-value" data-role="image-size-value">{self.image_size}&times;{self.image_size}</span></div>
<div><label for="{uid}-bottleneck">bottleneck (DenseNet-B)</label><input type="checkbox"
 id="{uid}-bottleneck" data-role="bottleneck"{checked}></div>
<div class="dnet-summary">output channels: <span class="dnet-value" data-role="out-channels">{s['out_channels']}</span>
 (<span data-role="formula">{self.in_channels} + {self.num_layers} &times; {self.growth_rate} = {s['out_channels']}</span>);
 parameters: <span class="dnet-value" data-role="params">{format_count(s['params'])}</span></div>
<svg data-role="stack" viewBox="0 0 400 80" style="max-width:36em" role="img"
 aria-label="channel stack: the input each layer reads"></svg>
<div style="display:flex;flex-wrap:wrap"><svg data-role="params-bars" viewBox="0 0 300 160"
 style="width:50%;min-width:15em"></svg><svg data-role="memory-bars" viewBox="0 0 300 160"
 style="width:50%;min-width:15em"></svg></div>
<div>output feature map of one image: <span data-role="output-values">{format_count(s['output_values'])}</span>
 values = <span data-role="output-bytes">{format_bytes(s['output_bytes'])}</span> in float32</div>
<details><summary>per-layer table</summary>
<table><thead><tr><th>layer</th><th>channels in</th><th>channels out (k)</th><th>parameters</th>
<th>input values (one image)</th></tr></thead><tbody data-role="layers">{self._rows(s)}</tbody></table>
</details>
<div class="dnet-note">Layer l reads c0 + (l-1)&middot;k channels; the block returns c0 + L&middot;k.
Parameters count BatchNorm and bias-free convolutions, as in dnet_lib.models.DenseBlock.</div>
</div>"""
        calc = _GROWTH_CALC_JS.replace("__TABLES__", json.dumps(growth_tables(),
                                                                separators=(",", ":")))
        ui = _GROWTH_UI_JS.replace("__UID__", uid).replace("__SIZES__", json.dumps(IMAGE_SIZES))
        return _css() + body + calc + ui

    def drawings(self, in_channels=None, num_layers=None, growth_rate=None, image_size=None,
                 bottleneck=None):
        """The live view's pictures: the real block's channel stack and its per-layer costs."""
        import torch
        from . import drawing
        c0 = self.in_channels if in_channels is None else in_channels
        L = self.num_layers if num_layers is None else num_layers
        k = self.growth_rate if growth_rate is None else growth_rate
        size = self.image_size if image_size is None else image_size
        b = self.bottleneck if bottleneck is None else bottleneck
        with torch.device("meta"):          # structure only: no weights are allocated
            block = models.DenseBlock(L, c0, k, bottleneck=b)
        stats = arith.dense_block_stats(c0, L, k, size, bottleneck=b)
        return drawing.dense_block_stack(block), drawing.block_cost_bars(stats)

    def widget(self):
        import ipywidgets as w
        style_ = {"description_width": "12em"}
        layout = w.Layout(width="32em")
        common = dict(style=style_, layout=layout, continuous_update=False)
        k = w.IntSlider(value=self.growth_rate, min=GROWTH_RATE_RANGE[0],
                        max=GROWTH_RATE_RANGE[1], description="growth rate k", **common)
        layers = w.IntSlider(value=self.num_layers, min=NUM_LAYERS_RANGE[0],
                             max=NUM_LAYERS_RANGE[1], description="layers L", **common)
        c0 = w.IntSlider(value=self.in_channels, min=IN_CHANNELS_RANGE[0],
                         max=IN_CHANNELS_RANGE[1], description="input channels c0", **common)
        size = w.SelectionSlider(options=list(IMAGE_SIZES), value=self.image_size,
                                 description="image size", **common)
        bottleneck = w.Checkbox(value=self.bottleneck, description="bottleneck (DenseNet-B)")
        out = w.HTML()
        stack_img, bars_img = w.Image(format="png"), w.Image(format="png")

        def update(_=None):
            s = arith.dense_block_stats(c0.value, layers.value, k.value, size.value,
                                        bottleneck=bottleneck.value)
            out.value = (
                f"<div>output channels: <b>{s['out_channels']}</b> ({c0.value} + {layers.value} "
                f"&times; {k.value}); parameters: <b>{format_count(s['params'])}</b>; output "
                f"feature map {format_count(s['output_values'])} values = "
                f"{format_bytes(s['output_bytes'])}</div>")
            stack, bars = self.drawings(c0.value, layers.value, k.value, size.value,
                                        bottleneck.value)
            stack_img.value, bars_img.value = _png(stack), _png(bars)

        for control in (k, layers, c0, size, bottleneck):
            control.observe(update, names="value")
        update()
        return w.VBox([k, layers, c0, size, bottleneck, out, stack_img, bars_img])


def growth_rate_explorer(in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                         image_size: int = 96, bottleneck: bool = False) -> GrowthRateExplorer:
    """Display this (last line of a cell) for sliders over one dense block's settings.

    The defaults are d2l's example: 3 input channels, 2 layers, k = 10 -> 23 output channels.
    """
    return GrowthRateExplorer(in_channels, num_layers, growth_rate, image_size, bottleneck)


# --------------------------------------------------------------------------- compression
VARIANT_PANELS = (("B", True, False), ("C", False, True), ("BC", True, True))   # (name, B, C)


def _panel_stats(name: str, theta: float) -> list[tuple[dict, list[int]]]:
    """(stats, channel profile) for DenseNet-B, -C and -BC at this θ (B has θ = 1)."""
    k = ARCHITECTURES[name].growth_rate
    out = []
    for _, bottleneck, compressed in VARIANT_PANELS:
        s = architecture_stats(name, bottleneck, theta if compressed else 1.0)
        out.append((s, channel_profile(s, k)))
    return out


def profile_svg(name: str, theta: float) -> str:
    """Three panels (DenseNet-B, -C, -BC at this θ): channels carried through the whole network.

    The dashed grey line in each panel is the same network without compression (θ = 1); every
    number is an ``arith.densenet_stats`` result. Returned as HTML (one SVG per panel, so they
    wrap on a phone); the static page swaps these frames, the live widget shows them too.
    """
    check_choice("architecture", name, ARCHITECTURES)
    check_compression(theta)
    panels = _panel_stats(name, theta)
    reference = channel_profile(architecture_stats(name, False, 1.0),
                                ARCHITECTURES[name].growth_rate)
    top = max(reference)
    pw, ph, left, head = 180, 110, 36, 40
    colours = {"B": style.COLORS["bottleneck"], "C": style.COLORS["transition"],
               "BC": style.COLORS["dense"]}

    def points(profile):
        # keep only corners: inside a dense block the line is straight (k channels per layer)
        n, last = len(profile) - 1, len(profile) - 1
        keep = [i for i, c in enumerate(profile) if i in (0, last)
                or c - profile[i - 1] != profile[i + 1] - c]
        return " ".join(f"{left + pw * i / n:.1f},{head + ph - ph * profile[i] / top:.1f}"
                        for i in keep)

    parts = [f'<div data-role="profiles" data-theta="{theta:.2f}" '
             f'style="display:flex;flex-wrap:wrap;gap:.3em">']
    for (panel, _, _), (s, profile) in zip(VARIANT_PANELS, panels):
        variant, shown_theta = s["variant"], s["compression"]
        end_y = head + ph - ph * profile[-1] / top
        parts.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + pw + 8} {head + ph + 8}" '
            f'style="flex:1 1 13em;max-width:19em" role="img" data-role="panel" '
            f'data-panel="{panel}" data-variant="{variant}" data-theta="{shown_theta:.2f}" '
            f'data-params="{s["params"]}" data-channels="{",".join(map(str, profile))}" '
            f'aria-label="{variant}: channels carried through the network">'
            f'<text x="{left}" y="14" font-size="13" font-weight="bold">{variant} '
            f'(θ = {shown_theta:.2f})</text>'
            f'<text x="{left}" y="30" font-size="12">{format_count(s["params"])} parameters</text>'
            f'<text x="{left - 3}" y="{head + 9}" font-size="11" text-anchor="end">{top}</text>'
            f'<text x="{left - 3}" y="{head + ph}" font-size="11" text-anchor="end">0</text>'
            f'<line x1="{left}" y1="{head + ph}" x2="{left + pw}" y2="{head + ph}" '
            f'stroke="currentColor" stroke-width="0.8"/>'
            f'<polyline points="{points(reference)}" fill="none" stroke="#999999" '
            f'stroke-width="1.2" stroke-dasharray="3,2"/>'
            f'<polyline points="{points(profile)}" fill="none" stroke="{colours[panel]}" '
            f'stroke-width="2.2"/>'
            f'<text x="{left + pw}" y="{end_y - 5:.1f}" font-size="12" text-anchor="end">'
            f'{profile[-1]}</text></svg>')
    parts.append('<div class="dnet-note" style="flex-basis:100%">channels carried from the stem '
                 'through every dense layer and transition to the classifier; dashed: the same '
                 'network with θ = 1</div></div>')
    return "".join(parts)


_COMPRESSION_JS = _UI_PROLOGUE + """  var data = JSON.parse(root.querySelector('script[data-role="table"]').textContent);
  var frames = JSON.parse(root.querySelector('script[data-role="frames"]').textContent);
  function update() {
    var name = get('architecture').value, arch = data.architectures[name];
    var i = +get('theta').value, theta = data.thetas[i], b = get('bottleneck').checked;
    var s = arch[b ? 'bottleneck' : 'plain'][i], ref = arch[b ? 'bottleneck' : 'plain'][data.thetas.length - 1];
    get('theta-value').textContent = theta.toFixed(2);
    get('variant').textContent = s.variant;
    get('params').textContent = fmt(s.params);
    get('ratio').textContent = (100 * s.params / ref.params).toFixed(1) + '%';
    get('stages').textContent = s.stage_channels.join(' \\u2192 ');
    get('drawing').innerHTML = frames[name][i];
    var rows = [];
    for (var j = 0; j < s.blocks.length; j++) {
      var blk = s.blocks[j], t = s.transitions[j];
      rows.push('<tr><td>' + (j + 1) + '</td><td>' + blk.num_layers + '</td><td>' + blk.in_channels +
                '</td><td>' + blk.out_channels + '</td><td>' + (t ? t.out_channels : '\\u2013') +
                '</td><td>' + fmt(blk.params + (t ? t.params : 0)) + '</td></tr>');
    }
    get('blocks').innerHTML = rows.join('');
    get('source').textContent = arch.source;
  }
  root.querySelectorAll('input, select').forEach(function (el) {
    el.addEventListener('input', update); el.addEventListener('change', update);
  });
  update();
})();
</script>
"""


def _compression_rows(stats: dict) -> str:
    rows = []
    for j, blk in enumerate(stats["blocks"]):
        t = stats["transitions"][j] if j < len(stats["transitions"]) else None
        rows.append(f"<tr><td>{j + 1}</td><td>{blk['num_layers']}</td><td>{blk['in_channels']}</td>"
                    f"<td>{blk['out_channels']}</td><td>{t['out_channels'] if t else '&ndash;'}</td>"
                    f"<td>{format_count(blk['params'] + (t['params'] if t else 0))}</td></tr>")
    return "".join(rows)


def _compact(stats: dict) -> dict:
    keep = ("variant", "params", "stage_channels")
    out = {key: stats[key] for key in keep}
    out["blocks"] = [{k: b[k] for k in ("num_layers", "in_channels", "out_channels", "params")}
                     for b in stats["blocks"]]
    out["transitions"] = [{k: t[k] for k in ("out_channels", "params")} for t in stats["transitions"]]
    return out


class CompressionExplorer(_Explorer):
    """A θ slider, a bottleneck switch and a choice of architecture: channels and parameters."""

    def __init__(self, architecture: str = "densenet121", compression: float = 0.5,
                 bottleneck: bool = True, architectures: Sequence[str] | None = None):
        names = tuple(architectures) if architectures is not None else tuple(ARCHITECTURES)
        for name in names:
            if name not in ARCHITECTURES:
                raise ValueError(f"architectures must be names from {tuple(ARCHITECTURES)}, "
                                 f"got {name!r}")
        if not names:
            raise ValueError("architectures must name at least one architecture, got ()")
        check_choice("architecture", architecture, names)
        check_compression(compression)
        if round(compression, 2) not in THETAS or abs(compression - round(compression, 2)) > 1e-12:
            raise ValueError(f"compression must be one of {THETAS}, got {compression!r}")
        self.architecture, self.names = architecture, names
        self.compression, self.bottleneck = round(compression, 2), bool(bottleneck)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"CompressionExplorer(architecture={self.architecture!r}, "
                f"compression={self.compression}, bottleneck={self.bottleneck}): "
                f"{s['variant']}, stage_channels={s['stage_channels']}, params={s['params']:,}")

    def stats(self) -> dict:
        return architecture_stats(self.architecture, self.bottleneck, self.compression)

    def table(self) -> dict:
        """Everything the static page can show: per architecture, per bottleneck, per θ."""
        out = {"thetas": list(THETAS), "architectures": {}}
        for name in self.names:
            arch = ARCHITECTURES[name]
            out["architectures"][name] = {
                "label": arch.label, "source": arch.source,
                "bottleneck": [_compact(architecture_stats(name, True, t)) for t in THETAS],
                "plain": [_compact(architecture_stats(name, False, t)) for t in THETAS],
            }
        return out

    def frames(self) -> dict:
        """The drawing for every architecture and θ (``profile_svg``), as the page swaps them."""
        return {name: [profile_svg(name, t) for t in THETAS] for name in self.names}

    def static_html(self) -> str:
        uid = _uid("dnet-compression")
        s = self.stats()
        ref = architecture_stats(self.architecture, self.bottleneck, 1.0)
        options = "".join(
            f'<option value="{name}"{" selected" if name == self.architecture else ""}>'
            f'{html.escape(ARCHITECTURES[name].label)}</option>' for name in self.names)
        checked = " checked" if self.bottleneck else ""
        theta_index = THETAS.index(self.compression)
        body = f"""
<div class="dnet-explorer dnet-compression" id="{uid}">
<div><strong>Compression explorer</strong> (whole DenseNet; numbers from dnet_lib.arith)</div>
<div><label for="{uid}-architecture">architecture</label><select id="{uid}-architecture"
 data-role="architecture">{options}</select></div>
<div><label for="{uid}-theta">compression &theta;</label><input type="range" id="{uid}-theta"
 data-role="theta" min="0" max="{len(THETAS) - 1}" step="1" value="{theta_index}">
 <span class="dnet-value" data-role="theta-value">{self.compression:.2f}</span></div>
<div data-role="drawing">{profile_svg(self.architecture, self.compression)}</div>
<div><label for="{uid}-bottleneck">bottleneck (DenseNet-B)</label><input type="checkbox"
 id="{uid}-bottleneck" data-role="bottleneck"{checked}></div>
<div class="dnet-summary"><span data-role="variant">{s['variant']}</span>: parameters
 <span class="dnet-value" data-role="params">{format_count(s['params'])}</span>
 (<span data-role="ratio">{100 * s['params'] / ref['params']:.1f}%</span> of the same network with &theta; = 1)</div>
<div>channels after the stem and after each block (and its transition):
 <span data-role="stages">{' &rarr; '.join(map(str, s['stage_channels']))}</span></div>
<details><summary>per-block table</summary>
<table><thead><tr><th>block</th><th>layers</th><th>channels in</th><th>channels out</th>
<th>after transition</th><th>parameters (block + transition)</th></tr></thead>
<tbody data-role="blocks">{_compression_rows(s)}</tbody></table></details>
<div class="dnet-note">A transition keeps floor(&theta;&middot;m) of a block's m output channels.
Configuration: <span data-role="source">{html.escape(ARCHITECTURES[self.architecture].source)}</span>.</div>
{_json_script("table", self.table())}
{_json_script("frames", self.frames())}
</div>"""
        return _css() + body + _COMPRESSION_JS.replace("__UID__", uid)

    def widget(self):
        import ipywidgets as w
        style_ = {"description_width": "12em"}
        arch = w.Dropdown(options=[(ARCHITECTURES[n].label, n) for n in self.names],
                          value=self.architecture, description="architecture", style=style_,
                          layout=w.Layout(width="32em"))
        theta = w.SelectionSlider(options=list(THETAS), value=self.compression,
                                  description="compression θ", style=style_,
                                  layout=w.Layout(width="32em"))
        bottleneck = w.Checkbox(value=self.bottleneck, description="bottleneck (DenseNet-B)")
        picture, out = w.HTML(), w.HTML()

        def update(_=None):
            s = architecture_stats(arch.value, bottleneck.value, theta.value)
            ref = architecture_stats(arch.value, bottleneck.value, 1.0)
            picture.value = profile_svg(arch.value, theta.value)
            out.value = (
                f"<div>{s['variant']}: parameters <b>{format_count(s['params'])}</b> "
                f"({100 * s['params'] / ref['params']:.1f}% of θ = 1); channels "
                f"{' &rarr; '.join(map(str, s['stage_channels']))}</div>")

        for control in (arch, theta, bottleneck):
            control.observe(update, names="value")
        update()
        return w.VBox([arch, theta, picture, bottleneck, out])


def compression_explorer(architecture: str = "densenet121", compression: float = 0.5,
                         bottleneck: bool = True,
                         architectures: Sequence[str] | None = None) -> CompressionExplorer:
    """Display this (last line of a cell) for a θ slider over a DenseNet's channels and parameters.

    ``architecture`` is the one shown first; ``architectures`` limits the menu (names from
    ``ARCHITECTURES``: densenet121, cifar_bc100, cifar_40, d2l). ``compression`` is one of
    ``THETAS`` (0.10, 0.15, ..., 1.00).
    """
    return CompressionExplorer(architecture, compression, bottleneck, architectures)
