"""Exercise 3 (activation memory): the visible checks of the notebook `ex03_memory`."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._common import ok, need_callable, hidden_tests_of

__all__ = ["check_saved_bytes", "check_resolution_ratio", "check_efficient_pair", "hidden_tests"]

hidden_tests = hidden_tests_of(__name__)


def check_saved_bytes(fn: Callable, unit: str = "bytes") -> None:
    """``fn(model, x)`` -> bytes (``unit="elements"``: float32 elements) autograd saves for backward."""
    need_callable(fn, "saved_bytes")
    lin = nn.Linear(100, 1, bias=False)
    x = torch.randn(8, 100)
    got = fn(lin, x)
    assert isinstance(got, int), f"saved_bytes must return an int, got {type(got).__name__}"
    # y = x @ W.T saves x (needed for dW); W is a parameter and needs no saving here only if x
    # needs no grad, so the answer lies between 8*100*4 and 8*100*4 + 100*4 bytes.
    per = 4 if unit == "bytes" else 1
    assert 800 * per <= got <= 900 * per, (f"a bias-free Linear(100, 1) on an 8x100 float32 input saves its "
                                           f"input (800 elements, 3,200 bytes) and at most its 100x1 weight, "
                                           f"got {got:,} {unit}")
    ok(f"Linear(100, 1) on 8x100 saves {got:,} {unit}")


def check_resolution_ratio(value, sizes: tuple = (224, 96)) -> None:
    high, low = sizes
    pixels = (high / low) ** 2
    assert isinstance(value, float), f"resolution_ratio must be a float, got {type(value).__name__}"
    assert 0.55 * pixels < value < 1.5 * pixels, (
        f"activations grow with height x width: ({high}/{low})^2 is about {pixels:.2f}, the exact ratio "
        f"depends on rounding in the stem and transitions; got {value:.3g}")
    ok(f"ratio {value:.2f} is close to the pixel ratio ({high}/{low})^2 = {pixels:.2f}")


def check_efficient_pair(fn: Callable, order: str = "plain-first") -> None:
    need_callable(fn, "efficient_pair")
    plain, efficient = fn() if order == "plain-first" else fn()[::-1]
    assert isinstance(plain, nn.Module) and isinstance(efficient, nn.Module), \
        f"efficient_pair must return two models ({order.replace('-', ' ')})"
    sd_p, sd_e = plain.state_dict(), efficient.state_dict()
    assert sd_p.keys() == sd_e.keys() and all(torch.equal(sd_p[k], sd_e[k]) for k in sd_p), \
        "both models must hold identical weights (copy the state dict) so their outputs can be compared"
    flags = [getattr(m, "memory_efficient", None) for m in efficient.modules() if hasattr(m, "memory_efficient")]
    assert flags and all(flags), "the second model's dense layers must have memory_efficient=True"
    ok("same weights, second model memory-efficient")
