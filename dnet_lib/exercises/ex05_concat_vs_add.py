"""Exercise 5 (concatenation versus addition): the visible checks of the notebook `ex05_concat_vs_add`."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._common import ok, need_callable, relative_error, hidden_tests_of

__all__ = ["check_split_linear", "check_as_residual", "check_fit_error", "hidden_tests"]

hidden_tests = hidden_tests_of(__name__)


def check_split_linear(fn: Callable, split: str = "columns") -> None:
    need_callable(fn, "split_linear")
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
        ok("linear(x) cut into pieces == x @ W_i.T + b_i")
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
    ok("linear(cat([a, b])) == a @ W_a.T + b @ W_b.T + bias")


def check_as_residual(fn: Callable, side: str = "left") -> None:
    need_callable(fn, "as_residual")
    g = torch.Generator().manual_seed(6)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64) + 4 * torch.eye(4, dtype=torch.float64)
    B = torch.randn(4, 4, generator=g, dtype=torch.float64)
    M = fn(A, B)
    x, fx = torch.randn(4, 7, generator=g, dtype=torch.float64), torch.randn(4, 7, generator=g, dtype=torch.float64)
    if side == "right":
        x, fx = x.T, fx.T
        err = relative_error((x + fx @ M) @ A, x @ A + fx @ B)
        assert err < 1e-8, f"(x + f M) A should equal x A + f B; relative error {err:.3g}"
        ok("x A + f(x) B == (x + f(x) M) A")
        return
    err = relative_error(A @ (x + M @ fx), A @ x + B @ fx)
    assert err < 1e-8, f"A(x + M f) should equal A x + B f; relative error {err:.3g}"
    ok("A x + B f(x) == A (x + M f(x))")


def check_fit_error(fn: Callable, fit: str = "affine") -> None:
    need_callable(fn, "fit_error")
    g = torch.Generator().manual_seed(7)
    feats = torch.randn(50, 3, generator=g, dtype=torch.float64)
    target = feats @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + (3.0 if fit == "affine" else 0.0)
    err = fn(feats, target)
    assert isinstance(err, float), f"fit_error must return a float, got {type(err).__name__}"
    assert err < 1e-8, f"the target is an exact {fit} function of the features, so the error should be ~0, got {err:.3g}"
    ok(f"an exactly {fit} target is fitted exactly")
