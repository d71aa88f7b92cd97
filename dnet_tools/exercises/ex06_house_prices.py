"""Exercise 6 (house prices): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex06_house_prices``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, plain, call, seq, as_float, as_int, as_tensor, close, raised

EXERCISE = "ex06"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


_ACT = {"relu": torch.relu, "tanh": torch.tanh}


def _q1_probe(ns, p):
    torch.manual_seed(1)
    block = ns["DenseLinearBlock"](7, 4, 3)
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(2))
    layers = [{"weight": plain(lin.weight), "bias": plain(lin.bias)} for lin in block.layers]
    return {"layers": layers, "types": [type(lin).__name__ for lin in block.layers],
            "count": plain(sum(q.numel() for q in block.parameters())), "out": plain(block(x))}


def _q1_judge(data, p):
    assert data["types"] == ["Linear"] * 3, f"self.layers must hold 3 nn.Linear, got {data['types']}"
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(2)).to(torch.float64)
    feats = [x]
    for i, layer in enumerate(data["layers"]):
        w, b = as_tensor(layer["weight"], "weight"), as_tensor(layer["bias"], "bias")
        assert tuple(w.shape) == (4, 7 + 4 * i), f"layer {i} must map {7 + 4 * i} features to 4, got {tuple(w.shape)}"
        feats.append(_ACT[p["activation"]](torch.cat(feats, 1) @ w.T + b))
    assert as_int(data["count"], "parameter count") == sum((7 + 4 * i + 1) * 4 for i in range(3)), \
        "the block has parameters besides its three layers"
    out, want = as_tensor(data["out"], "the block's output"), torch.cat(feats, 1)
    assert out.shape == want.shape, f"output shape {tuple(out.shape)}, expected {tuple(want.shape)}"
    assert torch.allclose(out, want, atol=1e-5), "the block's output differs from its layers' dense composition"


_Q2_CASES = [(1460, 7), (10, 5), (11, 3), (1460, 1), (1460, 0), (1460, 1461)]


def _q2_probe(ns, p):
    return [call(ns["k_fold_indices"], n, k, what="k_fold_indices") for n, k in _Q2_CASES]


def _q2_judge(data, p):
    for (n, k), got in zip(_Q2_CASES, data):
        if not 2 <= k <= n:
            raised(got, "ValueError", f"k_fold_indices({n}, {k})")
            continue
        folds = seq(got, f"k_fold_indices({n}, {k})")
        assert len(folds) == k, f"k_fold_indices({n}, {k}) gave {len(folds)} folds"
        for j, fold in enumerate(folds):
            train, valid = (as_tensor(t, "an index tensor") for t in seq(fold, "a fold"))
            for t in seq(fold, "a fold"):
                assert t["dtype"] == "int64", f"index tensors must be torch.long, got {t['dtype']}"
            if p["folds"] == "contiguous":
                want = list(range(j * n // k, (j + 1) * n // k))
            else:
                want = list(range(j, n, k))
            assert [int(v) for v in valid.tolist()] == want, f"fold {j} of k_fold_indices({n}, {k}) validates on other indices"
            assert sorted(int(v) for v in train.tolist()) == sorted(set(range(n)) - set(want)), \
                f"fold {j} of k_fold_indices({n}, {k}) must train on every other index, once"


def _q3_cases():
    g = torch.Generator().manual_seed(4)
    pred = torch.rand(50, 1, generator=g, dtype=torch.float64) * 4e5 - 5e4      # some negative
    price = torch.rand(50, 1, generator=g, dtype=torch.float64) * 3e5 + 5e4
    return [(pred, price), (price * math.e, price), (price, price)]


def _q3_probe(ns, p):
    return [call(ns["log_rmse"], a, b, what="log_rmse") for a, b in _q3_cases()]


def _q3_judge(data, p):
    log = math.log if p["base"] == "e" else math.log10
    for (pred, price), got in zip(_q3_cases(), data):
        sq = [(log(max(a, 1.0)) - log(b)) ** 2 for a, b in zip(pred.flatten().tolist(), price.flatten().tolist())]
        close(as_float(got, "log_rmse"), math.sqrt(sum(sq) / len(sq)), "log_rmse", 1e-9)



# Q1's text: write the block yourself, layer by layer (the library has one)
OWN_BLOCK = Rules("Q1 asks for your own dense block of nn.Linear layers", names=("DenseMLP",))
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge, ("models.DenseMLP",), rules=OWN_BLOCK),
             "q2": Question(_q2_probe, _q2_judge),
             "q3": Question(_q3_probe, _q3_judge)}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits = [
        ("ex06-03", "followed by\na ReLU,", "followed by\na **tanh**,"),
        ("ex06-04", "torch.relu(layer(", "torch.tanh(layer("),
        ("ex06-06", "Fold $j$ validates on the contiguous range `[j * n // k, (j + 1) * n // k)` and trains on all\n"
                    "other indices, so every sample is validated exactly once (d2l instead drops the last `n % k` samples).",
         "Fold $j$ validates on the **interleaved** indices `j, j + k, j + 2k, ...` (below `n`) and trains on all\n"
         "other indices, so every sample is validated exactly once."),
        ("ex06-07", "        lo, hi = j * n // k, (j + 1) * n // k\n        valid = torch.arange(lo, hi)\n"
                    "        train = torch.cat([torch.arange(0, lo), torch.arange(hi, n)])",
         "        valid = torch.arange(j, n, k)\n        keep = torch.ones(n, dtype=torch.bool)\n"
         "        keep[valid] = False\n        train = torch.arange(n)[keep]"),
        ("ex06-09", "Kaggle scores the root-mean-squared error between the logarithms of predicted and true prices. Write\n"
                    "`log_rmse(pred_price, price)` returning it as a float;",
         "**In this assignment the error is measured in decimal logarithms**: write `log_rmse(pred_price, price)`\n"
         "returning the root-mean-squared error between the base-10 logarithms of predicted and true prices, as a\n"
         "float;"),
        ("ex06-10", "torch.log(clipped) - torch.log(price)", "torch.log10(clipped) - torch.log10(price)"),
        ("ex06-11", "check_log_rmse(log_rmse)", "check_log_rmse(log_rmse, base=10)"),
    ]

    return {
        "book": {"params": {"activation": "relu", "folds": "contiguous", "base": "e"}, "replace": []},
        "b": {"params": {"activation": "tanh", "folds": "interleaved", "base": "10"}, "replace": edits},
    }
