"""Exercise 1 (pooling in transitions): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex01_pooling``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, call, as_float, close, shapes

EXERCISE = "ex01"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


def _pools():
    return [nn.MaxPool2d(2, 2), nn.AvgPool2d(2, 2), nn.MaxPool2d(3, 1, 1), nn.MaxPool2d(3, 3)]


def _q1_probe(ns, p):
    x = torch.randn(3, 5, 10, 10, generator=torch.Generator().manual_seed(21))
    values = [call(ns["gradient_coverage"], pool, x, what="gradient_coverage") for pool in _pools()]
    return {"values": values, "untouched": x.grad is None and not x.requires_grad}


def _q1_judge(data, p):
    x = torch.randn(3, 5, 10, 10, generator=torch.Generator().manual_seed(21))
    assert data["untouched"] is True, "gradient_coverage must not modify the caller's tensor"
    for pool, got in zip(_pools(), data["values"]):
        y = x.clone().requires_grad_(True)
        pool(y).sum().backward()
        hit = float((y.grad != 0).double().mean())
        close(as_float(got, f"gradient_coverage({pool})"), hit if p["count"] == "nonzero" else 1.0 - hit,
               f"gradient_coverage({pool})", 1e-6)      # a float32 mean is fine


def _q2_inputs():
    torch.manual_seed(22)
    return torch.randn(2, 6, 8, 8), nn.Conv2d(6, 5, 1)


def _q2_probe(ns, p):
    x, conv = _q2_inputs()
    return [call(ns["swap_error"], pool, conv, x, what="swap_error") for pool in _pools()]


def _q2_judge(data, p):
    x, conv = _q2_inputs()
    for pool, got in zip(_pools(), data):
        with torch.no_grad():
            diff = (pool(conv(x)) - conv(pool(x))).abs()
        want = float(diff.max() if p["reduce"] == "max" else diff.mean())
        close(as_float(got, f"swap_error({pool})"), want, f"swap_error({pool})", 1e-5)


def _q3_probe(ns, p):
    out = {}
    for pool in ("avg", "max"):
        try:
            model = ns["make_densenet"](pool)
            out[pool] = {"type": type(model).__qualname__, "shapes": shapes(model),
                         "pools": [type(m).__name__ for m in model.modules()
                                   if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))],
                         "logits": list(model.eval()(torch.zeros(2, 1, 28, 28)).shape)}
        except Exception as e:      # noqa: BLE001
            out[pool] = {"error": type(e).__name__, "message": str(e)[:200]}
    return out


def _q3_judge(data, p):
    from dnet_lib import models
    for pool in ("avg", "max"):
        got = data[pool]
        assert "error" not in got, f"make_densenet({pool!r}) raised {got.get('error')}: {got.get('message')}"
        ref = models.DenseNet(growth_rate=p["growth"], block_config=tuple(p["blocks"]),
                              num_init_features=p["stem"], bottleneck=True, compression=0.5,
                              num_classes=10, in_channels=1, stem=models.CIFAR_STEM, transition_pool=pool)
        assert got["type"] == "DenseNet", f"make_densenet must return a dnet_lib DenseNet, got {got['type']}"
        assert got["shapes"] == shapes(ref), f"make_densenet({pool!r}) has other layers than asked"
        kind = "AvgPool2d" if pool == "avg" else "MaxPool2d"
        want = [type(m).__name__ for m in ref.modules() if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))]
        assert got["pools"] == want and kind in want, f"pools of make_densenet({pool!r}): {got['pools']}"
        assert got["logits"] == [2, 10], f"expected logits of shape [2, 10], got {got['logits']}"



# Q2's text: "computed without building an autograd graph"
NO_GRAPH = Rules("Q2 asks for the difference without an autograd graph", require=("no_grad|inference_mode",))
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge),
             "q2": Question(_q2_probe, _q2_judge, rules=NO_GRAPH),
             "q3": Question(_q3_probe, _q3_judge)}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits_small = [
        ("ex01-03", "that receive a non-zero gradient when",
         "that receive **no** gradient (a gradient of exactly zero) when"),
        ("ex01-04", "(x.grad != 0)", "(x.grad == 0)"),
        ("ex01-05", "check_gradient_coverage(gradient_coverage)", 'check_gradient_coverage(gradient_coverage, count="zero")'),
        ("ex01-06", "the largest absolute difference", "the **mean** absolute difference"),
        ("ex01-07", ".abs().max())", ".abs().mean())"),
    ]

    def _net(growth: int, blocks: tuple, stem: int, words: str) -> list:
        return [("ex01-09", "growth rate 12, three dense blocks of 2 bottleneck\nlayers, 24 stem channels",
                 f"growth rate {growth}, {words}\nlayers, {stem} stem channels"),
                ("ex01-10", "growth_rate=12, block_config=(2, 2, 2),\n"
                            "                           num_init_features=24",
                 f"growth_rate={growth}, block_config={blocks},\n"
                 f"                           num_init_features={stem}")]

    params = {"count": "zero", "reduce": "mean"}
    return {
        "book": {"params": {"count": "nonzero", "reduce": "max", "growth": 12, "blocks": [2, 2, 2], "stem": 24},
                 "replace": []},
        "b": {"params": {**params, "growth": 8, "blocks": [3, 3], "stem": 16},
              "replace": edits_small + _net(8, (3, 3), 16, "two dense blocks of 3 bottleneck")},
        "c": {"params": {**params, "growth": 16, "blocks": [1, 2, 3], "stem": 32},
              "replace": edits_small + _net(16, (1, 2, 3), 32, "three dense blocks of 1, 2 and 3 bottleneck")},
    }
