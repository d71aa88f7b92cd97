"""Explorers for DenseNet's two knobs: the growth rate k and the compression θ.

``growth_rate_explorer()`` and ``compression_explorer()`` return an object that Jupyter displays.
It carries two views of the same numbers:

* ``text/html``: sliders with a few lines of their own JavaScript. This is what the HTML book
  shows: it needs no kernel and no network, so a reader of the static page can move the sliders.
* a live ipywidgets view (only in a running kernel with ipywidgets installed, and not during the
  book build): Jupyter and Colab prefer it and recompute in Python.

All numbers come from the arithmetic below, which ``tests/test_explorers.py`` checks against real
``dnet_lib`` models over a grid of settings. The growth-rate page recomputes in JavaScript with
the same two formulas (a layer's channels and parameters); the compression page only looks up a
table computed here.
"""
from __future__ import annotations

import html
import itertools
import json
import math
import os
from dataclasses import dataclass
from typing import Sequence

__all__ = [
    "dense_layer_params", "dense_block_stats", "densenet_stats", "ARCHITECTURES", "THETAS",
    "growth_rate_explorer", "compression_explorer", "GrowthRateExplorer", "CompressionExplorer",
]

BYTES_PER_FLOAT32 = 4
# Slider ranges of the growth-rate explorer (also checked by the browser test).
GROWTH_RATE_RANGE = (1, 48)
NUM_LAYERS_RANGE = (1, 24)
IN_CHANNELS_RANGE = (1, 256)
IMAGE_SIZES = (7, 14, 28, 32, 56, 96, 112, 224)
# θ values offered by the compression explorer: 0.10, 0.15, ..., 1.00. Python and the page use
# these exact floats, so floor(θ·m) agrees on both sides.
THETAS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 21))


def _check_int(name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low \
            or (high is not None and value > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer in {allowed}, got {value!r}")


def _check_theta(compression) -> None:
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) \
            or not math.isfinite(compression) or not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1], got {compression!r}")


# --------------------------------------------------------------------------- arithmetic
def dense_layer_params(in_channels: int, growth_rate: int, bottleneck: bool = False,
                       bn_size: int = 4, conv_bias: bool = False) -> int:
    """Parameters of one ``DenseLayer``: BN (2 per channel) and the convolution(s)."""
    _check_int("in_channels", in_channels, 1)
    _check_int("growth_rate", growth_rate, 1)
    _check_int("bn_size", bn_size, 1)
    bias = 1 if conv_bias else 0
    params = 2 * in_channels                                   # norm1: weight and bias
    if bottleneck:
        width = bn_size * growth_rate
        params += in_channels * width + bias * width           # conv1: 1x1 -> bn_size*k
        params += 2 * width                                    # norm2
        params += 9 * width * growth_rate + bias * growth_rate  # conv2: 3x3 -> k
    else:
        params += 9 * in_channels * growth_rate + bias * growth_rate  # conv1: 3x3 -> k
    return params


def dense_block_stats(in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                      image_size: int = 96, bottleneck: bool = False, bn_size: int = 4,
                      conv_bias: bool = False) -> dict:
    """Channels, parameters and activation sizes of ``DenseBlock(num_layers, in_channels, k)``.

    Activation sizes are for one image of ``image_size`` x ``image_size`` (a dense block keeps
    the spatial size); values count float32 numbers, bytes are 4 per value.
    """
    _check_int("in_channels", in_channels, 1)
    _check_int("num_layers", num_layers, 1)
    _check_int("growth_rate", growth_rate, 1)
    _check_int("image_size", image_size, 1)
    pixels = image_size * image_size
    layers = []
    for i in range(num_layers):
        layer_in = in_channels + i * growth_rate
        layers.append({
            "layer": i + 1,
            "in_channels": layer_in,
            "out_channels": growth_rate,
            "params": dense_layer_params(layer_in, growth_rate, bottleneck, bn_size, conv_bias),
            "input_values": layer_in * pixels,
        })
    out_channels = in_channels + num_layers * growth_rate
    return {
        "in_channels": in_channels, "num_layers": num_layers, "growth_rate": growth_rate,
        "image_size": image_size, "bottleneck": bottleneck,
        "layers": layers,
        "out_channels": out_channels,
        "params": sum(layer["params"] for layer in layers),
        "output_values": out_channels * pixels,
        "output_bytes": out_channels * pixels * BYTES_PER_FLOAT32,
        # every layer reads the concatenation of all earlier maps: the total grows as L^2
        "layer_input_values": sum(layer["input_values"] for layer in layers),
    }


