"""The compression explorer. Every number is ``arith.densenet_stats`` of a ``models`` preset: the
static page holds them for every preset and θ, the live widget recomputes them, JS draws them."""
from __future__ import annotations

from typing import NamedTuple

from .. import arith, models
from ..validate import check_choice
from .page import Explorer

# θ offered: 0.10, 0.15, ..., 1.00; both sides use these exact floats, so floor(θ·m) agrees
THETAS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 21))
VARIANT_PANELS = (("B", True, False), ("C", False, True), ("BC", True, True))   # (name, B, C)


class Architecture(NamedTuple):
    """A preset: menu label, ``models.DenseNetConfig`` (B and θ varied) and its source."""
    label: str
    config: models.DenseNetConfig
    source: str


ARCHITECTURES: dict[str, Architecture] = {
    "densenet121": Architecture("DenseNet-121 (ImageNet, k=32)", models.DENSENET121,
                                "Huang et al. 2017, Table 1"),
    "cifar_bc100": Architecture("DenseNet-BC L=100, k=12 (CIFAR)", models.cifar_config(100, 12),
                                "Huang et al. 2017, Table 2"),
    "cifar_40": Architecture("DenseNet L=40, k=12 (CIFAR)",
                             models.cifar_config(40, 12, bottleneck=False, compression=1.0),
                             "Huang et al. 2017, Table 2"),
    "d2l": Architecture("d2l DenseNet (Fashion-MNIST, k=32)", models.D2L_DENSENET,
                        "d2l.ai, section 8.7"),
}


def architecture_stats(name: str, bottleneck: bool, compression: float) -> dict:
    """``arith.densenet_stats`` of a preset with this bottleneck setting and θ."""
    check_choice("architecture", name, ARCHITECTURES)
    config = ARCHITECTURES[name].config.replace(bottleneck=bottleneck, compression=compression)
    return arith.densenet_stats(config)


def _row(name: str, bottleneck: bool, compression: float) -> dict:
    """What the page shows of ``architecture_stats``, with ``channels``: the width after the
    stem, every dense layer and every transition."""
    stats = architecture_stats(name, bottleneck, compression)
    channels = stats["stage_channels"][:1]
    for i, block in enumerate(stats["blocks"]):
        channels += arith.dense_block_channels(block["in_channels"], block["num_layers"],
                                               ARCHITECTURES[name].config.growth_rate)[1:]
        channels += [t["out_channels"] for t in stats["transitions"][i:i + 1]]
    shown = ("variant", "compression", "params", "stage_channels", "blocks", "transitions")
    return {key: stats[key] for key in shown} | {"channels": channels}


class CompressionExplorer(Explorer):
    """A θ slider, a bottleneck switch and a menu of the ``ARCHITECTURES`` (``architecture``
    selected): channels and parameters. ``compression`` is one of ``THETAS``."""
    name = "compression"

    def __init__(self, architecture: str = "densenet121", compression: float = 0.5,
                 bottleneck: bool = True):
        self.architecture = check_choice("architecture", architecture, ARCHITECTURES)
        check_choice("compression", compression, THETAS)
        self.compression, self.bottleneck = compression, bool(bottleneck)

    def __repr__(self) -> str:
        s = architecture_stats(self.architecture, self.bottleneck, self.compression)
        return (f"CompressionExplorer(architecture={self.architecture!r}, "
                f"compression={self.compression}, bottleneck={self.bottleneck}): "
                f"{s['variant']}, stage_channels={s['stage_channels']}, params={s['params']:,}")

    def view(self) -> dict:
        """What the page shows for the current settings; ``panels``: ``VARIANT_PANELS``' stats,
        drawn with the reference line of the same network without bottleneck and θ = 1."""
        name, theta = self.architecture, self.compression
        return {"stats": _row(name, self.bottleneck, theta),
                "reference_params": _row(name, self.bottleneck, 1.0)["params"],
                "panels": [{"panel": panel, **_row(name, b, theta if c else 1.0)}
                           for panel, b, c in VARIANT_PANELS],
                "reference": _row(name, False, 1.0)["channels"],
                "source": ARCHITECTURES[name].source}

    def data(self, live: bool = False) -> dict:
        """Everything the static page can show: per architecture, bottleneck and θ."""
        if live:
            return {"view": self.view()}
        return {"thetas": list(THETAS), "names": list(ARCHITECTURES), "initial": self.architecture,
                "panels": VARIANT_PANELS, "architectures": {name: {
                    "label": ARCHITECTURES[name].label, "source": ARCHITECTURES[name].source,
                    "bottleneck": [_row(name, True, t) for t in THETAS],
                    "plain": [_row(name, False, t) for t in THETAS]} for name in ARCHITECTURES}}

    def settings(self) -> dict:
        return dict(theta_max=len(THETAS) - 1, theta_index=THETAS.index(self.compression))

    def controls(self, w, common) -> dict:
        menu = [(ARCHITECTURES[n].label, n) for n in ARCHITECTURES]
        return {"architecture": w.Dropdown(options=menu, value=self.architecture,
                                           description="architecture", **common),
                "compression": w.SelectionSlider(options=list(THETAS), value=self.compression,
                                                 description="compression θ", **common)}

compression_explorer = CompressionExplorer     # what the chapters call
