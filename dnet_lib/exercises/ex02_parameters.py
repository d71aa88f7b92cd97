"""Exercise 2 (counting parameters): the visible checks of the notebook `ex02_parameters`."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .. import models
from ._common import ok, need_callable, hidden_tests_of

__all__ = ["check_count_parameters", "check_layer_formulas", "check_stage_parameters",
           "check_param_ratio", "hidden_tests"]

hidden_tests = hidden_tests_of(__name__)


def check_count_parameters(fn: Callable) -> None:
    need_callable(fn, "count_parameters")
    value = fn(nn.Linear(3, 2))
    assert isinstance(value, int), f"count_parameters must return an int, got {type(value).__name__}"
    assert value == 8, f"nn.Linear(3, 2) has a 2x3 weight and 2 biases = 8 parameters, got {value}"
    ok("nn.Linear(3, 2) has 8 parameters")


def check_layer_formulas(dense_layer_params: Callable, basic_block_params: Callable,
                         bottleneck: bool = True) -> None:
    need_callable(dense_layer_params, "dense_layer_params")
    need_callable(basic_block_params, "basic_block_params")
    real = sum(p.numel() for p in models.DenseLayer(64, 32, bottleneck=bottleneck).parameters())
    got = dense_layer_params(64, 32)
    kind = "bottleneck, bn_size=4" if bottleneck else "no bottleneck"
    assert got == real, (f"models.DenseLayer(64, 32) ({kind}, no conv bias) has {real} parameters, "
                         f"your formula gives {got}: count every BatchNorm (weight and bias) and every conv")
    real = sum(p.numel() for p in models.BasicBlock(64, 64).parameters())
    got = basic_block_params(64)
    assert got == real, (f"models.BasicBlock(64, 64) has {real} parameters, your formula gives {got}: "
                         f"two 3x3 convs without bias, two BatchNorms")
    ok("both formulas match the real modules for 64 channels")


def check_stage_parameters(fn: Callable) -> None:
    need_callable(fn, "stage_parameters")
    model = models.d2l_densenet()
    table = fn(model)
    assert isinstance(table, dict), f"stage_parameters must return a dict name -> count, got {type(table).__name__}"
    total = sum(p.numel() for p in model.parameters())
    assert sum(table.values()) == total, (f"the stages must add up to the whole model ({total:,} parameters), "
                                          f"yours add up to {sum(table.values()):,}")
    assert "denseblock1" in table, f"expected a 'denseblock1' entry, got keys {list(table)}"
    ok(f"{len(table)} stages adding up to {total:,} parameters")


def check_param_ratio(value) -> None:
    assert isinstance(value, float), f"param_ratio must be a float, got {type(value).__name__}"
    assert math.isfinite(value) and value > 1, (f"ResNet-18 should have more parameters than the d2l DenseNet, "
                                                f"so the ratio resnet / densenet should exceed 1, got {value}")
    ok(f"ratio {value:.2f} > 1")
