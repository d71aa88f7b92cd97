"""A network measured unit by unit (dense layer, transition, residual block; before them the
"stem", after them the "head"): its widths and costs, grouped into the stages a reader names."""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import arith, models
from .validate import check_int

__all__ = ["WidthPoint", "UnitCost", "trace_widths", "unit_costs", "stage_of", "stage_table"]

_UNIT_TYPES = (models.DenseLayer, models.Transition, models.BasicBlock, models.Bottleneck)
_STAGE = re.compile(r"(denseblock\d+|transition\d+|layer\d+|block\d+|stage\d+)")


@dataclass
class WidthPoint:
    """The network's state after one unit: channels carried, resolution, convolutions passed."""
    unit: str
    kind: str            # "input", "stem", "dense", "transition", "residual"
    channels: int
    resolution: int
    convs: int


@dataclass
class UnitCost:
    """One unit's costs for one image: parameters and FLOPs."""
    unit: str
    kind: str            # "stem", "dense", "transition", "residual", "head"
    params: int
    flops: int


def _kind(module: nn.Module) -> str:
    return ("dense" if isinstance(module, models.DenseLayer) else
            "transition" if isinstance(module, models.Transition) else "residual")


def _units(model: nn.Module) -> tuple[list[tuple[str, nn.Module]], int]:
    """The model's named units in forward (= registration) order, and its input channels."""
    found = []
    for name, m in model.named_modules():         # a unit inside the last one is part of it
        if isinstance(m, _UNIT_TYPES) and not (found and name.startswith(found[-1][0] + ".")):
            found.append((name, m))
    if not found:
        raise ValueError(f"model has no dense layers, transitions or residual blocks: "
                         f"{type(model).__name__}")
    return found, next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def _channels(x) -> int:
    return sum(t.shape[1] for t in x) if isinstance(x, (list, tuple)) else x.shape[1]


def _walk(model: nn.Module, size: int):
    """Hooks one zero image (eval mode, no gradients, the parameters' device, "meta" too) through
    ``model``: its units, the state after every one (as ``trace_widths``) and, counted by a
    ``FlopCounterMode``, each unit's FLOPs (the stem's and the head's too)."""
    check_int("size", size, 1)
    found, in_channels = _units(model)
    names = {module: name for name, module in found}
    points = [WidthPoint("input", "input", in_channels, size, 0)]
    flops, passed = {}, []                       # passed: one entry per main-path convolution
    counter = FlopCounterMode(display=False)

    def before(module, args):
        if not flops:                            # the first unit reads the stem's output
            flops["stem"], x = counter.get_total_flops(), args[0]
            side = (x[0] if isinstance(x, (list, tuple)) else x).shape[-1]
            points.append(WidthPoint("stem", "stem", _channels(x), side, len(passed)))
        flops[names[module]] = -counter.get_total_flops()

    def after(module, args, output):
        flops[names[module]] += counter.get_total_flops()
        c = output.shape[1] + (_channels(args[0]) if _kind(module) == "dense" else 0)
        points.append(WidthPoint(names[module], _kind(module), c, output.shape[-1], len(passed)))

    handles = [m.register_forward_hook(lambda *_: passed.append(1))
               for name, m in model.named_modules()
               if isinstance(m, nn.Conv2d) and "downsample" not in name]
    for module in names:
        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    was_training = model.training
    device = next(model.parameters(), torch.zeros(())).device
    try:
        with torch.no_grad(), counter:
            model.eval()(torch.zeros(1, in_channels, size, size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    flops["head"] = counter.get_total_flops() - sum(flops.values())
    return found, points, flops


def trace_widths(model: nn.Module, size: int = 224) -> list[WidthPoint]:
    """The state after every unit (for a dense layer: its inputs and outputs concatenated) and
    the main-path convolutions passed, hooked from one zero image; a "meta" model works too."""
    return _walk(model, size)[1]


def unit_costs(model: nn.Module, size: int = 32) -> list[UnitCost]:
    """Per-unit parameters and FLOPs (as ``arith.count_params`` and ``count_flops``) for one
    image; each column adds up to the whole model's (the head: what the others leave)."""
    found, points, flops = _walk(model, size)
    modules = list(model.modules())
    stem = modules[:modules.index(found[0][1])]        # registered before the first unit
    params = {"stem": sum(arith.count_params(m) for m in stem if next(m.children(), None) is None)}
    params.update((name, arith.count_params(m)) for name, m in found)
    params["head"] = arith.count_params(model) - sum(params.values())
    kinds = {p.unit: p.kind for p in points}
    return [UnitCost(name, kinds.get(name, name), params[name], flops[name]) for name in params]


def stage_of(unit: str) -> str:
    """The stage a unit belongs to: ``"features.denseblock2.denselayer3"`` -> ``"denseblock2"``,
    ``"layer3.1"`` -> ``"layer3"``; ``"stem"`` and ``"head"`` are their own stages."""
    match = _STAGE.search(unit)
    return match.group(1) if match else unit


def stage_table(model: nn.Module, size: int = 32):
    """A DataFrame by stage: kind, units, channels and resolution out (the head: its last linear
    layer's outputs, at 1), parameters and FLOPs (2 per multiply-add, one image)."""
    import pandas as pd
    widths = {p.unit: (p.channels, p.resolution) for p in trace_widths(model, size)}
    costs = pd.DataFrame([vars(c) for c in unit_costs(model, size)])
    costs["stage"] = costs.unit.map(stage_of)
    out = ["channels out", "resolution out"]
    costs[out] = [widths.get(unit, (None, None)) for unit in costs.unit]   # the head: none
    table = costs.groupby("stage", sort=False).agg(
        kind=("kind", "first"), units=("unit", "size"), **{name: (name, "last") for name in out},
        parameters=("params", "sum"), FLOPs=("flops", "sum"))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears:
        table.loc["head", out] = linears[-1].out_features, 1
    table[out] = table[out].ffill().astype(int)
    return table
