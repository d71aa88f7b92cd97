"""Exercise 3 (activation memory): the visible checks of the notebook `ex03_memory`."""
import torch
from torch import nn

from ._common import answer, hidden_tests_of, need_callable, need_type, ok

hidden_tests = hidden_tests_of(__name__)


def check_saved_bytes(fn, unit: str = "bytes") -> None:
    """``fn(model, x)`` -> bytes (``unit="elements"``: elements) autograd saves for backward."""
    got = answer(fn, "saved_bytes", int, nn.Linear(100, 1, bias=False), torch.randn(8, 100))
    per = 4 if unit == "bytes" else 1       # x @ W.T saves x, and W if x needs a gradient
    assert 800 * per <= got <= 900 * per, (f"Linear(100, 1) on an 8x100 float32 input saves its "
                                           "input (800 elements, 3,200 bytes) and at most its "
                                           f"weight, got {got:,} {unit}")
    ok(f"Linear(100, 1) on 8x100 saves {got:,} {unit}")


def check_resolution_ratio(value, sizes: tuple = (224, 96)) -> None:
    (high, low), pixels = sizes, (sizes[0] / sizes[1]) ** 2
    need_type(value, float, "resolution_ratio")
    assert 0.55 * pixels < value < 1.5 * pixels, \
        f"activations grow with the pixels: about ({high}/{low})^2 = {pixels:.2f}, not {value:.3g}"
    ok(f"ratio {value:.2f} is close to the pixel ratio ({high}/{low})^2 = {pixels:.2f}")


def check_efficient_pair(fn, order: str = "plain-first") -> None:
    need_callable(fn, "efficient_pair")
    plain, efficient = fn() if order == "plain-first" else fn()[::-1]
    assert isinstance(plain, nn.Module) and isinstance(efficient, nn.Module), \
        f"efficient_pair must return two models ({order.replace('-', ' ')})"
    sd_p, sd_e = plain.state_dict(), efficient.state_dict()
    assert sd_p.keys() == sd_e.keys() and all(torch.equal(sd_p[k], sd_e[k]) for k in sd_p), \
        "both models must hold identical weights (copy the state dict) to compare outputs"
    flags = [m.memory_efficient for m in efficient.modules() if hasattr(m, "memory_efficient")]
    assert flags and all(flags), "the second model's dense layers must have memory_efficient=True"
    ok("same weights, second model memory-efficient")
