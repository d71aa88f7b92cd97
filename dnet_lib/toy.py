"""The "smoother decision boundaries" claim (chapter 8): two spirals for the MLPs of
``dnet_lib.models`` and the length of a trained model's 0.5 contour; for an image classifier,
how often the class changes on the plane ``a + s (b - a) + t (c - a)`` through three images."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .arith import mlp_params
from .degradation import optimise
from .validate import check_int, check_number

__all__ = ["make_spirals", "dense_parameters", "width_for_parameters", "train_toy",
           "decision_grid", "boundary_length", "SPAN", "image_plane", "predict_plane",
           "class_changes", "random_planes"]

EXTENT = (-1.5, 1.5, -1.5, 1.5)
TURNS = 1.5              # each spiral arm winds one and a half times


def make_spirals(n: int, noise: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``: ``n`` points (float32, (n, 2)) of two interleaved spirals in about [-1.1, 1.1]^2
    and their labels (int64, half 0, half 1); ``noise``: jitter in units of the arms' spacing."""
    check_int("n", n, 2)
    check_number("noise", noise, 0.0, 10.0)
    rng = np.random.default_rng(seed)
    xs = []
    for label, count in enumerate((n // 2, n - n // 2)):
        t = np.sqrt(rng.uniform(0.0, 1.0, count))          # sqrt: uniform density along the arm
        angle = 2 * np.pi * TURNS * t + label * np.pi       # second arm rotated by 180 degrees
        points = np.stack([t * np.cos(angle), t * np.sin(angle)], 1)
        spacing = 1.0 / (2 * TURNS)                         # radial gap between neighbouring arms
        xs.append(points + rng.normal(0.0, noise * spacing / 2, points.shape))
    order = rng.permutation(n)          # the first n // 2 points are class 0, the others class 1
    return (torch.from_numpy(np.concatenate(xs)[order].astype(np.float32)),
            torch.from_numpy((order >= n // 2).astype(np.int64)))


def dense_parameters(in_features: int, growth: int, num_layers: int, out_features: int) -> int:
    """Parameters of ``DenseMLP``, whose layers (and head) read the input and earlier outputs."""
    return mlp_params([in_features] + [growth] * num_layers + [out_features], "dense", bias=True)


def width_for_parameters(target: int, in_features: int, num_layers: int, out_features: int) -> int:
    """The width of ``PlainMLP`` or ``ResidualMLP`` whose parameter count is nearest ``target``."""
    check_int("target", target, 1)
    return min(range(1, 4097), key=lambda h: abs(target - mlp_params(
        [in_features] + [h] * num_layers + [out_features], "plain", bias=True)))


def train_toy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 500,
              lr: float = 0.01) -> list[float]:
    """The loss after each of ``steps`` full-batch Adam steps on cross-entropy (deterministic:
    initialise the model under your own seed)."""
    check_int("steps", steps, 1)
    check_number("lr", lr, 0.0, 10.0, low_open=True)
    return optimise(model, torch.optim.Adam(model.parameters(), lr=lr), [(x, y)] * steps)


@torch.no_grad()
def decision_grid(model: nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, prob)``: the probability of class 1 on a 200 x 200 grid over ``EXTENT`` =
    (xmin, xmax, ymin, ymax), ``prob[i, j]`` at ``(xs[j], ys[i])``."""
    xs, ys = np.linspace(*EXTENT[:2], 200), np.linspace(*EXTENT[2:], 200)
    gx, gy = np.meshgrid(xs, ys)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    prob = torch.softmax(model.eval()(points), 1)[:, 1].numpy().reshape(gx.shape)
    return xs, ys, prob.astype(np.float64)


def boundary_length(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray) -> float:
    """Total length of the ``prob == 0.5`` contour (all pieces), in input units."""
    import contourpy
    lines = contourpy.contour_generator(xs, ys, prob).lines(0.5)
    return sum(float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum()) for line in lines)


# --------------------------------------------------------------------------- image planes
SPAN = (-0.5, 1.5)       # s and t run over this range: a little beyond the three images


def image_plane(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, grid: int) -> torch.Tensor:
    """Images ``a + s (b - a) + t (c - a)`` on a ``grid`` x ``grid`` lattice of (s, t) in
    ``SPAN``; shape ``(grid, grid, *a.shape)``, indexed [s, t]."""
    check_int("grid", grid, 2)
    if not (a.shape == b.shape == c.shape):
        raise ValueError(f"a, b and c must have one shape, got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(c.shape)}")
    values = torch.linspace(*SPAN, grid)
    s, t = (v[(...,) + (None,) * a.dim()] for v in torch.meshgrid(values, values, indexing="ij"))
    return a + s * (b - a) + t * (c - a)


@torch.no_grad()
def predict_plane(model: nn.Module, plane: torch.Tensor) -> torch.Tensor:
    """The class ``model`` (in eval mode) predicts at every point of ``plane``: (grid, grid)."""
    out = [model.eval()(part).argmax(1) for part in plane.flatten(0, 1).split(1024)]
    return torch.cat(out).reshape(plane.shape[:2])


def class_changes(pred: torch.Tensor) -> int:
    """Neighbouring grid points (along s and along t) with different predicted classes."""
    return int((pred[1:] != pred[:-1]).sum() + (pred[:, 1:] != pred[:, :-1]).sum())


def random_planes(models: dict, images: torch.Tensor, planes: int, grid: int, seed: int = 0):
    """A DataFrame of the class changes of every model (a column each) on ``planes`` planes
    through random triples of ``images`` (a row each)."""
    import pandas as pd
    check_int("planes", planes, 1)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(planes):
        i, j, k = torch.randperm(len(images), generator=generator)[:3]
        plane = image_plane(images[i], images[j], images[k], grid)
        rows.append({name: class_changes(predict_plane(m, plane)) for name, m in models.items()})
    return pd.DataFrame(rows)
