"""A network measured unit by unit and walked through stage by stage.

A *unit* is a dense layer, a transition or a residual block. ``trace_widths(model, size)`` runs
one zero image through the model and records the channels and resolution after every unit;
``unit_costs(model, size)`` measures each unit's parameters and FLOPs (everything before the
first unit is the "stem", after the last the "head").
``stage_table(model, size)`` groups those units into the stages a reader names: the stem, each
dense block or ResNet stage, each transition, the head. Every column adds up to the whole
model's count, and ``dnet_lib.drawing`` plots these measurements.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import torch
from torch import nn

from . import arith, models
from .validate import check_int

__all__ = ["WidthPoint", "UnitCost", "units", "trace_widths", "unit_costs", "stage_of",
           "stage_table"]

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
    if isinstance(module, models.DenseLayer):
        return "dense"
    return "transition" if isinstance(module, models.Transition) else "residual"


def units(model: nn.Module, size: int = 32) -> tuple[list[tuple[str, nn.Module]], int]:
    """The model's named units in forward (= registration) order, and its input channels."""
    check_int("size", size, 1)
    found, inside = [], None
    for name, m in model.named_modules():
        if inside is not None and name.startswith(inside + "."):
            continue
        if isinstance(m, _UNIT_TYPES):
            found.append((name, m))
            inside = name
    if not found:
        raise ValueError(f"model has no dense layers, transitions or residual blocks: "
                         f"{type(model).__name__}")
    return found, next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def _run_once(model: nn.Module, x: torch.Tensor, handles: list, context=None) -> None:
    """One forward pass in eval mode without gradients; hooks removed, mode restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), context or contextlib.nullcontext():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()


def _channels(x) -> int:
    return sum(t.shape[1] for t in x) if isinstance(x, (list, tuple)) else x.shape[1]


def trace_widths(model: nn.Module, size: int = 224) -> list[WidthPoint]:
    """The state after every unit, read by forward hooks from one zero image.

    For a dense layer the state is the concatenation it adds to (its inputs + its k outputs).
    ``convs`` counts main-path convolutions passed (projection shortcuts excluded). Only shapes
    are read, so a model built under ``with torch.device("meta"):`` is traced without computing.
    """
    found, in_channels = units(model, size)
    points = [WidthPoint("input", "input", in_channels, size, 0)]
    convs = [0]

    def count(name):
        def hook(module, args, output):
            convs[0] += "downsample" not in name
        return hook

    def before(module, args):
        if len(points) == 1:                     # the first unit sees the stem's output
            x = args[0]
            first = x[0] if isinstance(x, (list, tuple)) else x
            points.append(WidthPoint("stem", "stem", _channels(x), first.shape[-1], convs[0]))

    def after(name, kind):
        def hook(module, args, output):
            c = output.shape[1] + (_channels(args[0]) if kind == "dense" else 0)
            points.append(WidthPoint(name, kind, c, output.shape[-1], convs[0]))
        return hook

    handles = [m.register_forward_hook(count(name)) for name, m in model.named_modules()
               if isinstance(m, nn.Conv2d)]
    for name, m in found:
        handles += [m.register_forward_pre_hook(before),
                    m.register_forward_hook(after(name, _kind(m)))]
    device = next(model.parameters(), torch.zeros(())).device   # "meta" works too
    _run_once(model, torch.zeros(1, in_channels, size, size, device=device), handles)
    return points


def unit_costs(model: nn.Module, size: int = 32) -> list[UnitCost]:
    """Per-unit parameters (``arith.count_params``) and FLOPs (torch's ``FlopCounterMode``, as
    ``arith.count_flops``) for one ``size`` x ``size`` image; each column adds up to the whole
    model's number.
    """
    from torch.utils.flop_counter import FlopCounterMode
    found, in_channels = units(model, size)
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    first = order[found[0][0]]

    def owner(name: str) -> str:
        for unit, _ in found:
            if name == unit or name.startswith(unit + "."):
                return unit
        return "stem" if order[name] < first else "head"

    rows = {"stem": [0, 0], **{unit: [0, 0] for unit, _ in found}, "head": [0, 0]}
    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    for name, module in leaves:                  # leaf modules hold the parameters
        rows[owner(name)][0] += arith.count_params(module)
    # FLOPs per leaf: the counter's total before and after it runs (any torch with the counter)
    counter, start, handles = FlopCounterMode(display=False), {}, []

    def before(name):
        def hook(module, args):
            start[name] = counter.get_total_flops()
        return hook

    def after(name):
        def hook(module, args, output):
            rows[owner(name)][1] += counter.get_total_flops() - start.pop(name)
        return hook

    for name, module in leaves:
        handles += [module.register_forward_pre_hook(before(name)),
                    module.register_forward_hook(after(name))]
    _run_once(model, torch.zeros(1, in_channels, size, size), handles, counter)
    rows["head"][1] += counter.get_total_flops() - sum(r[1] for r in rows.values())  # own forward
    kinds = {unit: _kind(m) for unit, m in found}
    return [UnitCost(unit, kinds.get(unit, unit), *vals) for unit, vals in rows.items()]


def stage_of(unit: str) -> str:
    """The stage a unit belongs to: ``"features.denseblock2.denselayer3"`` -> ``"denseblock2"``,
    ``"layer3.1"`` -> ``"layer3"``; ``"stem"`` and ``"head"`` are their own stages."""
    match = _STAGE.search(unit)
    return match.group(1) if match else unit


def stage_table(model: nn.Module, size: int = 32):
    """One row per stage, in forward order (a pandas DataFrame indexed by stage).

    Columns: ``kind`` (stem, dense, transition, residual, head), ``units`` (layers or blocks in
    the stage), ``channels out``, ``resolution out`` (side length; for the head: the outputs of
    its last linear layer, at resolution 1), ``parameters`` and ``FLOPs`` (2 per multiply-add,
    one image).
    """
    import pandas as pd
    widths = {point.unit: point for point in trace_widths(model, size)}
    rows: dict[str, dict] = {}
    for cost in unit_costs(model, size):
        stage = stage_of(cost.unit)
        row = rows.setdefault(stage, {"stage": stage, "kind": cost.kind, "units": 0,
                                      "channels out": None, "resolution out": None,
                                      "parameters": 0, "FLOPs": 0})
        row["units"] += 1
        row["parameters"] += cost.params
        row["FLOPs"] += cost.flops
        if cost.unit in widths:                    # the head has no width point of its own
            row["channels out"] = widths[cost.unit].channels
            row["resolution out"] = widths[cost.unit].resolution
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if "head" in rows and linears:
        rows["head"]["channels out"], rows["head"]["resolution out"] = linears[-1].out_features, 1
    table = pd.DataFrame(list(rows.values())).set_index("stage")
    table["channels out"] = table["channels out"].ffill().astype(int)
    table["resolution out"] = table["resolution out"].ffill().astype(int)
    return table
