"""Exercise 3 (activation memory): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex03_memory``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, plain, call, show, as_float, as_int, as_tensor, close

EXERCISE = "ex03"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


def _q1_cases():
    from dnet_lib import models
    torch.manual_seed(3)
    net = models.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, stem=models.CIFAR_STEM,
                          in_channels=1, num_classes=3)
    relu = nn.Sequential(nn.Linear(10, 10), nn.ReLU(inplace=True), nn.ReLU(inplace=True))
    return [(net, torch.randn(2, 1, 12, 12)), (nn.Linear(100, 1, bias=False), torch.randn(8, 100)),
            (relu, torch.randn(4, 10))]


def _q1_probe(ns, p):
    return [call(ns["saved_bytes"], m, x, what="saved_bytes") for m, x in _q1_cases()]


def _q1_judge(data, p):
    from dnet_lib import memory
    for (m, x), got in zip(_q1_cases(), data):
        want = memory.saved_activation_bytes(m, x).total_bytes // (4 if p["unit"] == "elements" else 1)
        assert as_int(got, "saved_bytes") == want, f"saved_bytes({type(m).__name__}): expected {want:,}, got {got}"


def _q2_probe(ns, p):
    return plain(ns["resolution_ratio"], "resolution_ratio")


def _q2_judge(data, p):
    from dnet_lib import memory, models
    m = models.d2l_densenet()
    high, low = p["sizes"]
    want = (memory.saved_activation_bytes(m, torch.zeros(1, 1, high, high)).total_bytes
            / memory.saved_activation_bytes(m, torch.zeros(1, 1, low, low)).total_bytes)
    close(as_float(data, "resolution_ratio"), want, "resolution_ratio")


def _small(**kw):
    from dnet_lib import models
    return models.DenseNet(growth_rate=4, block_config=(3, 3), num_init_features=8, stem=models.CIFAR_STEM,
                           in_channels=1, num_classes=3, **kw)


def _q3_probe(ns, p):
    def describe(model):
        flags = [bool(m.memory_efficient) for m in model.modules() if hasattr(m, "memory_efficient")]
        return {"type": type(model).__qualname__, "flags": flags,
                "state": {k: plain(v) for k, v in model.state_dict().items()}}
    try:
        pair = ns["efficient_pair"](_small, seed=5)
        assert type(pair) is tuple and len(pair) == 2, "efficient_pair must return a tuple of two models"
        return [describe(m) for m in pair]
    except Exception as e:      # noqa: BLE001
        return {"error": type(e).__name__, "message": str(e)[:200]}


def _q3_judge(data, p):
    assert isinstance(data, list) and len(data) == 2, f"efficient_pair(...) gave {show(data)}"
    torch.manual_seed(5)
    ref = _small()
    first, second = data if p["order"] == "plain-first" else data[::-1]
    assert first["flags"] and not any(first["flags"]), "the plain model must not be memory-efficient"
    assert second["flags"] and all(second["flags"]), "the memory-efficient model must have memory_efficient=True"
    for name, got in (("plain", first), ("memory-efficient", second)):
        assert set(got["state"]) == set(ref.state_dict()), f"the {name} model has other layers than factory()"
        for k, v in ref.state_dict().items():
            assert torch.equal(as_tensor(got["state"][k], k), v.to(torch.float64)), \
                f"the {name} model's {k} differs from a model built after torch.manual_seed(seed)"



# Q1's text: run the model inside saved_tensors_hooks (Q2 may use the library's counter)
OWN_COUNTER = Rules("Q1 asks for your own count of the packed tensors",
                    names=("saved_activation_bytes",), require=("saved_tensors_hooks",))
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge, ("memory.saved_activation_bytes",), rules=OWN_COUNTER),
             "q2": Question(_q2_probe, _q2_judge),
             "q3": Question(_q3_probe, _q3_judge)}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits = [
        ("ex03-03", "return the number of bytes of the tensors\npacked for backward, as an `int`.",
         "return the number of **elements** of the tensors\npacked for backward (a storage's `nbytes()` divided by "
         "the `element_size()` of the tensor packed), as an `int`."),
        ("ex03-04", "seen[ptr] = t.untyped_storage().nbytes()", "seen[ptr] = t.untyped_storage().nbytes() // t.element_size()"),
        ("ex03-05", "check_saved_bytes(saved_bytes)", 'check_saved_bytes(saved_bytes, unit="elements")'),
        ("ex03-09", "and return\n`(plain, efficient)`.", "and return\n`(efficient, plain)`: the memory-efficient model **first**."),
        ("ex03-10", "    return plain, efficient", "    return efficient, plain"),
        ("ex03-11", "check_efficient_pair(efficient_pair)", 'check_efficient_pair(efficient_pair, order="efficient-first")'),
        ("ex03-13", "plain, efficient = efficient_pair(models.d2l_densenet)",
         "efficient, plain = efficient_pair(models.d2l_densenet)"),
    ]

    def _sizes(high: int, low: int) -> list:
        out = [("ex03-06", "From 96×96 to 224×224", f"From {low}×{low} to {high}×{high}"),
               ("ex03-06", "at 224×224 divided by saved bytes at 96×96", f"at {high}×{high} divided by saved bytes at {low}×{low}"),
               ("ex03-07", "torch.randn(1, 1, 224, 224)", f"torch.randn(1, 1, {high}, {high})"),
               ("ex03-07", "224x224 / 96x96", f"{high}x{high} / {low}x{low}"),
               ("ex03-07", "(224 / 96) ** 2", f"({high} / {low}) ** 2"),
               ("ex03-08", "check_resolution_ratio(resolution_ratio)", f"check_resolution_ratio(resolution_ratio, sizes=({high}, {low}))"),
               # the finding after Q2 compares with this variant's pixel ratio
               ("ex03-q2-finding", "pixel_ratio = (224 / 96) ** 2", f"pixel_ratio = ({high} / {low}) ** 2"),
               ("ex03-q2-finding-text", "At 224×224 the d2l DenseNet", f"At {high}×{high} the d2l DenseNet"),
               ("ex03-q2-finding-text", "saves at\n96×96,", f"saves at\n{low}×{low},"),
               ("ex03-q2-finding-text", "so the 224-pixel inputs the question asks about cost\n"
                                        "about five times the memory of d2l's 96-pixel ones.",
                f"so the {high}-pixel inputs cost\nabout {(high / low) ** 2:.1f} times the memory of the {low}-pixel ones.")]
        if low != 96:
            out.append(("ex03-07", "torch.randn(1, 1, 96, 96)", f"torch.randn(1, 1, {low}, {low})"))
        return out
    params = {"unit": "elements", "order": "efficient-first"}
    return {
        "book": {"params": {"unit": "bytes", "sizes": [224, 96], "order": "plain-first"}, "replace": []},
        "b": {"params": {**params, "sizes": [160, 96]}, "replace": edits + _sizes(160, 96)},
        "c": {"params": {**params, "sizes": [192, 64]}, "replace": edits + _sizes(192, 64)},
    }
