"""Exercise 1 (pooling in transitions): the visible checks of the notebook `ex01_pooling`."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._common import ok, need_callable, hidden_tests_of

__all__ = ["check_gradient_coverage", "check_swap_error", "check_pool_densenet", "hidden_tests"]

hidden_tests = hidden_tests_of(__name__)


def check_gradient_coverage(fn: Callable, count: str = "nonzero") -> None:
    """``fn(pool, x)`` -> fraction of the entries of ``x`` that receive a non-zero (``count="zero"``:
    a zero) gradient."""
    need_callable(fn, "gradient_coverage")
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    value = fn(nn.AvgPool2d(2, 2), x)
    assert isinstance(value, float), f"gradient_coverage must return a Python float, got {type(value).__name__}"
    assert 0.0 <= value <= 1.0, f"a fraction lies in [0, 1], got {value}"
    want = 1.0 if count == "nonzero" else 0.0
    assert abs(value - want) < 1e-9, (f"every input of a 2x2 average pool contributes to an output, so the "
                                      f"answer for AvgPool2d(2, 2) should be {want}, got {value}")
    ok("average pooling sends gradient to every input")


def check_swap_error(fn: Callable) -> None:
    """``fn(pool, conv, x)`` -> max |pool(conv(x)) - conv(pool(x))|."""
    need_callable(fn, "swap_error")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 6, 6, generator=g)
    conv = nn.Conv2d(4, 3, 1)
    value = fn(nn.AvgPool2d(2, 2), conv, x)
    assert isinstance(value, float), f"swap_error must return a Python float, got {type(value).__name__}"
    assert value < 1e-5, (f"a 1x1 convolution and an average pool are both linear and act on different "
                          f"axes, so swapping them should change nothing (up to rounding); got {value:.3g}")
    ok("1x1 conv and average pooling commute")


def check_pool_densenet(fn: Callable) -> None:
    """``fn(pool)`` -> a small DenseNet for 1x28x28 images whose transitions use ``pool``."""
    need_callable(fn, "make_densenet")
    model = fn("avg")
    assert isinstance(model, nn.Module), f"make_densenet must return an nn.Module, got {type(model).__name__}"
    out = model.eval()(torch.zeros(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 10), f"expected logits of shape (2, 10) for 2 images, got {tuple(out.shape)}"
    assert any(isinstance(m, nn.AvgPool2d) for m in model.modules()), "make_densenet('avg') has no AvgPool2d"
    ok("make_densenet('avg') builds a 10-class model for 28x28 images")
