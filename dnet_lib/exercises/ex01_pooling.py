"""Exercise 1 (pooling in transitions): the visible checks of the notebook `ex01_pooling`."""
import torch
from torch import nn

from ._common import answer, hidden_tests_of, ok

hidden_tests = hidden_tests_of(__name__)


def check_gradient_coverage(fn, count: str = "nonzero") -> None:
    """``fn(pool, x)`` -> the share of ``x`` with a non-zero (``count="zero"``: zero) gradient."""
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    value = answer(fn, "gradient_coverage", float, nn.AvgPool2d(2, 2), x)
    want = 1.0 if count == "nonzero" else 0.0
    assert abs(value - want) < 1e-9, \
        f"every input of a 2x2 average pool reaches an output: expected {want}, got {value}"
    ok("average pooling sends gradient to every input")


def check_swap_error(fn) -> None:
    """``fn(pool, conv, x)`` -> max |pool(conv(x)) - conv(pool(x))|."""
    x = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(2))
    value = answer(fn, "swap_error", float, nn.AvgPool2d(2, 2), nn.Conv2d(4, 3, 1), x)
    assert value < 1e-5, \
        f"a 1x1 conv and an average pool are linear on different axes, so commute; got {value:.3g}"
    ok("1x1 conv and average pooling commute")


def check_pool_densenet(fn) -> None:
    """``fn(pool)`` -> a small DenseNet for 1x28x28 images whose transitions use ``pool``."""
    model = answer(fn, "make_densenet", nn.Module, "avg")
    shape = tuple(model.eval()(torch.zeros(2, 1, 28, 28)).shape)
    assert shape == (2, 10), f"expected logits of shape (2, 10) for 2 images, got {shape}"
    assert any(isinstance(m, nn.AvgPool2d) for m in model.modules()), \
        "make_densenet('avg') has no AvgPool2d"
    ok("make_densenet('avg') builds a 10-class model for 28x28 images")