@dataclass(frozen=True)
class Architecture:
    """A DenseNet configuration the compression explorer offers (bottleneck and θ vary)."""
    label: str
    growth_rate: int
    block_config: tuple[int, ...]
    num_init_features: int
    stem: str            # "imagenet", "cifar" or "d2l" as in dnet_lib.models.DenseNet
    in_channels: int
    num_classes: int
    bottleneck: bool     # the paper's setting, the explorer's starting point
    compression: float
    source: str

    def model_kwargs(self, bottleneck: bool, compression: float) -> dict:
        """Keyword arguments for ``dnet_lib.models.DenseNet`` with these settings."""
        return dict(growth_rate=self.growth_rate, block_config=self.block_config,
                    num_init_features=self.num_init_features, stem=self.stem,
                    in_channels=self.in_channels, num_classes=self.num_classes,
                    bottleneck=bottleneck, compression=compression)


ARCHITECTURES: dict[str, Architecture] = {
    "densenet121": Architecture("DenseNet-121 (ImageNet, k=32)", 32, (6, 12, 24, 16), 64,
                                "imagenet", 3, 1000, True, 0.5, "Huang et al. 2017, Table 1"),
    "cifar_bc100": Architecture("DenseNet-BC L=100, k=12 (CIFAR)", 12, (16, 16, 16), 24,
                                "cifar", 3, 10, True, 0.5, "Huang et al. 2017, Table 2"),
    "cifar_40": Architecture("DenseNet L=40, k=12 (CIFAR)", 12, (12, 12, 12), 16,
                             "cifar", 3, 10, False, 1.0, "Huang et al. 2017, Table 2"),
    "d2l": Architecture("d2l DenseNet (Fashion-MNIST, k=32)", 32, (4, 4, 4, 4), 64,
                        "d2l", 1, 10, False, 0.5, "d2l.ai, section 8.7"),
}


def variant_name(bottleneck: bool, compression: float) -> str:
    """DenseNet, DenseNet-B, DenseNet-C or DenseNet-BC (the paper's naming)."""
    suffix = ("B" if bottleneck else "") + ("C" if compression < 1 else "")
    return "DenseNet" + (f"-{suffix}" if suffix else "")


def densenet_stats(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                   num_init_features: int = 64, bottleneck: bool = True, compression: float = 0.5,
                   num_classes: int = 1000, in_channels: int = 3, stem: str = "imagenet",
                   bn_size: int = 4, conv_bias: bool | None = None) -> dict:
    """Channels per stage and parameter counts of ``dnet_lib.models.DenseNet`` with these settings.

    ``stage_channels`` matches ``DenseNet.stage_channels``: the stem's channels, then the channels
    leaving each block (after its transition, if any).
    """
    _check_int("growth_rate", growth_rate, 1)
    _check_int("num_init_features", num_init_features, 1)
    _check_int("num_classes", num_classes, 1)
    _check_int("in_channels", in_channels, 1)
    _check_theta(compression)
    config = tuple(block_config)
    if not config:
        raise ValueError(f"block_config must be a non-empty sequence of positive integers, "
                         f"got {block_config!r}")
    for n in config:
        _check_int("block_config entries", n, 1)
    if stem not in ("imagenet", "cifar", "d2l"):
        raise ValueError(f"stem must be one of ('imagenet', 'cifar', 'd2l'), got {stem!r}")
    if conv_bias is None:
        conv_bias = stem == "d2l"
    bias = 1 if conv_bias else 0

    if stem == "cifar":      # one 3x3 conv
        stem_params = 9 * in_channels * num_init_features + bias * num_init_features
    else:                    # 7x7/2 conv, BN, ReLU, max pool
        stem_params = 49 * in_channels * num_init_features + bias * num_init_features \
            + 2 * num_init_features
    channels = num_init_features
    stage_channels = [channels]
    blocks, transitions = [], []
    block_params = transition_params = 0
    for i, num_layers in enumerate(config):
        block = dense_block_stats(channels, num_layers, growth_rate, 1, bottleneck, bn_size,
                                  conv_bias)
        blocks.append({"in_channels": channels, "num_layers": num_layers,
                       "out_channels": block["out_channels"], "params": block["params"]})
        block_params += block["params"]
        channels = block["out_channels"]
        if i != len(config) - 1:
            out = int(math.floor(compression * channels))
            if out < 1:
                raise ValueError(f"compression={compression} leaves no channels after block "
                                 f"{i + 1} ({channels} channels); use a larger compression")
            params = 2 * channels + channels * out + bias * out   # BN + 1x1 conv
            transitions.append({"in_channels": channels, "out_channels": out, "params": params})
            transition_params += params
            channels = out
        stage_channels.append(channels)
    head_params = 2 * channels + channels * num_classes + num_classes  # final BN + linear
    return {
        "variant": variant_name(bottleneck, compression),
        "compression": compression, "bottleneck": bottleneck,
        "stage_channels": stage_channels, "blocks": blocks, "transitions": transitions,
        "num_features": channels,
        "params": stem_params + block_params + transition_params + head_params,
        "params_stem": stem_params, "params_blocks": block_params,
        "params_transitions": transition_params, "params_head": head_params,
    }


