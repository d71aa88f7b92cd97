"""Exercise 5 (concatenation versus addition): the visible checks of `ex05_concat_vs_add`."""
import torch
from torch import nn

from ._common import answer, hidden_tests_of, need_callable, ok, relative_error

hidden_tests = hidden_tests_of(__name__)


def check_split_linear(fn, split: str = "columns") -> None:
    """``fn(linear, [2, 3])`` -> the weight's blocks for input pieces of 2 and 3 features
    (``split="rows"``: for output pieces)."""
    need_callable(fn, "split_linear")
    rows = split == "rows"
    lin = nn.Linear(3, 5) if rows else nn.Linear(5, 3)
    blocks = fn(lin, [2, 3])
    shapes = [(2, 3), (3, 3)] if rows else [(3, 2), (3, 3)]
    got_shapes = [tuple(w.shape) for w in blocks]
    assert got_shapes == shapes, f"expected a block per piece, shapes {shapes}, got {got_shapes}"
    x = torch.randn(4, lin.in_features, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():       # linear(x) in output pieces, or linear(cat(a, b)) from input pieces
        pieces = (torch.cat([x @ w.T for w in blocks], 1) if rows
                  else sum(p @ w.T for p, w in zip(x.split([2, 3], 1), blocks)))
        err = relative_error(pieces + lin.bias, lin(x))
    what = ("linear(x) in pieces == x @ W_i.T + b_i" if rows
            else "linear(cat([a, b])) == a @ W_a.T + b @ W_b.T + bias")
    assert err < 1e-6, f"expected {what}: relative error {err:.3g}"
    ok(what)


def check_as_residual(fn, side: str = "left") -> None:
    """``fn(A, B)`` -> M with A x + B f(x) == A (x + M f(x)) (``side="right"``: x A + f B)."""
    g = torch.Generator().manual_seed(6)
    A, B, x, fx = (torch.randn(*s, generator=g, dtype=torch.float64)
                   for s in ((4, 4), (4, 4), (4, 7), (4, 7)))
    A = A + 4 * torch.eye(4, dtype=torch.float64)
    M = answer(fn, "as_residual", torch.Tensor, A, B)
    if side == "right":
        x, fx = x.T, fx.T
        err = relative_error((x + fx @ M) @ A, x @ A + fx @ B)
    else:
        err = relative_error(A @ (x + M @ fx), A @ x + B @ fx)
    what = "x A + f(x) B == (x + f(x) M) A" if side == "right" else "A x + B f(x) == A (x + M f(x))"
    assert err < 1e-8, f"expected {what}: relative error {err:.3g}"
    ok(what)


def check_fit_error(fn, fit: str = "affine") -> None:
    """``fn(features, target)`` -> the relative error of the best ``fit`` (affine or linear)."""
    g = torch.Generator().manual_seed(7)
    feats = torch.randn(50, 3, generator=g, dtype=torch.float64)
    weights = torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    err = answer(fn, "fit_error", float, feats, feats @ weights + (3.0 if fit == "affine" else 0.0))
    assert err < 1e-8, f"the target is an exact {fit} function of the features, got {err:.3g}"
    ok(f"an exactly {fit} target is fitted exactly")
