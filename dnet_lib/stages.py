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

__all__ = ["Unit", "trace_units", "stage_of", "stage_table"]

_KIND = {models.DenseLayer: "dense", models.Transition: "transition",     # the units, by class
         models.BasicBlock: "residual", models.Bottleneck: "residual"}
_STAGE = re.compile(r"(denseblock\d+|transition\d+|layer\d+|block\d+|stage\d+)")


@dataclass
class Unit:
    """One unit for one image: the state after it (channels carried, resolution, main-path
    convolutions passed) and what it costs (parameters, FLOPs)."""
    unit: str
    kind: str            # "input", "stem", "dense", "transition", "residual", "head"
    channels: int
    resolution: int
    convs: int
    params: int = 0
    flops: int = 0


def _units(model: nn.Module) -> tuple[list[tuple[str, nn.Module]], int]:
    """The model's named units in forward (= registration) order, and its input channels."""
    found = []
    for name, m in model.named_modules():         # a unit inside the last one is part of it
        if type(m) in _KIND and not (found and name.startswith(found[-1][0] + ".")):
            found.append((name, m))
    if not found:
        raise ValueError(f"model has no dense layers, transitions or residual blocks: "
                         f"{type(model).__name__}")
    return found, next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def _channels(x) -> int:
    return sum(t.shape[1] for t in x) if isinstance(x, (list, tuple)) else x.shape[1]


def trace_units(model: nn.Module, size: int = 32) -> list[Unit]:
    """The input, the stem, every unit and the head, hooked from one zero image (eval mode, no
    gradients, the parameters' device, "meta" too). A dense layer carries its inputs and outputs
    concatenated; the head carries the model's outputs, at resolution 1. FLOPs (as
    ``arith.count_flops``) come from a ``FlopCounterMode``; the head's parameters and FLOPs are
    what the others leave, so each column adds up to the whole model's."""
    check_int("size", size, 1)
    found, in_channels = _units(model)
    names = {module: name for name, module in found}
    rows = [Unit("input", "input", in_channels, size, 0)]
    passed, start = [], 0                        # passed: one entry per main-path convolution
    counter = FlopCounterMode(display=False)

    def before(module, args):
        nonlocal start
        start = counter.get_total_flops()
        if len(rows) == 1:                       # the first unit reads the stem's output
            x = args[0]
            side = (x[0] if isinstance(x, (list, tuple)) else x).shape[-1]
            rows.append(Unit("stem", "stem", _channels(x), side, len(passed), flops=start))

    def after(module, args, output):
        kind = _KIND[type(module)]
        c = output.shape[1] + (_channels(args[0]) if kind == "dense" else 0)
        rows.append(Unit(names[module], kind, c, output.shape[-1], len(passed),
                         arith.count_params(module), counter.get_total_flops() - start))

    handles = [m.register_forward_hook(lambda *_: passed.append(1))
               for name, m in model.named_modules()
               if isinstance(m, nn.Conv2d) and "downsample" not in name]
    for module in names:
        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    was_training = model.training
    device = next(model.parameters(), torch.zeros(())).device
    try:
        with torch.no_grad(), counter:
            output = model.eval()(torch.zeros(1, in_channels, size, size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    modules = list(model.modules())              # the stem: leaves registered before unit one
    stem = modules[:modules.index(found[0][1])]
    rows[1].params = sum(arith.count_params(m) for m in stem if next(m.children(), None) is None)
    rows.append(Unit("head", "head", output.shape[1], 1, len(passed),
                     arith.count_params(model) - sum(r.params for r in rows),
                     counter.get_total_flops() - sum(r.flops for r in rows)))
    return rows


def stage_of(unit: str) -> str:
    """The stage a unit belongs to: ``"features.denseblock2.denselayer3"`` -> ``"denseblock2"``,
    ``"layer3.1"`` -> ``"layer3"``; ``"stem"`` and ``"head"`` are their own stages."""
    match = _STAGE.search(unit)
    return match.group(1) if match else unit


def stage_table(model: nn.Module, size: int = 32):
    """A DataFrame by stage: kind, units, channels and resolution out (the head: the model's
    outputs, at 1), parameters and FLOPs (2 per multiply-add, one image)."""
    import pandas as pd
    units = pd.DataFrame([vars(u) for u in trace_units(model, size)[1:]])   # from the stem on
    out = {"channels out": ("channels", "last"), "resolution out": ("resolution", "last")}
    return units.groupby(units.unit.map(stage_of).rename("stage"), sort=False).agg(
        kind=("kind", "first"), units=("unit", "size"), **out,
        parameters=("params", "sum"), FLOPs=("flops", "sum"))