def architecture_stats(name: str, bottleneck: bool, compression: float) -> dict:
    if name not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {tuple(ARCHITECTURES)}, got {name!r}")
    return densenet_stats(**ARCHITECTURES[name].model_kwargs(bottleneck, compression))


# --------------------------------------------------------------------------- display helpers
_counter = itertools.count()


def _uid(prefix: str) -> str:
    # unique per display within a page; os.urandom keeps two kernels' outputs apart too
    return f"{prefix}-{next(_counter)}-{os.urandom(3).hex()}"


def _fmt(n: int) -> str:
    return f"{n:,}"


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


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


_STYLE = """
<style>
.dnet-explorer {border: 1px solid rgba(128,128,128,.45); border-radius: 6px; padding: .6em .9em;
  margin: .5em 0; font-size: .92em; max-width: 46em}
.dnet-explorer label {display: inline-block; min-width: 13em}
.dnet-explorer input[type=range] {width: 14em; vertical-align: middle}
.dnet-explorer .dnet-value {display: inline-block; min-width: 3em; font-weight: bold}
.dnet-explorer table {border-collapse: collapse; margin-top: .4em}
.dnet-explorer th, .dnet-explorer td {padding: .15em .7em; text-align: right;
  border-bottom: 1px solid rgba(128,128,128,.3)}
.dnet-explorer .dnet-summary {margin: .4em 0; font-size: 1.05em}
.dnet-explorer .dnet-note {opacity: .75; font-size: .9em}
</style>
"""


def _slider(uid: str, role: str, label: str, low: int, high: int, value: int) -> str:
    return (f'<div><label for="{uid}-{role}">{html.escape(label)}</label>'
            f'<input type="range" id="{uid}-{role}" data-role="{role}" min="{low}" max="{high}" '
            f'step="1" value="{value}"> <span class="dnet-value" data-role="{role}-value">'
            f'{value}</span></div>')


class _Explorer:
    """Shared display logic: text/html always, plus a live widget when a kernel can drive one."""

    def static_html(self) -> str:            # pragma: no cover - overridden
        raise NotImplementedError

    def widget(self):                        # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.static_html()}
        if _want_widget():
            widget_bundle = self.widget()._repr_mimebundle_()
            view = widget_bundle.get("application/vnd.jupyter.widget-view+json")
            if view is not None:
                bundle["application/vnd.jupyter.widget-view+json"] = view
        return bundle


