"""Exercise 2 (counting parameters): the visible checks of the notebook `ex02_parameters`."""
import math

from torch import nn

from .. import models
from ..arith import count_params
from ._common import answer, hidden_tests_of, need_type, ok

hidden_tests = hidden_tests_of(__name__)


def check_count_parameters(fn) -> None:
    value = answer(fn, "count_parameters", int, nn.Linear(3, 2))
    assert value == 8, f"nn.Linear(3, 2) has a 2x3 weight and 2 biases = 8 parameters, got {value}"
    ok("nn.Linear(3, 2) has 8 parameters")


def check_layer_formulas(dense_layer_params, basic_block_params, bottleneck: bool = True) -> None:
    real = count_params(models.DenseLayer(64, 32, bottleneck=bottleneck))
    got = answer(dense_layer_params, "dense_layer_params", int, 64, 32)
    kind = "bottleneck, bn_size=4" if bottleneck else "no bottleneck"
    assert got == real, (f"models.DenseLayer(64, 32) ({kind}, no conv bias) has {real} "
                         f"parameters, your formula {got}: count every BatchNorm and conv")
    real = count_params(models.BasicBlock(64, 64))
    got = answer(basic_block_params, "basic_block_params", int, 64)
    assert got == real, (f"models.BasicBlock(64, 64) has {real} parameters, your formula {got}: "
                         "two 3x3 convs without bias, two BatchNorms")
    ok("both formulas match the real modules for 64 channels")


def check_stage_parameters(fn) -> None:
    model = models.d2l_densenet()
    table, total = answer(fn, "stage_parameters", dict, model), count_params(model)
    assert sum(table.values()) == total, \
        f"the stages must add up to the model's {total:,} parameters, not {sum(table.values()):,}"
    assert "denseblock1" in table, f"expected a 'denseblock1' entry, got keys {list(table)}"
    ok(f"{len(table)} stages adding up to {total:,} parameters")


def check_param_ratio(value) -> None:
    need_type(value, float, "param_ratio")
    assert math.isfinite(value) and value > 1, \
        f"ResNet-18 has more parameters than the d2l DenseNet: the ratio exceeds 1, got {value}"
    ok(f"ratio {value:.2f} > 1")
