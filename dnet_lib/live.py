"""The live page: the trained DenseNet and ResNet (seed 0) in the browser and as a figure.

``Taps`` keeps a model's intermediate maps; ``python -m dnet_tools.onnx_export`` exports them as
ONNX beside ``live_networks.json`` (:func:`load_record`). ``live_view()`` is the page
(``live.html`` + ``live.js``, ONNX Runtime Web from the book's ``_static/onnxruntime/``, models
and images inline: it works offline and from ``file://``); ``static_figure`` draws it in matplotlib.
"""
from __future__ import annotations

import base64
import functools
import html
import json
import re
import uuid
from pathlib import Path
from string import Template

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from . import data, reference, results, style, validate

__all__ = ["RUNS", "Taps", "taps", "load_record", "live_view", "static_figure",
           "page_weight", "runtime_version", "VENDORED"]

RUNS = {"densenet": "densenet-s0", "resnet": "resnet-s0"}     # network -> reference run
RECORD = "live_networks.json"
_HERE = Path(__file__).resolve().parent
VENDORED = _HERE.parent / "_vendor" / "onnxruntime"     # in a checkout of the book


# the submodules whose outputs the page shows (ResNet's stem ends with its max pool)
_TAPPED = re.compile(r"denseblock\d+(\.denselayer\d+)?|layer\d+\.\d+|maxpool")


class Taps(nn.Module):
    """``model``'s forward pass on raw pixels, returning its intermediate maps as well: a tuple
    in the order of ``self.names``, "logits", "probabilities", then the maps. DenseNet:
    "denseblockB.denselayerL" (the layer's new maps), "denseblockB" (the concatenation); ResNet:
    "stem" and "layerS.J" (block J's output). Forward hooks collect them in the order they run."""

    def __init__(self, model: nn.Module, mean: float, std: float):
        super().__init__()
        self.model = model.eval()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        for name, module in model.named_modules():
            if _TAPPED.fullmatch(name := name.removeprefix("features.")):
                shown = "stem" if name == "maxpool" else name
                module.register_forward_hook(functools.partial(self._keep, shown))
        with torch.no_grad():
            self(torch.zeros(1, 1, 28, 28))
        self.names = ["logits", "probabilities", *self._maps]
        self.eval()        # the exporter restores this mode afterwards: it must be eval too

    def _keep(self, name, module, inputs, output):
        self._maps[name] = output

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self._maps = {}
        logits = self.model((pixels - self.mean) / self.std)
        return (logits, torch.softmax(logits, 1), *self._maps.values())


def taps(network: str) -> Taps:
    """The ``Taps`` of the committed reference network ("densenet" or "resnet", seed 0), with
    the reference runs' input normalisation (the training pixels' mean and std)."""
    validate.check_choice("network", network, RUNS)
    (mean,), (std,) = data.dataset_stats(data.load_fashion_mnist(train=True).images)
    return Taps(reference.load_model(RUNS[network]), mean, std)


def load_record(folder: str | Path | None = None) -> dict:
    """The committed ``live_networks.json`` (``dnet_tools.onnx_export`` writes it)."""
    folder = Path(folder) if folder is not None else results.results_dir() / "onnx"
    return results.load(folder / RECORD)


def live_view(folder: str | Path | None = None):
    """The live page (an ``IPython.display.HTML``): ``live.html`` filled with ``live.js``, the ONNX
    models in ``folder`` (default: the committed ones) and their record's images and data."""
    from IPython.display import HTML
    folder = Path(folder) if folder is not None else results.results_dir() / "onnx"
    record = load_record(folder)
    uid, nets = "dnet-live-" + uuid.uuid4().hex[:8], record["networks"]
    shown = {"classes": record["classes"], "labels": record["images"]["labels"],
             "indices": record["images"]["test_indices"],
             "images": record["images"]["pixels_base64"],
             "outputs": {n: info["outputs"] for n, info in nets.items()},
             "pytorch": {n: info["probabilities"] for n, info in nets.items()}}
    models = "".join(
        f'<script type="text/plain" data-role="model-{n}">'
        f'{base64.b64encode((folder / info["file"]).read_bytes()).decode()}</script>'
        for n, info in nets.items())
    picks = "".join(f'<button type="button" data-role="pick" data-index="{i}" title="'
                    f'{html.escape(record["classes"][label])}"><canvas width="28" height="28">'
                    f'</canvas></button>' for i, label in enumerate(record["images"]["labels"]))
    rows = "".join(f'<tr><td>{html.escape(c)}</td><td class="barcell"><div class="bar" '
                   f'style="width:0"></div></td><td class="value"></td></tr>'
                   for c in record["classes"])
    script = (_HERE / "live.js").read_text(encoding="utf-8").replace("__ROOT_ID__", uid)
    return HTML(Template((_HERE / "live.html").read_text(encoding="utf-8")).substitute(
        dense=style.COLORS["densenet"], residual=style.COLORS["resnet"],
        highlight=style.COLORS["highlight"], uid=uid, picks=picks, rows=rows,
        data=json.dumps(shown, separators=(",", ":")).replace("</", "<\\/"), models=models,
        script=script))