# --------------------------------------------------------------------------- growth rate
_GROWTH_JS = """
<script>
(function () {
  // Same arithmetic as dnet_lib.explorers.dense_layer_params / dense_block_stats.
  function layerParams(c, k, bottleneck) {
    if (bottleneck) { var w = 4 * k; return 2 * c + c * w + 2 * w + 9 * w * k; }
    return 2 * c + 9 * c * k;
  }
  function blockStats(c0, L, k, size, bottleneck) {
    var layers = [], params = 0, pixels = size * size;
    for (var i = 0; i < L; i++) {
      var c = c0 + i * k, p = layerParams(c, k, bottleneck);
      layers.push({layer: i + 1, in_channels: c, out_channels: k, params: p,
                   input_values: c * pixels});
      params += p;
    }
    var out = c0 + L * k;
    return {layers: layers, out_channels: out, params: params, output_values: out * pixels,
            output_bytes: out * pixels * 4};
  }
  window.dnetExplorers = window.dnetExplorers || {};
  window.dnetExplorers.layerParams = layerParams;
  window.dnetExplorers.blockStats = blockStats;
  var fmt = function (n) { return n.toLocaleString('en-US'); };
  function fmtBytes(n) {
    var units = [['GiB', 1073741824], ['MiB', 1048576], ['KiB', 1024]];
    for (var i = 0; i < units.length; i++)
      if (n >= units[i][1]) return (n / units[i][1]).toFixed(2) + ' ' + units[i][0];
    return n + ' B';
  }
  var root = document.getElementById('__UID__');
  if (!root || root.dataset.ready) return;
  root.dataset.ready = '1';
  var sizes = __SIZES__;
  function get(role) { return root.querySelector('[data-role="' + role + '"]'); }
  function update() {
    var c0 = +get('in-channels').value, L = +get('num-layers').value,
        k = +get('growth-rate').value, size = sizes[+get('image-size').value],
        b = get('bottleneck').checked;
    get('in-channels-value').textContent = c0;
    get('num-layers-value').textContent = L;
    get('growth-rate-value').textContent = k;
    get('image-size-value').textContent = size + '\u00d7' + size;
    var s = blockStats(c0, L, k, size, b);
    get('out-channels').textContent = s.out_channels;
    get('formula').textContent = c0 + ' + ' + L + ' \u00d7 ' + k + ' = ' + s.out_channels;
    get('params').textContent = fmt(s.params);
    get('output-values').textContent = fmt(s.output_values);
    get('output-bytes').textContent = fmtBytes(s.output_bytes);
    var rows = s.layers.map(function (r) {
      return '<tr><td>' + r.layer + '</td><td>' + r.in_channels + '</td><td>' + r.out_channels +
             '</td><td>' + fmt(r.params) + '</td><td>' + fmt(r.input_values) + '</td></tr>';
    });
    get('layers').innerHTML = rows.join('');
  }
  root.querySelectorAll('input').forEach(function (el) {
    el.addEventListener('input', update); el.addEventListener('change', update);
  });
  update();
})();
</script>
"""


