"""A 2-D toy problem for the "smoother decision boundaries" claim: two spirals for the MLPs of
``dnet_lib.models``, and how wiggly a trained model's boundary is (the 0.5 contour's length,
the mean input gradient: smaller is smoother).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .arith import mlp_params
from .validate import check_int, check_number

__all__ = ["make_spirals", "plain_parameters", "dense_parameters", "width_for_parameters",
           "train_toy", "accuracy", "decision_grid", "boundary_length", "mean_input_gradient"]

EXTENT = (-1.5, 1.5, -1.5, 1.5)


def make_spirals(n: int = 1000, noise: float = 0.2, seed: int = 0, turns: float = 1.5
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``: ``n`` points of two interleaved spirals in roughly [-1.1, 1.1]^2 (float32,
    shape (n, 2)) and their int64 labels in {0, 1}, half per class. ``noise``: the standard
    deviation of Gaussian jitter in units of the arms' spacing (0 = exact curves)."""
    check_int("n", n, 2)
    check_number("noise", noise, 0.0, 10.0)
    check_number("turns", turns, 0.25, 10.0)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, count in enumerate((n // 2, n - n // 2)):
        t = np.sqrt(rng.uniform(0.0, 1.0, count))          # sqrt: uniform density along the arm
        angle = 2 * np.pi * turns * t + label * np.pi       # second arm rotated by 180 degrees
        points = np.stack([t * np.cos(angle), t * np.sin(angle)], 1)
        spacing = 1.0 / (2 * turns)                         # radial gap between neighbouring arms
        xs.append(points + rng.normal(0.0, noise * spacing / 2, points.shape))
        ys.append(np.full(count, label))
    order = rng.permutation(n)
    return (torch.from_numpy(np.concatenate(xs)[order].astype(np.float32)),
            torch.from_numpy(np.concatenate(ys)[order].astype(np.int64)))


def plain_parameters(in_features: int, hidden: int, num_layers: int, out_features: int) -> int:
    """Parameters of ``PlainMLP`` (and ``ResidualMLP``): ``arith.mlp_params`` with biases."""
    return mlp_params([in_features] + [hidden] * num_layers + [out_features], "plain", bias=True)


def dense_parameters(in_features: int, growth: int, num_layers: int, out_features: int) -> int:
    """Parameters of ``DenseMLP``, whose layers (and head) read the input and earlier outputs."""
    return mlp_params([in_features] + [growth] * num_layers + [out_features], "dense", bias=True)


def width_for_parameters(target: int, in_features: int, num_layers: int, out_features: int) -> int:
    """The plain/residual width whose parameter count is closest to ``target``."""
    check_int("target", target, 1)
    return min(range(1, 4097), key=lambda h: abs(
        plain_parameters(in_features, h, num_layers, out_features) - target))


def train_toy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 500,
              lr: float = 0.01, weight_decay: float = 0.0, seed: int = 0) -> list[float]:
    """The loss after each of ``steps`` full-batch Adam steps on cross-entropy; ``seed`` fixes
    dropout's randomness (initialise the model under your own seed)."""
    check_int("steps", steps, 1)
    check_number("lr", lr, 0.0, 10.0, low_open=True)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of ``x`` that ``model`` (in eval mode) classifies as ``y``."""
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def _grid(extent: Sequence[float], resolution: int):
    check_int("resolution", resolution, 2)
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, "
                         f"got {tuple(extent)}")
    xs, ys = np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))


def decision_grid(model: nn.Module, extent: Sequence[float] = EXTENT, resolution: int = 200
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, prob)``: the probability of class 1 on a ``resolution`` x ``resolution`` grid
    over ``extent`` = (xmin, xmax, ymin, ymax), ``prob[i, j]`` at ``(xs[j], ys[i])``."""
    xs, ys, points = _grid(extent, resolution)
    model.eval()
    with torch.no_grad():
        prob = torch.softmax(model(points), 1)[:, 1].numpy().reshape(resolution, resolution)
    return xs, ys, prob.astype(np.float64)


def boundary_length(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray, level: float = 0.5) -> float:
    """Total length of the ``prob == level`` contour (all pieces), in input units."""
    import contourpy
    generator = contourpy.contour_generator(np.asarray(xs), np.asarray(ys), np.asarray(prob))
    lines = generator.lines(level)
    return sum(float(np.linalg.norm(np.diff(np.asarray(line), axis=0), axis=1).sum())
               for line in lines)


def mean_input_gradient(model: nn.Module, extent: Sequence[float] = EXTENT,
                        resolution: int = 100) -> float:
    """Mean over a grid of ``|d p(class 1) / d x|``: how sharply the prediction changes in space."""
    points = _grid(extent, resolution)[2].requires_grad_(True)
    model.eval()
    (grad,) = torch.autograd.grad(torch.softmax(model(points), 1)[:, 1].sum(), points)
    return grad.norm(dim=1).mean().item()
