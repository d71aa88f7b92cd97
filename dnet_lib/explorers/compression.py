"""The compression explorer: θ, the bottleneck switch and a choice of DenseNet configuration.

Every number is ``arith.densenet_stats`` of a ``dnet_lib.models`` preset. The static page holds
them (and ``profile_svg``'s drawing) for every preset and θ; the live widget uses Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import arith, models, style
from ..units import format_count
from ..validate import check_choice, check_compression
from .page import Explorer, fill

# θ values offered: 0.10, 0.15, ..., 1.00. Python and the page use these exact floats, so
# floor(θ·m) agrees on both sides.
THETAS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 21))
VARIANT_PANELS = (("B", True, False), ("C", False, True), ("BC", True, True))   # (name, B, C)


@dataclass(frozen=True)
class Architecture:
    """A preset of the explorer: a ``models.DenseNetConfig`` (the explorer varies its bottleneck
    and compression), a menu label and where the configuration comes from."""
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


def channel_profile(stats: dict, growth_rate: int) -> list[int]:
    """Channels carried after the stem, after every dense layer and after every transition
    (``stats``: an ``arith.densenet_stats`` result; widths from ``arith.dense_block_channels``)."""
    profile = [stats["stage_channels"][0]]
    for i, block in enumerate(stats["blocks"]):
        profile += arith.dense_block_channels(block["in_channels"], block["num_layers"],
                                              growth_rate)[1:]
        profile += [t["out_channels"] for t in stats["transitions"][i:i + 1]]
    return profile


def profile_svg(name: str, theta: float) -> str:
    """Three panels (DenseNet-B, -C, -BC at this θ): channels carried through the whole network.

    The dashed grey line in each panel is the same network without compression (θ = 1). One SVG
    per panel (``profile_panel.svg``), so they wrap on a phone.
    """
    check_choice("architecture", name, ARCHITECTURES)
    check_compression(theta)
    k = ARCHITECTURES[name].config.growth_rate
    reference = channel_profile(architecture_stats(name, False, 1.0), k)
    top, pw, ph, left, head = max(reference), 180, 110, 36, 40
    colours = {"B": style.COLORS["bottleneck"], "C": style.COLORS["transition"],
               "BC": style.COLORS["dense"]}

    def points(profile):
        # keep only corners: inside a dense block the line is straight (k channels per layer)
        last = len(profile) - 1
        keep = [i for i, c in enumerate(profile) if i in (0, last)
                or c - profile[i - 1] != profile[i + 1] - c]
        return " ".join(f"{left + pw * i / last:.1f},{head + ph - ph * profile[i] / top:.1f}"
                        for i in keep)

    panels = []
    for panel, bottleneck, compressed in VARIANT_PANELS:
        s = architecture_stats(name, bottleneck, theta if compressed else 1.0)
        profile = channel_profile(s, k)
        panels.append(fill(
            "profile_panel.svg", panel=panel, variant=s["variant"],
            theta=f"{s['compression']:.2f}", params=s["params"],
            params_text=format_count(s["params"]), channels=",".join(map(str, profile)),
            width=left + pw + 8, height=head + ph + 8, left=left, left_label=left - 3,
            right=left + pw, top=top, top_y=head + 9, base_y=head + ph, colour=colours[panel],
            reference_points=points(reference), points=points(profile), end=profile[-1],
            end_y=f"{head + ph - ph * profile[-1] / top - 5:.1f}"))
    return fill("profiles.html", theta=f"{theta:.2f}", panels="".join(panels))


def _compact(stats: dict) -> dict:
    """The part of ``arith.densenet_stats`` the page shows."""
    return {k: stats[k] for k in ("variant", "params", "stage_channels", "blocks", "transitions")}


class CompressionExplorer(Explorer):
    """A θ slider, a bottleneck switch and a choice of architecture: channels and parameters.

    Display it (last line of a cell). ``architecture`` is shown first; ``architectures`` limits
    the menu (names from ``ARCHITECTURES``); ``compression`` is one of ``THETAS``.
    """
    name = "compression"

    def __init__(self, architecture: str = "densenet121", compression: float = 0.5,
                 bottleneck: bool = True, architectures: Sequence[str] | None = None):
        names = tuple(architectures) if architectures is not None else tuple(ARCHITECTURES)
        if not names:
            raise ValueError("architectures must name at least one architecture, got ()")
        for name in names:
            check_choice("architectures", name, ARCHITECTURES)
        check_choice("architecture", architecture, names)
        check_choice("compression", compression, THETAS)
        self.architecture, self.names = architecture, names
        self.compression, self.bottleneck = compression, bool(bottleneck)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"CompressionExplorer(architecture={self.architecture!r}, "
                f"compression={self.compression}, bottleneck={self.bottleneck}): "
                f"{s['variant']}, stage_channels={s['stage_channels']}, params={s['params']:,}")

    def stats(self) -> dict:
        return architecture_stats(self.architecture, self.bottleneck, self.compression)

    def view(self) -> dict:
        """What the page shows for the current settings."""
        return {"stats": _compact(self.stats()),
                "reference_params": architecture_stats(self.architecture, self.bottleneck,
                                                       1.0)["params"],
                "frame": profile_svg(self.architecture, self.compression),
                "source": ARCHITECTURES[self.architecture].source}

    def data(self, live: bool = False) -> dict:
        """Everything the static page can show: per architecture, bottleneck and θ."""
        if live:
            return {"view": self.view()}
        return {"thetas": list(THETAS), "names": list(self.names), "initial": self.architecture,
                "architectures": {name: {
                    "label": ARCHITECTURES[name].label, "source": ARCHITECTURES[name].source,
                    "bottleneck": [_compact(architecture_stats(name, True, t)) for t in THETAS],
                    "plain": [_compact(architecture_stats(name, False, t)) for t in THETAS]}
                    for name in self.names},
                "frames": {name: [profile_svg(name, t) for t in THETAS] for name in self.names}}

    def settings(self) -> dict:
        return dict(theta_max=len(THETAS) - 1, theta_index=THETAS.index(self.compression),
                    checked=" checked" if self.bottleneck else "")

    def controls(self, w, common) -> dict:
        menu = [(ARCHITECTURES[n].label, n) for n in self.names]
        return {"architecture": w.Dropdown(options=menu, value=self.architecture,
                                           description="architecture", **common),
                "compression": w.SelectionSlider(options=list(THETAS), value=self.compression,
                                                 description="compression θ", **common),
                "bottleneck": w.Checkbox(self.bottleneck, description="bottleneck (DenseNet-B)")}

    def again(self, **values) -> "CompressionExplorer":
        return CompressionExplorer(**values, architectures=self.names)


compression_explorer = CompressionExplorer     # what the chapters call