class GrowthRateExplorer(_Explorer):
    """Sliders for k, the number of layers, the input channels and the image size of one block."""

    def __init__(self, in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                 image_size: int = 96, bottleneck: bool = False):
        _check_int("in_channels", in_channels, *IN_CHANNELS_RANGE)
        _check_int("num_layers", num_layers, *NUM_LAYERS_RANGE)
        _check_int("growth_rate", growth_rate, *GROWTH_RATE_RANGE)
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size!r}")
        self.in_channels, self.num_layers, self.growth_rate = in_channels, num_layers, growth_rate
        self.image_size, self.bottleneck = image_size, bool(bottleneck)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"GrowthRateExplorer(in_channels={self.in_channels}, num_layers={self.num_layers}, "
                f"growth_rate={self.growth_rate}, image_size={self.image_size}, "
                f"bottleneck={self.bottleneck}): out_channels={s['out_channels']}, "
                f"params={s['params']:,}")

    def stats(self) -> dict:
        return dense_block_stats(self.in_channels, self.num_layers, self.growth_rate,
                                 self.image_size, self.bottleneck)

    @staticmethod
    def _table(stats: dict) -> str:
        rows = "".join(
            f"<tr><td>{r['layer']}</td><td>{r['in_channels']}</td><td>{r['out_channels']}</td>"
            f"<td>{_fmt(r['params'])}</td><td>{_fmt(r['input_values'])}</td></tr>"
            for r in stats["layers"])
        return rows

    def static_html(self) -> str:
        uid = _uid("dnet-growth")
        s = self.stats()
        size_index = IMAGE_SIZES.index(self.image_size)
        checked = " checked" if self.bottleneck else ""
        body = f"""
<div class="dnet-explorer dnet-growth" id="{uid}" data-in-channels="{self.in_channels}"
     data-num-layers="{self.num_layers}" data-growth-rate="{self.growth_rate}">
<div><strong>Growth-rate explorer</strong> (one dense block; computed by dnet_lib)</div>
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
 parameters: <span class="dnet-value" data-role="params">{_fmt(s['params'])}</span></div>
<div>output feature map of one image: <span data-role="output-values">{_fmt(s['output_values'])}</span>
 values = <span data-role="output-bytes">{_fmt_bytes(s['output_bytes'])}</span> in float32</div>
<table><thead><tr><th>layer</th><th>channels in</th><th>channels out (k)</th><th>parameters</th>
<th>input values (one image)</th></tr></thead><tbody data-role="layers">{self._table(s)}</tbody></table>
<div class="dnet-note">Layer l reads c0 + (l-1)&middot;k channels; the block returns c0 + L&middot;k.
Parameters count BatchNorm and bias-free convolutions, as in dnet_lib.models.DenseBlock.</div>
</div>"""
        script = _GROWTH_JS.replace("__UID__", uid).replace("__SIZES__", json.dumps(IMAGE_SIZES))
        return _STYLE + body + script

    def widget(self):
        import ipywidgets as w
        style = {"description_width": "12em"}
        layout = w.Layout(width="32em")
        k = w.IntSlider(self.growth_rate, *GROWTH_RATE_RANGE, description="growth rate k",
                        style=style, layout=layout)
        layers = w.IntSlider(self.num_layers, *NUM_LAYERS_RANGE, description="layers L",
                             style=style, layout=layout)
        c0 = w.IntSlider(self.in_channels, *IN_CHANNELS_RANGE, description="input channels c0",
                         style=style, layout=layout)
        size = w.SelectionSlider(options=list(IMAGE_SIZES), value=self.image_size,
                                 description="image size", style=style, layout=layout)
        bottleneck = w.Checkbox(self.bottleneck, description="bottleneck (DenseNet-B)")
        out = w.HTML()

        def update(_=None):
            s = dense_block_stats(c0.value, layers.value, k.value, size.value, bottleneck.value)
            out.value = (
                f"<div>output channels: <b>{s['out_channels']}</b> ({c0.value} + {layers.value} "
                f"&times; {k.value}); parameters: <b>{_fmt(s['params'])}</b>; output feature map "
                f"{_fmt(s['output_values'])} values = {_fmt_bytes(s['output_bytes'])}</div>"
                "<table><tr><th>layer</th><th>channels in</th><th>out</th><th>parameters</th>"
                f"<th>input values</th></tr>{self._table(s)}</table>")

        for control in (k, layers, c0, size, bottleneck):
            control.observe(update, names="value")
        update()
        return w.VBox([k, layers, c0, size, bottleneck, out])


def growth_rate_explorer(in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                         image_size: int = 96, bottleneck: bool = False) -> GrowthRateExplorer:
    """Display this (last line of a cell) for sliders over one dense block's settings.

    The defaults are d2l's example: 3 input channels, 2 layers, k = 10 -> 23 output channels.
    """
    return GrowthRateExplorer(in_channels, num_layers, growth_rate, image_size, bottleneck)


# --------------------------------------------------------------------------- compression
_COMPRESSION_JS = """
<script>
(function () {
  var root = document.getElementById('__UID__');
  if (!root || root.dataset.ready) return;
  root.dataset.ready = '1';
  var data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  var fmt = function (n) { return n.toLocaleString('en-US'); };
  function get(role) { return root.querySelector('[data-role="' + role + '"]'); }
  function update() {
    var arch = data.architectures[get('architecture').value];
    var i = +get('theta').value, theta = data.thetas[i], b = get('bottleneck').checked;
    var s = arch[b ? 'bottleneck' : 'plain'][i], ref = arch[b ? 'bottleneck' : 'plain'][data.thetas.length - 1];
    get('theta-value').textContent = theta.toFixed(2);
    get('variant').textContent = s.variant;
    get('params').textContent = fmt(s.params);
    get('ratio').textContent = (100 * s.params / ref.params).toFixed(1) + '%';
    get('stages').textContent = s.stage_channels.join(' \u2192 ');
    var rows = [];
    for (var j = 0; j < s.blocks.length; j++) {
      var blk = s.blocks[j], t = s.transitions[j];
      rows.push('<tr><td>' + (j + 1) + '</td><td>' + blk.num_layers + '</td><td>' + blk.in_channels +
                '</td><td>' + blk.out_channels + '</td><td>' + (t ? t.out_channels : '\u2013') +
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
                    f"<td>{_fmt(blk['params'] + (t['params'] if t else 0))}</td></tr>")
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
        if architecture not in names:
            raise ValueError(f"architecture must be one of {names}, got {architecture!r}")
        _check_theta(compression)
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

    def static_html(self) -> str:
        uid = _uid("dnet-compression")
        s = self.stats()
        ref = architecture_stats(self.architecture, self.bottleneck, 1.0)
        options = "".join(
            f'<option value="{name}"{" selected" if name == self.architecture else ""}>'
            f'{html.escape(ARCHITECTURES[name].label)}</option>' for name in self.names)
        data = json.dumps(self.table(), separators=(",", ":")).replace("</", "<\\/")
        checked = " checked" if self.bottleneck else ""
        theta_index = THETAS.index(self.compression)
        body = f"""