def page_weight(view) -> dict[str, int]:
    """Bytes the live page adds to a download: the view's HTML (models, images, script) and
    the vendored runtime files it loads (``_vendor/onnxruntime/``, copied to ``_static/``)."""
    return {"view (models, images, script)": len(view.data.encode("utf-8")),
            **{name: (VENDORED / name).stat().st_size      # what the page loads
               for name in ("ort.wasm.min.js", "ort-wasm-payload.js")}}


def runtime_version() -> str:
    """The vendored ONNX Runtime Web's version (from its licence header)."""
    head = (VENDORED / "ort.wasm.min.js").read_text(encoding="utf-8")[:300]
    return head.split("ONNX Runtime Web v", 1)[1].split()[0]


def _grid(maps: np.ndarray, cols: int) -> np.ndarray:
    """Maps (C, H, W), each scaled to [0, 1], tiled ``cols`` wide with a 1-pixel gap (NaN)."""
    c, h, w = maps.shape
    low, span = maps.min((1, 2), keepdims=True), np.ptp(maps, (1, 2), keepdims=True)
    tiles = np.full((-(-c // cols) * cols, h + 1, w + 1), np.nan)      # whole rows
    tiles[:c, :h, :w] = np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)
    return tiles.reshape(-1, cols, h + 1, w + 1).swapaxes(1, 2).reshape(-1, cols * (w + 1))


def static_figure(image: int = 0):
    """Both networks' probabilities, dense block 1's stack layer by layer and residual stage
    1's maps block by block, for page image ``image`` (drawn from PyTorch's maps)."""
    record = load_record()
    validate.check_int("image", image, 0, len(record["images"]["labels"]) - 1)
    picture = data.load_fashion_mnist(train=False).images[record["images"]["test_indices"][image]]
    with torch.no_grad():          # PyTorch's maps, per network and name
        d, r = ({n: t[0].numpy() for n, t in zip(m.names, m(picture.float().div(255)[None, None]))}
                for m in (taps("densenet"), taps("resnet")))
    layers = sorted(n for n in d if n.startswith("denseblock1."))
    stack, k = d["denseblock1"], d[layers[0]].shape[0]
    c0 = stack.shape[0] - len(layers) * k
    fig = plt.figure(figsize=(11, 6.4))
    grid = fig.add_gridspec(3, 3, width_ratios=[1, 2.4, 2.4], height_ratios=[1, 1, 1.2])
    ax = fig.add_subplot(grid[0, 0], xticks=[], yticks=[], frame_on=False)
    ax.imshow(picture, cmap="gray")
    label = record["classes"][record["images"]["labels"][image]]
    ax.set_title(f"test image {record['images']['test_indices'][image]}\n({label})", fontsize=10)
    ax = fig.add_subplot(grid[1:, 0], xlim=(0, 1), xlabel="probability")
    for shift, net, maps in ((-0.2, "densenet", d), (0.2, "resnet", r)):
        ax.barh(np.arange(10) + shift, maps["probabilities"], height=0.4, color=style.COLORS[net],
                label={"densenet": "DenseNet", "resnet": "ResNet"}[net])
    ax.set_yticks(np.arange(10), record["classes"], fontsize=9)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    cols = 8 if k % 8 == 0 else k                  # a layer's k maps fill whole rows
    per_layer, input_rows = k // cols, -(-c0 // cols)
    h = stack.shape[1] + 1                           # a tile and its gap
    ax = fig.add_subplot(grid[:, 1])
    ax.imshow(_grid(stack, cols), cmap="gray")
    text = dict(ha="right", va="center", fontsize=9)
    for i in range(len(layers)):
        top = (input_rows + i * per_layer) * h - 0.5
        ax.add_patch(plt.Rectangle((-0.5, top), cols * h, per_layer * h, fill=False, lw=2,
                                   color=style.COLORS["dense"]))
        ax.text(-1.5, top + per_layer * h / 2, f"layer {i + 1}\n+{k} maps",
                color=style.COLORS["dense"], **text)
    ax.text(-1.5, input_rows * h / 2, f"block input\n{c0} maps", **text)
    ax.set_title(f"DenseNet block 1: {c0} + {len(layers)} x {k} = {stack.shape[0]} maps;\n"
                 "each layer appends its own, the rest stay", fontsize=10)
    ax.axis("off")
    for i, name in enumerate(["stem"] + sorted(n for n in r if n.startswith("layer1."))):
        ax = fig.add_subplot(grid[i, 2])
        ax.imshow(_grid(r[name], 8), cmap="gray")
        ax.set_title("stage input (stem)" if name == "stem" else
                     f"after block {i}: relu(x + F(x)) replaces them", fontsize=10,
                     color=style.COLORS["residual"] if i else "black")
        ax.axis("off")
    fig.suptitle("The same image in both trained networks (each map scaled to its own range)",
                 fontsize=12)
    return fig
