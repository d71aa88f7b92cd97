"""Visible checks for the exercise notebooks.

Each ``check_*`` function tests a student's answer on a small case, raises ``AssertionError``
with a message that says what was expected, and prints ``ok: ...`` when the answer passes.
They are deliberately lighter than the hidden tests the grader runs (``python -m dnet_tools.course
autograde``, in a separate process): passing them means "on the right track", not "full marks".
Keyword arguments select a graded variant of the question (``dnet_tools.variants``); the defaults
are the book's version.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

__all__ = [
    "check_gradient_coverage", "check_swap_error", "check_pool_densenet",
    "check_count_parameters", "check_layer_formulas", "check_stage_parameters", "check_param_ratio",
    "check_saved_bytes", "check_resolution_ratio", "check_efficient_pair",
    "check_table1_config", "check_table1_model", "check_output_sizes",
    "check_split_linear", "check_as_residual", "check_fit_error",
    "check_dense_linear_block", "check_k_fold", "check_log_rmse",
    "relative_error",
]


def _ok(what: str) -> None:
    print(f"ok: {what}")


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max(max |b|, 1e-12): a scale-free distance between two tensors."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _callable(fn, name: str) -> None:
    assert callable(fn), f"{name} must be a function, got {type(fn).__name__}"


# --------------------------------------------------------------------------- ex01: pooling
def check_gradient_coverage(fn: Callable, count: str = "nonzero") -> None:
    """``fn(pool, x)`` -> fraction of the entries of ``x`` that receive a non-zero (``count="zero"``:
    a zero) gradient."""
    _callable(fn, "gradient_coverage")
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    value = fn(nn.AvgPool2d(2, 2), x)
    assert isinstance(value, float), f"gradient_coverage must return a Python float, got {type(value).__name__}"
    assert 0.0 <= value <= 1.0, f"a fraction lies in [0, 1], got {value}"
    want = 1.0 if count == "nonzero" else 0.0
    assert abs(value - want) < 1e-9, (f"every input of a 2x2 average pool contributes to an output, so the "
                                      f"answer for AvgPool2d(2, 2) should be {want}, got {value}")
    _ok("average pooling sends gradient to every input")


def check_swap_error(fn: Callable) -> None:
    """``fn(pool, conv, x)`` -> max |pool(conv(x)) - conv(pool(x))|."""
    _callable(fn, "swap_error")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 6, 6, generator=g)
    conv = nn.Conv2d(4, 3, 1)
    value = fn(nn.AvgPool2d(2, 2), conv, x)
    assert isinstance(value, float), f"swap_error must return a Python float, got {type(value).__name__}"
    assert value < 1e-5, (f"a 1x1 convolution and an average pool are both linear and act on different "
                          f"axes, so swapping them should change nothing (up to rounding); got {value:.3g}")
    _ok("1x1 conv and average pooling commute")


def check_pool_densenet(fn: Callable) -> None:
    """``fn(pool)`` -> a small DenseNet for 1x28x28 images whose transitions use ``pool``."""
    _callable(fn, "make_densenet")
    model = fn("avg")
    assert isinstance(model, nn.Module), f"make_densenet must return an nn.Module, got {type(model).__name__}"
    out = model.eval()(torch.zeros(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 10), f"expected logits of shape (2, 10) for 2 images, got {tuple(out.shape)}"
    assert any(isinstance(m, nn.AvgPool2d) for m in model.modules()), "make_densenet('avg') has no AvgPool2d"
    _ok("make_densenet('avg') builds a 10-class model for 28x28 images")


# --------------------------------------------------------------------------- ex02: parameters
def check_count_parameters(fn: Callable) -> None:
    _callable(fn, "count_parameters")
    value = fn(nn.Linear(3, 2))
    assert isinstance(value, int), f"count_parameters must return an int, got {type(value).__name__}"
    assert value == 8, f"nn.Linear(3, 2) has a 2x3 weight and 2 biases = 8 parameters, got {value}"
    _ok("nn.Linear(3, 2) has 8 parameters")


def check_layer_formulas(dense_layer_params: Callable, basic_block_params: Callable,
                         bottleneck: bool = True) -> None:
    from .models import BasicBlock, DenseLayer
    _callable(dense_layer_params, "dense_layer_params")
    _callable(basic_block_params, "basic_block_params")
    real = sum(p.numel() for p in DenseLayer(64, 32, bottleneck=bottleneck).parameters())
    got = dense_layer_params(64, 32)
    kind = "bottleneck, bn_size=4" if bottleneck else "no bottleneck"
    assert got == real, (f"DenseLayer(64, 32) ({kind}, no conv bias) has {real} parameters, "
                         f"your formula gives {got}: count every BatchNorm (weight and bias) and every conv")
    real = sum(p.numel() for p in BasicBlock(64, 64).parameters())
    got = basic_block_params(64)
    assert got == real, (f"BasicBlock(64, 64) has {real} parameters, your formula gives {got}: "
                         f"two 3x3 convs without bias, two BatchNorms")
    _ok("both formulas match the real modules for 64 channels")


def check_stage_parameters(fn: Callable) -> None:
    from .models import d2l_densenet
    _callable(fn, "stage_parameters")
    model = d2l_densenet()
    table = fn(model)
    assert isinstance(table, dict), f"stage_parameters must return a dict name -> count, got {type(table).__name__}"
    total = sum(p.numel() for p in model.parameters())
    assert sum(table.values()) == total, (f"the stages must add up to the whole model ({total:,} parameters), "
                                          f"yours add up to {sum(table.values()):,}")
    assert "denseblock1" in table, f"expected a 'denseblock1' entry, got keys {list(table)}"
    _ok(f"{len(table)} stages adding up to {total:,} parameters")


def check_param_ratio(value) -> None:
    assert isinstance(value, float), f"param_ratio must be a float, got {type(value).__name__}"
    assert math.isfinite(value) and value > 1, (f"ResNet-18 should have more parameters than the d2l DenseNet, "
                                                f"so the ratio resnet / densenet should exceed 1, got {value}")
    _ok(f"ratio {value:.2f} > 1")


# --------------------------------------------------------------------------- ex03: memory
def check_saved_bytes(fn: Callable, unit: str = "bytes") -> None:
    """``fn(model, x)`` -> bytes (``unit="elements"``: float32 elements) autograd saves for backward."""
    _callable(fn, "saved_bytes")
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
    _ok(f"Linear(100, 1) on 8x100 saves {got:,} {unit}")


def check_resolution_ratio(value, sizes: tuple = (224, 96)) -> None:
    high, low = sizes
    pixels = (high / low) ** 2
    assert isinstance(value, float), f"resolution_ratio must be a float, got {type(value).__name__}"
    assert 0.55 * pixels < value < 1.5 * pixels, (
        f"activations grow with height x width: ({high}/{low})^2 is about {pixels:.2f}, the exact ratio "
        f"depends on rounding in the stem and transitions; got {value:.3g}")
    _ok(f"ratio {value:.2f} is close to the pixel ratio ({high}/{low})^2 = {pixels:.2f}")


def check_efficient_pair(fn: Callable, order: str = "plain-first") -> None:
    _callable(fn, "efficient_pair")
    plain, efficient = fn() if order == "plain-first" else fn()[::-1]
    assert isinstance(plain, nn.Module) and isinstance(efficient, nn.Module), \
        f"efficient_pair must return two models ({order.replace('-', ' ')})"
    sd_p, sd_e = plain.state_dict(), efficient.state_dict()
    assert sd_p.keys() == sd_e.keys() and all(torch.equal(sd_p[k], sd_e[k]) for k in sd_p), \
        "both models must hold identical weights (copy the state dict) so their outputs can be compared"
    flags = [getattr(m, "memory_efficient", None) for m in efficient.modules() if hasattr(m, "memory_efficient")]
    assert flags and all(flags), "the second model's dense layers must have memory_efficient=True"
    _ok("same weights, second model memory-efficient")


# --------------------------------------------------------------------------- ex04: Table 1
def check_table1_config(fn: Callable, table: str = "imagenet") -> None:
    _callable(fn, "table1_block_config")
    depth, want, bad = (121, (6, 12, 24, 16), 100) if table == "imagenet" else (100, (16, 16, 16), 121)
    got = fn(depth)
    assert tuple(got) == want, f"DenseNet-{depth} has dense blocks of {want} layers, got {got}"
    try:
        fn(bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"table1_block_config({bad}) should raise ValueError: the table has no DenseNet-{bad}")
    _ok(f"DenseNet-{depth} config and bad depth")


def check_table1_model(fn: Callable, table: str = "imagenet") -> None:
    _callable(fn, "build_table1_densenet")
    depth, low, high, extra = (121, 7_000_000, 9_000_000, 5) if table == "imagenet" else (100, 700_000, 1_200_000, 4)
    with torch.device("meta"):                     # shapes only: no memory, no time
        model = fn(depth)
    n = sum(p.numel() for p in model.parameters())
    got = 2 * sum(model.block_config) + extra if hasattr(model, "block_config") else None
    assert got in (None, depth), f"the model's blocks give depth {got}, expected {depth}"
    assert low < n < high, f"DenseNet-{depth} has {low / 1e6:.1f}-{high / 1e6:.1f} million parameters, yours {n:,}"
    _ok(f"DenseNet-{depth} built with {n:,} parameters")


def check_output_sizes(fn: Callable, report: str = "side") -> None:
    from .models import densenet121
    _callable(fn, "output_sizes")
    with torch.device("meta"):
        model = densenet121()
    sizes = fn(model, 224)
    assert isinstance(sizes, dict), f"output_sizes must return a dict stage -> side length, got {type(sizes).__name__}"
    if report == "side":
        assert sizes.get("pool0") == 56, \
            f"after the stem (7x7/2 conv + 3x3/2 max pool) a 224 input is 56x56, got {sizes.get('pool0')}"
        _ok("stem output 56x56")
    else:
        assert sizes.get("pool0") == 64, f"DenseNet-121's stem outputs 64 channels, got {sizes.get('pool0')}"
        _ok("stem output 64 channels")


# --------------------------------------------------------------------------- ex05: concat vs add
def check_split_linear(fn: Callable, split: str = "columns") -> None:
    _callable(fn, "split_linear")
    g = torch.Generator().manual_seed(5)
    if split == "rows":
        lin = nn.Linear(3, 5)
        x = torch.randn(4, 3, generator=g)
        blocks = fn(lin, [2, 3])
        assert len(blocks) == 2, f"two pieces need two weight blocks, got {len(blocks)}"
        assert tuple(blocks[0].shape) == (2, 3) and tuple(blocks[1].shape) == (3, 3), \
            f"expected blocks of shape (2, 3) and (3, 3), got {[tuple(w.shape) for w in blocks]}"
        with torch.no_grad():
            err = relative_error(x @ blocks[0].T + lin.bias[:2], lin(x)[:, :2])
        assert err < 1e-6, f"the first block does not give the first piece of linear(x): error {err:.3g}"
        _ok("linear(x) cut into pieces == x @ W_i.T + b_i")
        return
    lin = nn.Linear(5, 3)
    a, b = torch.randn(4, 2, generator=g), torch.randn(4, 3, generator=g)
    blocks = fn(lin, [2, 3])
    assert len(blocks) == 2, f"two pieces need two weight blocks, got {len(blocks)}"
    assert tuple(blocks[0].shape) == (3, 2) and tuple(blocks[1].shape) == (3, 3), \
        f"expected blocks of shape (3, 2) and (3, 3), got {[tuple(w.shape) for w in blocks]}"
    with torch.no_grad():
        want = lin(torch.cat([a, b], 1))
        got = a @ blocks[0].T + b @ blocks[1].T + lin.bias
    err = relative_error(got, want)
    assert err < 1e-6, f"sum of the blocks applied to the pieces differs from linear(cat) by {err:.3g} (relative)"
    _ok("linear(cat([a, b])) == a @ W_a.T + b @ W_b.T + bias")


def check_as_residual(fn: Callable, side: str = "left") -> None:
    _callable(fn, "as_residual")
    g = torch.Generator().manual_seed(6)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64) + 4 * torch.eye(4, dtype=torch.float64)
    B = torch.randn(4, 4, generator=g, dtype=torch.float64)
    M = fn(A, B)
    x, fx = torch.randn(4, 7, generator=g, dtype=torch.float64), torch.randn(4, 7, generator=g, dtype=torch.float64)
    if side == "right":
        x, fx = x.T, fx.T
        err = relative_error((x + fx @ M) @ A, x @ A + fx @ B)
        assert err < 1e-8, f"(x + f M) A should equal x A + f B; relative error {err:.3g}"
        _ok("x A + f(x) B == (x + f(x) M) A")
        return
    err = relative_error(A @ (x + M @ fx), A @ x + B @ fx)
    assert err < 1e-8, f"A(x + M f) should equal A x + B f; relative error {err:.3g}"
    _ok("A x + B f(x) == A (x + M f(x))")


def check_fit_error(fn: Callable, fit: str = "affine") -> None:
    _callable(fn, "fit_error")
    g = torch.Generator().manual_seed(7)
    feats = torch.randn(50, 3, generator=g, dtype=torch.float64)
    target = feats @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + (3.0 if fit == "affine" else 0.0)
    err = fn(feats, target)
    assert isinstance(err, float), f"fit_error must return a float, got {type(err).__name__}"
    assert err < 1e-8, f"the target is an exact {fit} function of the features, so the error should be ~0, got {err:.3g}"
    _ok(f"an exactly {fit} target is fitted exactly")


# --------------------------------------------------------------------------- ex06: house prices
def check_dense_linear_block(cls) -> None:
    block = cls(5, 3, 2)
    x = torch.randn(4, 5)
    out = block(x)
    assert tuple(out.shape) == (4, 5 + 2 * 3), (f"DenseLinearBlock(5, growth=3, num_layers=2) should output "
                                                f"5 + 2*3 = 11 features, got shape {tuple(out.shape)}")
    assert torch.equal(out[:, :5], x), "the first in_features outputs must be the input itself (concatenation)"
    _ok("output width and pass-through of the input")


def check_k_fold(fn: Callable) -> None:
    _callable(fn, "k_fold_indices")
    folds = list(fn(10, 5))
    assert len(folds) == 5, f"5 folds expected, got {len(folds)}"
    train, valid = folds[0]
    assert len(valid) == 2 and len(train) == 8, f"fold 0 of 10 samples, k=5: 2 valid and 8 train, got {len(valid)}/{len(train)}"
    assert not set(map(int, train)) & set(map(int, valid)), "train and validation indices overlap"
    _ok("5 folds of 10 samples")


def check_log_rmse(fn: Callable, base: float | str = "e") -> None:
    _callable(fn, "log_rmse")
    y = torch.tensor([[100.0], [200.0]])
    got = fn(y, y)
    assert isinstance(got, float), f"log_rmse must return a float, got {type(got).__name__}"
    assert abs(got) < 1e-7, f"a perfect prediction has log-RMSE 0, got {got}"
    factor = math.e if base == "e" else float(base)
    got = fn(y * factor, y)
    assert abs(got - 1.0) < 1e-5, f"predicting {factor:.4g} times the price is off by exactly 1 in log space, got {got}"
    _ok(f"log-RMSE of perfect and {factor:.4g}-times predictions")