<div class="dnet-explorer dnet-compression" id="{uid}">
<div><strong>Compression explorer</strong> (whole DenseNet; computed by dnet_lib)</div>
<div><label for="{uid}-architecture">architecture</label><select id="{uid}-architecture"
 data-role="architecture">{options}</select></div>
<div><label for="{uid}-theta">compression &theta;</label><input type="range" id="{uid}-theta"
 data-role="theta" min="0" max="{len(THETAS) - 1}" step="1" value="{theta_index}">
 <span class="dnet-value" data-role="theta-value">{self.compression:.2f}</span></div>
<div><label for="{uid}-bottleneck">bottleneck (DenseNet-B)</label><input type="checkbox"
 id="{uid}-bottleneck" data-role="bottleneck"{checked}></div>
<div class="dnet-summary"><span data-role="variant">{s['variant']}</span>: parameters
 <span class="dnet-value" data-role="params">{_fmt(s['params'])}</span>
 (<span data-role="ratio">{100 * s['params'] / ref['params']:.1f}%</span> of the same network with &theta; = 1)</div>
<div>channels after the stem and after each block (and its transition):
 <span data-role="stages">{' &rarr; '.join(map(str, s['stage_channels']))}</span></div>
<table><thead><tr><th>block</th><th>layers</th><th>channels in</th><th>channels out</th>
<th>after transition</th><th>parameters (block + transition)</th></tr></thead>
<tbody data-role="blocks">{_compression_rows(s)}</tbody></table>
<div class="dnet-note">A transition keeps floor(&theta;&middot;m) of a block's m output channels.
Configuration: <span data-role="source">{html.escape(ARCHITECTURES[self.architecture].source)}</span>.</div>
<script type="application/json">{data}</script>
</div>"""
        return _STYLE + body + _COMPRESSION_JS.replace("__UID__", uid)

    def widget(self):
        import ipywidgets as w
        style = {"description_width": "12em"}
        arch = w.Dropdown(options=[(ARCHITECTURES[n].label, n) for n in self.names],
                          value=self.architecture, description="architecture", style=style,
                          layout=w.Layout(width="32em"))
        theta = w.SelectionSlider(options=list(THETAS), value=self.compression,
                                  description="compression θ", style=style,
                                  layout=w.Layout(width="32em"))
        bottleneck = w.Checkbox(self.bottleneck, description="bottleneck (DenseNet-B)")
        out = w.HTML()

        def update(_=None):
            s = architecture_stats(arch.value, bottleneck.value, theta.value)
            ref = architecture_stats(arch.value, bottleneck.value, 1.0)
            out.value = (
                f"<div>{s['variant']}: parameters <b>{_fmt(s['params'])}</b> "
                f"({100 * s['params'] / ref['params']:.1f}% of θ = 1); channels "
                f"{' &rarr; '.join(map(str, s['stage_channels']))}</div>"
                "<table><tr><th>block</th><th>layers</th><th>in</th><th>out</th>"
                f"<th>after transition</th><th>parameters</th></tr>{_compression_rows(s)}</table>")

        for control in (arch, theta, bottleneck):
            control.observe(update, names="value")
        update()
        return w.VBox([arch, theta, bottleneck, out])


def compression_explorer(architecture: str = "densenet121", compression: float = 0.5,
                         bottleneck: bool = True,
                         architectures: Sequence[str] | None = None) -> CompressionExplorer:
    """Display this (last line of a cell) for a θ slider over a DenseNet's channels and parameters.

    ``architecture`` is the one shown first; ``architectures`` limits the menu (names from
    ``ARCHITECTURES``: densenet121, cifar_bc100, cifar_40, d2l). ``compression`` is one of
    ``THETAS`` (0.10, 0.15, ..., 1.00).
    """
    return CompressionExplorer(architecture, compression, bottleneck, architectures)
