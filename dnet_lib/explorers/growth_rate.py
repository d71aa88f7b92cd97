"""The growth-rate explorer. The static page computes with ``growth_tables()`` (lines in a layer's
input width c, from ``arith``: its JavaScript has no formula of its own); the live one, Python."""
from __future__ import annotations

from .. import arith
from ..units import BYTES_PER_FLOAT32
from ..validate import check_choice, check_int
from .page import Explorer

# Slider ranges (also checked by the browser test).
GROWTH_RATE_RANGE = (1, 48)
NUM_LAYERS_RANGE = (1, 24)
IN_CHANNELS_RANGE = (1, 256)
IMAGE_SIZES = (7, 14, 28, 32, 56, 96, 112, 224)
_SLIDERS = {"growth_rate": ("growth rate k", GROWTH_RATE_RANGE),     # argument: label, bounds
            "num_layers": ("layers L", NUM_LAYERS_RANGE),
            "in_channels": ("input channels c0", IN_CHANNELS_RANGE)}


def _affine(values_at) -> list[int]:
    """[slope, intercept] of a quantity that is affine in a layer's input width c."""
    y1, y2 = values_at(1), values_at(2)
    return [y2 - y1, 2 * y1 - y2]


def growth_tables() -> dict:
    """The page's constants from ``arith``: ``params[variant][k - kMin]`` and
    ``inputValues[size]`` are [slope, intercept] lines in a layer's input width c."""
    ks = range(GROWTH_RATE_RANGE[0], GROWTH_RATE_RANGE[1] + 1)
    params = {name: [_affine(lambda c, k=k, b=b: arith.dense_layer_params(c, k, bottleneck=b))
                     for k in ks] for name, b in (("plain", False), ("bottleneck", True))}
    values = {str(s): _affine(lambda c, s=s: arith.dense_block_stats(
        c, 1, 1, s, bottleneck=False)["layers"][0]["input_values"]) for s in IMAGE_SIZES}
    return {"kMin": GROWTH_RATE_RANGE[0], "params": params, "inputValues": values,
            "bytesPerValue": BYTES_PER_FLOAT32, "sizes": list(IMAGE_SIZES)}


class GrowthRateExplorer(Explorer):
    """Sliders for one dense block: k, L, c0, image size and the bottleneck switch. The defaults
    are d2l's example: 3 input channels, 2 layers, k = 10 -> 23 output channels."""
    name = "growth_rate"

    def __init__(self, in_channels: int = 3, num_layers: int = 2, growth_rate: int = 10,
                 image_size: int = 96, bottleneck: bool = False):
        self.in_channels, self.num_layers, self.growth_rate = in_channels, num_layers, growth_rate
        for arg, (_, bounds) in _SLIDERS.items():
            check_int(arg, getattr(self, arg), *bounds)
        self.image_size = check_choice("image_size", image_size, IMAGE_SIZES)
        self.bottleneck = bool(bottleneck)

    def __repr__(self) -> str:
        s, args = self.view(), ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return (f"GrowthRateExplorer({args}): out_channels={s['out_channels']}, "
                f"params={s['params']:,}")

    def view(self) -> dict:
        """``arith.dense_block_stats`` of the current settings: what the page shows."""
        return arith.dense_block_stats(self.in_channels, self.num_layers, self.growth_rate,
                                       self.image_size, bottleneck=self.bottleneck)

    def data(self, live: bool = False) -> dict:
        return {"tables": growth_tables(), **({"view": self.view()} if live else {})}

    def settings(self) -> dict:
        bounds = {f"{arg}_{end}": b[i] for arg, (_, b) in _SLIDERS.items()
                  for i, end in enumerate(("min", "max"))}
        return dict(bounds, **{arg: getattr(self, arg) for arg in _SLIDERS},
                    size_max=len(IMAGE_SIZES) - 1, size_index=IMAGE_SIZES.index(self.image_size))

    def controls(self, w, common) -> dict:
        slider = dict(common, continuous_update=False)
        return {**{arg: w.IntSlider(getattr(self, arg), *bounds, description=label, **slider)
                   for arg, (label, bounds) in _SLIDERS.items()},
                "image_size": w.SelectionSlider(options=list(IMAGE_SIZES), value=self.image_size,
                                                description="image size", **slider)}


growth_rate_explorer = GrowthRateExplorer     # what the chapters call
