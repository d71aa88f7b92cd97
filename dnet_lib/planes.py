"""Decision planes (chapter 8): the class predicted on the plane ``a + s (b - a) + t (c - a)``
through three images, and how often it changes between neighbouring grid points."""
from __future__ import annotations

import torch
from torch import nn

from . import validate

__all__ = ["SPAN", "image_plane", "predict_plane", "class_changes", "random_planes"]

SPAN = (-0.5, 1.5)       # s and t run over this range: a little beyond the three images


def image_plane(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, grid: int,
                span=SPAN) -> torch.Tensor:
    """Images ``a + s (b - a) + t (c - a)`` on a ``grid`` x ``grid`` lattice of (s, t) in
    ``span``; shape ``(grid, grid, *a.shape)``, indexed [s, t]."""
    validate.check_int("grid", grid, 2)
    if not (a.shape == b.shape == c.shape):
        raise ValueError(f"a, b and c must have one shape, got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(c.shape)}")
    values = torch.linspace(span[0], span[1], grid)
    s, t = torch.meshgrid(values, values, indexing="ij")
    extra = (None,) * a.dim()
    return a + s[(...,) + extra] * (b - a) + t[(...,) + extra] * (c - a)


@torch.no_grad()
def predict_plane(model: nn.Module, plane: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """The class ``model`` (in eval mode) predicts at every point of ``plane``: (grid, grid)."""
    grid = plane.shape[:2]
    flat = plane.reshape(-1, *plane.shape[2:])
    model.eval()
    out = [model(flat[i:i + batch]).argmax(1) for i in range(0, len(flat), batch)]
    return torch.cat(out).reshape(grid)


def class_changes(pred: torch.Tensor) -> int:
    """Neighbouring grid points (along s and along t) with different predicted classes."""
    return int((pred[1:] != pred[:-1]).sum() + (pred[:, 1:] != pred[:, :-1]).sum())


def random_planes(models: dict, images: torch.Tensor, planes: int, grid: int,
                  seed: int = 0):
    """Class changes of every model on ``planes`` planes through random triples of
    ``images``: a DataFrame with one column per model, one row per plane."""
    import pandas as pd
    validate.check_int("planes", planes, 1)
    generator = torch.Generator().manual_seed(seed)
    counts = {name: [] for name in models}
    for _ in range(planes):
        i, j, k = torch.randperm(len(images), generator=generator)[:3]
        plane = image_plane(images[i], images[j], images[k], grid)
        for name, model in models.items():
            counts[name].append(class_changes(predict_plane(model, plane)))
    return pd.DataFrame(counts)
