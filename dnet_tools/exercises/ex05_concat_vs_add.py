"""Exercise 5 (concatenation versus addition): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex05_concat_vs_add``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, call, seq, as_float, as_tensor, close, raised

EXERCISE = "ex05"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


def _q1_case():
    torch.manual_seed(11)
    return nn.Linear(13, 4) , nn.Linear(5, 12)


def _q1_probe(ns, p):
    reads, writes = _q1_case()
    return [call(ns["split_linear"], reads, [5, 1, 7], what="split_linear"),
            call(ns["split_linear"], writes, [3, 9], what="split_linear")]


def _q1_judge(data, p):
    for lin, sizes, got in zip(_q1_case(), ([5, 1, 7], [3, 9]), data):
        if p["split"] == "columns" and sum(sizes) != lin.in_features:
            raised(got, "ValueError", f"split_linear(Linear({lin.in_features}, {lin.out_features}), {sizes})")
            continue
        if p["split"] == "rows" and sum(sizes) != lin.out_features:
            raised(got, "ValueError", f"split_linear(Linear({lin.in_features}, {lin.out_features}), {sizes})")
            continue
        blocks = [as_tensor(b, "a weight block") for b in seq(got, "split_linear(...)")]
        dim = 1 if p["split"] == "columns" else 0
        want = torch.split(lin.weight.detach().to(torch.float64), sizes, dim=dim)
        assert len(blocks) == len(want), f"expected {len(want)} blocks, got {len(blocks)}"
        for b, w in zip(blocks, want):
            assert b.shape == w.shape and torch.allclose(b, w, atol=1e-7), \
                f"block of shape {tuple(b.shape)} differs from the weight's {tuple(w.shape)} slice"


def _q2_cases():
    g = torch.Generator().manual_seed(12)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64) + 6 * torch.eye(6, dtype=torch.float64)
    B = torch.randn(6, 3, generator=g, dtype=torch.float64)
    C = torch.randn(3, 6, generator=g, dtype=torch.float64)
    return [(A, B), (A, C)]


def _q2_probe(ns, p):
    A, B = _q2_cases()[0 if p["side"] == "left" else 1]
    return call(ns["as_residual"], A, B, what="as_residual")


def _q2_judge(data, p):
    A, B = _q2_cases()[0 if p["side"] == "left" else 1]
    M = as_tensor(data, "as_residual(A, B)")
    g = torch.Generator().manual_seed(99)
    if p["side"] == "left":        # A (x + M v) == A x + B v for column vectors
        assert tuple(M.shape) == (6, 3), f"M must have shape (6, 3), got {tuple(M.shape)}"
        v = torch.randn(3, 9, generator=g, dtype=torch.float64)
        err = ((A @ (M @ v)) - B @ v).abs().max() / (B @ v).abs().max()
    else:                          # (x + v M) A == x A + v B for row vectors
        assert tuple(M.shape) == (3, 6), f"M must have shape (3, 6), got {tuple(M.shape)}"
        v = torch.randn(9, 3, generator=g, dtype=torch.float64)
        err = ((v @ M) @ A - v @ B).abs().max() / (v @ B).abs().max()
    assert float(err) < 1e-9, f"the residual form differs from the concatenation's by {float(err):.3g} (relative)"


def _q3_cases():
    g = torch.Generator().manual_seed(13)
    F = torch.randn(200, 4, generator=g, dtype=torch.float64)
    noise = torch.randn(200, 2, generator=g, dtype=torch.float64)
    return [(F, noise), (F, F[:, :2] + noise + 3.0), (F, F[:, 1:3] * 2 - 1.0)]


def _q3_probe(ns, p):
    return [call(ns["fit_error"], f, y, what="fit_error") for f, y in _q3_cases()]


def _q3_judge(data, p):
    for (f, y), got in zip(_q3_cases(), data):
        design = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], 1) if p["fit"] == "affine" else f
        # the normal equations, not lstsq: an independent route to the same least-squares fit
        coef = torch.linalg.solve(design.T @ design, design.T @ y)
        scale = (y - y.mean(0)).norm() if p["fit"] == "affine" else y.norm()
        close(as_float(got, "fit_error"), float((design @ coef - y).norm() / scale), "fit_error", 1e-7)



# Q2's text: "Solve a linear system; do not form an explicit inverse."; Q3's: "Use torch.linalg.lstsq"
NO_INVERSE = Rules("Q2 asks to solve a linear system without an explicit inverse",
                   names=("inv", "inv_ex", "inverse", "pinv", "pinverse", "tensorinv", "matrix_power"),
                   reflection=False)
LSTSQ = Rules("Q3 asks for a least-squares fit with torch.linalg.lstsq", require=("lstsq",))
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge),
             "q2": Question(_q2_probe, _q2_judge, rules=NO_INVERSE),
             "q3": Question(_q3_probe, _q3_judge, rules=LSTSQ)}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits_rows = [
        ("ex05-03", "Write `split_linear(linear, sizes)`: given an `nn.Linear` that reads a concatenation of pieces of widths\n"
                    "`sizes`, return the list of weight blocks $W_i$ (each of shape `(out_features, sizes[i])`) such that\n"
                    "`linear(torch.cat(pieces, 1)) == sum(p @ W_i.T) + linear.bias`.",
         "**In this assignment the cut is on the other side**: a layer whose *output* is cut into pieces of widths\n"
         "`sizes`. Write `split_linear(linear, sizes)` returning the list of weight blocks $W_i$ (each of shape\n"
         "`(sizes[i], in_features)`) such that piece $i$ of `linear(x)` equals `x @ W_i.T` plus its part of the bias;\n"
         "raise `ValueError` unless `sum(sizes) == linear.out_features`."),
        ("ex05-04", "Column blocks of ``linear.weight``, one per concatenated piece.",
         "Row blocks of ``linear.weight``, one per piece of the output."),
        ("ex05-04", "if sum(sizes) != linear.in_features:", "if sum(sizes) != linear.out_features:"),
        ("ex05-04", 'add up to in_features="', 'add up to out_features="'),
        ("ex05-04", '"{linear.in_features}, got', '"{linear.out_features}, got'),
        ("ex05-04", "list(sizes), dim=1))", "list(sizes), dim=0))"),
        ("ex05-05", "check_split_linear(split_linear)", 'check_split_linear(split_linear, split="rows")'),
        ("ex05-06", "Write `as_residual(A, B)` returning the matrix $M$ with $A(\\mathbf{x} + M\\mathbf{v}) = A\\mathbf{x} + "
                    "B\\mathbf{v}$\nfor all $\\mathbf{x}, \\mathbf{v}$.",
         "**In this assignment vectors are rows**, as in `nn.Linear` (a sample is a row): write `as_residual(A, B)`\n"
         "returning the matrix $M$ with $(\\mathbf{x} + \\mathbf{v}M)A = \\mathbf{x}A + \\mathbf{v}B$ for all row vectors "
         "$\\mathbf{x}, \\mathbf{v}$."),
        ("ex05-07", "M such that A @ (x + M @ v) == A @ x + B @ v.", "M such that (x + v @ M) @ A == x @ A + v @ B."),
        ("ex05-07", "torch.linalg.solve(A, B)", "torch.linalg.solve(A, B, left=False)"),
        ("ex05-08", "check_as_residual(as_residual)", 'check_as_residual(as_residual, side="right")'),
        ("ex05-09", "the best affine least-squares fit of `target`", "the best *linear* least-squares fit of `target`"),
        ("ex05-09", "i.e. minimise\n$\\lVert [\\,F\\;\\mathbf{1}\\,] W - Y\\rVert$", "**without** an intercept, i.e. minimise\n$\\lVert F W - Y\\rVert$"),
        ("ex05-09", "$\\lVert \\hat Y - Y\\rVert / \\lVert Y - \\bar Y\\rVert$", "$\\lVert \\hat Y - Y\\rVert / \\lVert Y\\rVert$"),
        ("ex05-10", "design = torch.cat([features, ones], 1)", "design = features"),
        ("ex05-10", "(target - target.mean(0)).norm()", "target.norm()"),
        ("ex05-11", "check_fit_error(fit_error)", 'check_fit_error(fit_error, fit="linear")'),
        ("ex05-13", "A, B = split_linear(out, [width, width])", "A, B = out.weight[:, :width], out.weight[:, width:]"),
        ("ex05-13", "M = as_residual(A.detach(), B.detach())", "M = as_residual(A.detach().T, B.detach().T)"),
        ("ex05-13", "(terms[0] + terms[1] @ M.T) @ A.T", "(terms[0] + terms[1] @ M) @ A.T"),
    ]

    return {
        "book": {"params": {"split": "columns", "side": "left", "fit": "affine"}, "replace": []},
        "b": {"params": {"split": "rows", "side": "right", "fit": "linear"}, "replace": edits_rows},
    }
