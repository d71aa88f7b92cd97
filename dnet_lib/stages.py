"""A network walked through stage by stage: what each stage hands on, and what it costs.

``stage_table(model, size)`` groups the units that ``drawing.trace_widths`` and
``drawing.unit_costs`` measure (stem, each dense layer or residual block, each transition, head)
into the stages a reader names: the stem, each dense block or ResNet stage, each transition, the
head. For every stage it gives the channels and resolution it hands on (measured by running the
model) and its parameters and FLOPs for one ``size`` x ``size`` image; the columns add up to the
whole model's counts.
"""
from __future__ import annotations

import re

from torch import nn

from . import validate

__all__ = ["stage_of", "stage_table"]

_STAGE = re.compile(r"(denseblock\d+|transition\d+|layer\d+|block\d+|stage\d+)")


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
    from .drawing import trace_widths, unit_costs
    validate.check_int("size", size, 1)
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
