"""A 2-D toy problem for the "smoother decision boundaries" claim.

``make_spirals`` draws two interleaved spirals (seeded numpy) for the three MLPs of
``dnet_lib.models`` (``PlainMLP``, ``ResidualMLP``, ``DenseMLP``) with the same number of hidden
layers; ``plain_parameters``/``dense_parameters`` count their weights.

``decision_grid`` evaluates a trained model on a grid; ``boundary_length`` (length of the 0.5
probability contour) and ``mean_input_gradient`` (average ``|grad_x p|`` over the grid) are two
measures of how wiggly the boundary is: smaller means smoother.
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
           "train_toy", "accuracy", "decision_grid", "boundary_length", "mean_input_gradient",
           "plot_decision_boundary"]

# --------------------------------------------------------------------------- data
def make_spirals(n: int = 1000, noise: float = 0.2, seed: int = 0, turns: float = 1.5
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals: ``n`` points (half per class) in roughly [-1.1, 1.1]^2.

    Returns ``(x, y)``: float32 of shape (n, 2) and int64 labels in {0, 1}. ``noise`` is the
    standard deviation of Gaussian jitter in units of the spirals' arm spacing (0 = exact curves).
    """
    check_int("n", n, 2)
    check_number("noise", noise, 0.0, 10.0)
    check_number("turns", turns, 0.25, 10.0)
    rng = np.random.default_rng(seed)
    counts = (n // 2, n - n // 2)
    xs, ys = [], []
    for label, count in enumerate(counts):
        t = np.sqrt(rng.uniform(0.0, 1.0, count))          # sqrt: uniform density along the arm
        angle = 2 * np.pi * turns * t + label * np.pi       # second arm rotated by 180 degrees
        radius = t
        spacing = 1.0 / (2 * turns)                         # radial gap between neighbouring arms
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
        points += rng.normal(0.0, noise * spacing / 2, points.shape)
        xs.append(points)
        ys.append(np.full(count, label))
    order = rng.permutation(n)
    x = np.concatenate(xs)[order].astype(np.float32)
    y = np.concatenate(ys)[order].astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def plain_parameters(in_features: int, hidden: int, num_layers: int, out_features: int) -> int:
    """Parameters of ``PlainMLP`` (and ``ResidualMLP``): ``arith.mlp_params`` with biases."""
    return mlp_params([in_features] + [hidden] * num_layers + [out_features], "plain", bias=True)


def dense_parameters(in_features: int, growth: int, num_layers: int, out_features: int) -> int:
    """Parameters of ``DenseMLP``: each layer (and the head) reads the input and all earlier outputs."""
    return mlp_params([in_features] + [growth] * num_layers + [out_features], "dense", bias=True)


def width_for_parameters(target: int, in_features: int, num_layers: int, out_features: int) -> int:
    """The plain/residual width whose parameter count is closest to ``target``."""
    check_int("target", target, 1)
    best = min(range(1, 4097), key=lambda h: abs(plain_parameters(in_features, h, num_layers,
                                                                   out_features) - target))
    return best


# --------------------------------------------------------------------------- training
def train_toy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 500,
              lr: float = 0.01, weight_decay: float = 0.0, seed: int = 0) -> list[float]:
    """Full-batch Adam on cross-entropy for ``steps`` steps. Returns the loss after each step.

    ``seed`` fixes dropout's randomness; initialise the model under your own seed for determinism.
    """
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
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def decision_grid(model: nn.Module, extent: Sequence[float] = (-1.5, 1.5, -1.5, 1.5),
                  resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability of class 1 on a ``resolution x resolution`` grid over ``extent`` =
    (xmin, xmax, ymin, ymax). Returns ``(xs, ys, prob)`` with ``prob[i, j]`` at ``(xs[j], ys[i])``."""
    check_int("resolution", resolution, 2)
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {tuple(extent)}")
    xs = np.linspace(xmin, xmax, resolution)
    ys = np.linspace(ymin, ymax, resolution)
    gx, gy = np.meshgrid(xs, ys)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    model.eval()
    with torch.no_grad():
        prob = torch.softmax(model(points), 1)[:, 1].numpy().reshape(resolution, resolution)
    return xs, ys, prob.astype(np.float64)


def boundary_length(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray, level: float = 0.5) -> float:
    """Total length of the ``prob == level`` contour (all pieces), in input units."""
    import contourpy

    generator = contourpy.contour_generator(np.asarray(xs), np.asarray(ys), np.asarray(prob))
    total = 0.0
    for line in generator.lines(level):
        line = np.asarray(line)
        if len(line) > 1:
            total += float(np.sqrt((np.diff(line, axis=0) ** 2).sum(1)).sum())
    return total


def mean_input_gradient(model: nn.Module, extent: Sequence[float] = (-1.5, 1.5, -1.5, 1.5),
                        resolution: int = 100) -> float:
    """Mean over a grid of ``|d p(class 1) / d x|``: how sharply the prediction changes in space."""
    check_int("resolution", resolution, 2)
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    points.requires_grad_(True)
    model.eval()
    prob = torch.softmax(model(points), 1)[:, 1]
    (grad,) = torch.autograd.grad(prob.sum(), points)
    return grad.norm(dim=1).mean().item()


def plot_decision_boundary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, ax=None,
                           title: str | None = None, extent: Sequence[float] = (-1.5, 1.5, -1.5, 1.5),
                           resolution: int = 200):
    """Probability map, the 0.5 contour and the data points. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    xs, ys, prob = decision_grid(model, extent, resolution)
    ax.contourf(xs, ys, prob, levels=20, cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    ax.contour(xs, ys, prob, levels=[0.5], colors="k", linewidths=1)
    points, labels = x.numpy(), y.numpy()
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu_r", s=4, edgecolors="none")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
