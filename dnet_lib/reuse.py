"""Feature reuse inside a trained DenseNet: the heat map of Huang et al. (2017), Figure 5.

Inside a dense block, layer ``l`` reads the concatenation ``[x_0, x_1, ..., x_{l-1}]``; its first
convolution therefore has one slice of input channels per *source*: the block input ``x_0`` and
each earlier layer. The mean absolute weight over a source's slice says how strongly layer ``l``
uses that source. The transition layer after the block (or the classifier after the last block)
reads every source too and becomes the final target row.

Normalisation. The paper colours pixel (s, l) by the average L1 norm of the weights from s to l,
normalised by the number of input feature maps. We take the mean of ``|w|`` over the slice, i.e.
the slice's L1 norm divided by its number of elements (output channels x input maps from s x
kernel positions). Dividing by the number of input maps is what makes the block input (many maps)
comparable with a layer's ``k`` maps; dividing also by output channels and kernel size only
rescales a whole row, and ``normalize="row"`` then scales each target row to a maximum of 1 so
rows with different fan-in share one colour scale.

``fold_bn=True`` multiplies each input channel's weights by ``|gamma| / sqrt(running_var + eps)``
of the BatchNorm in front of the convolution: the weight the conv applies to the *raw* feature
map. The paper uses the plain weights (the default here).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .models import DenseBlock, DenseNet, Transition

__all__ = ["source_slices", "feature_reuse", "plot_feature_reuse", "reuse_summary",
           "figure5_observations", "FIGURE5_OBSERVATIONS", "NORMALIZE"]

NORMALIZE = ("none", "row")


def source_slices(block: DenseBlock) -> list[tuple[int, int]]:
    """Channel ranges ``[start, stop)`` of the block input and each layer's output inside the
    concatenation (source 0 = block input, source i = layer i)."""
    if not isinstance(block, DenseBlock):
        raise ValueError(f"block must be a dnet_lib DenseBlock, got {type(block).__name__}")
    slices = [(0, block.in_channels)]
    for i in range(block.num_layers):
        start = block.in_channels + i * block.growth_rate
        slices.append((start, start + block.growth_rate))
    return slices


def _input_scale(norm: nn.BatchNorm2d | None, channels: int) -> torch.Tensor:
    if norm is None:
        return torch.ones(channels)
    gamma = norm.weight.detach() if norm.weight is not None else torch.ones(channels)
    return gamma.abs() / torch.sqrt(norm.running_var.detach() + norm.eps)


def _row(weight: torch.Tensor, slices: Sequence[tuple[int, int]], scale: torch.Tensor) -> np.ndarray:
    """Mean |w| over each source's input-channel slice. weight: (out, in, ...) or (out, in)."""
    w = weight.detach().float().abs()
    w = w * scale.view(1, -1, *([1] * (w.dim() - 2)))
    return np.array([w[:, a:b].mean().item() for a, b in slices])


def feature_reuse(model: DenseNet, normalize: str = "none", fold_bn: bool = False) -> list[np.ndarray]:
    """One matrix per dense block, shape ``(L + 1, L + 1)`` for a block of L layers.

    Row t is a target: rows ``0..L-1`` are the block's layers 1..L (their first convolution, the
    one that reads the concatenation), row L is the transition's 1x1 conv after the block, or the
    classifier after the last block. Column s is a source: 0 = block input, s = layer s.
    ``M[t, s]`` is the mean absolute weight from source s to target t; entries with s > t (a
    layer cannot read a later one) are NaN.
    """
    if not isinstance(model, DenseNet):
        raise ValueError(f"model must be a dnet_lib DenseNet, got {type(model).__name__}")
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    modules = list(model.features.children())
    matrices = []
    for index, block in enumerate(modules):
        if not isinstance(block, DenseBlock):
            continue
        slices = source_slices(block)
        size = block.num_layers + 1
        matrix = np.full((size, size), np.nan)
        for t, layer in enumerate(block.values()):
            scale = _input_scale(layer.norm1 if fold_bn else None, layer.in_channels)
            matrix[t, :t + 1] = _row(layer.conv1.weight, slices[:t + 1], scale)
        after = modules[index + 1] if index + 1 < len(modules) else None
        if isinstance(after, Transition):
            scale = _input_scale(after.norm if fold_bn else None, block.out_channels)
            matrix[-1] = _row(after.conv.weight, slices, scale)
        else:
            # last block: the final BatchNorm, ReLU and global pooling sit between it and the classifier
            norm = after if isinstance(after, nn.BatchNorm2d) else None
            scale = _input_scale(norm if fold_bn else None, block.out_channels)
            matrix[-1] = _row(model.classifier.weight, slices, scale)
        if normalize == "row":
            matrix = matrix / np.nanmax(matrix, axis=1, keepdims=True)
        matrices.append(matrix)
    return matrices


def plot_feature_reuse(model_or_matrices, normalize: str = "row", fold_bn: bool = False,
                       axes=None, cmap: str = "viridis", annotate: bool = True):
    """Heat maps in the paper's orientation: target layer on the x axis, source on the y axis.

    Accepts a DenseNet or the list returned by ``feature_reuse``. Each panel's colours span its
    own minimum to maximum (the colour bar says which values); ``annotate`` writes every value
    into its square, so small blocks can be read without the colour bar. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(model_or_matrices, DenseNet):
        matrices = feature_reuse(model_or_matrices, normalize=normalize, fold_bn=fold_bn)
    else:
        matrices = [np.asarray(m, dtype=float) for m in model_or_matrices]
    if not matrices:
        raise ValueError("no dense blocks to plot")
    n = len(matrices)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 2.8), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    last = n - 1
    for b, (ax, m) in enumerate(zip(axes, matrices)):
        size = m.shape[0]
        image = ax.imshow(m.T, origin="upper", cmap=cmap, interpolation="nearest")
        if annotate and size <= 8:               # beyond 8x8 the numbers no longer fit
            _annotate(ax, m.T, image)
        final = "cls" if b == last else "trans"
        ax.set_xticks(range(size), [str(i + 1) for i in range(size - 1)] + [final], fontsize=7)
        ax.set_yticks(range(size), ["in"] + [str(i) for i in range(1, size)], fontsize=7)
        ax.set_xlabel("target layer")
        if b == 0:
            ax.set_ylabel("source")
        ax.set_title(f"dense block {b + 1}", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if fig.get_layout_engine() is None:        # the book's style uses constrained layout
        fig.tight_layout()
    return fig


def _annotate(ax, values: np.ndarray, image) -> None:
    """Write each finite value into its square, dark on light colours and light on dark."""
    for (row, col), v in np.ndenumerate(values):
        if np.isfinite(v):
            r, g, b, _ = image.cmap(image.norm(v))
            light = 0.299 * r + 0.587 * g + 0.114 * b > 0.5
            ax.text(col, row, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="black" if light else "white")


# --------------------------------------------------------------------------- reading the map
def _check_matrices(matrices) -> list[np.ndarray]:
    matrices = [np.asarray(m, dtype=float) for m in matrices]
    if not matrices or any(m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2
                           for m in matrices):
        raise ValueError("matrices must be a non-empty list of square (L + 1, L + 1) arrays "
                         "with L >= 1, as returned by feature_reuse")
    return matrices


def reuse_summary(matrices):
    """Two ratios per block, from ``feature_reuse`` matrices (any normalisation).

    * ``input_vs_layers``: for the layers that read the block input and at least one earlier
      layer, the weight on the block input divided by the mean weight on the earlier layers,
      averaged over those layers (NaN for a block of one layer). Below 1: the input is used less.
    * ``final_late_vs_early``: in the final row (transition or classifier), the mean weight on
      the later half of the block's layers divided by the mean on the earlier half (the block
      input excluded). Above 1: the final row leans on later layers.

    Returns a DataFrame with one row per block.
    """
    import pandas as pd
    matrices = _check_matrices(matrices)
    rows = []
    for b, m in enumerate(matrices):
        layers = m[1:-1]                       # targets 2..L: they read x_0 and >= 1 layer
        ratios = [r[0] / np.nanmean(r[1:]) for r in layers]
        final = m[-1, 1:]                      # the final row's weights on layers 1..L
        half = max(1, len(final) // 2)
        late_vs_early = np.mean(final[-half:]) / np.mean(final[:half])
        rows.append(dict(block=b + 1,
                         final_row="classifier" if b == len(matrices) - 1 else "transition",
                         input_vs_layers=float(np.mean(ratios)) if ratios else float("nan"),
                         final_late_vs_early=float(late_vs_early)))
    return pd.DataFrame(rows)


# The paper's four observations about its Figure 5, in our words, each with the statistic we
# compute and the rule that decides whether it holds for a given model.
FIGURE5_OBSERVATIONS = (
    ("1. Layers spread their weight over many inputs of their block",
     "share of (layer, earlier source) pairs weighted >= 1/3 of the row's strongest source",
     ">= 0.8"),
    ("2. Transition layers spread their weight across the whole preceding block",
     "share of (transition, source) pairs weighted >= 1/3 of the row's strongest source",
     ">= 0.8"),
    ("3. In blocks 2 and later, layers weight the block input (the transition's output) least",
     "share of those layers (reading >= 2 sources) whose weakest source is the block input",
     ">= 0.75"),
    ("4. The classifier concentrates on the last maps of the last block",
     "classifier weight on the last layer's maps / its mean weight on the other sources",
     "> 1"),
)


def figure5_observations(matrices, used_fraction: float = 1 / 3):
    """Test the paper's four Figure 5 observations on one model's ``feature_reuse`` matrices.

    Returns a DataFrame with columns ``observation``, ``statistic``, ``value``, ``criterion``
    and ``holds`` (a bool computed from value and criterion; None when the model has no row to
    test, e.g. observation 2 with a single block). ``used_fraction``: a source counts as used by
    a row when its weight is at least this fraction of the row's maximum.
    """
    import pandas as pd
    matrices = _check_matrices(matrices)
    rows = [m / np.nanmax(m, axis=1, keepdims=True) for m in matrices]
    layer_cells = [v for m in rows for r in m[1:-1] for v in r[~np.isnan(r)]]
    transition_cells = [v for m in rows[:-1] for v in m[-1]]
    weakest_is_input = [bool(np.nanargmin(r) == 0) for m in rows[1:] for r in m[1:-1]]
    cls = matrices[-1][-1]
    values = [
        float(np.mean(np.array(layer_cells) >= used_fraction)) if layer_cells else None,
        float(np.mean(np.array(transition_cells) >= used_fraction)) if transition_cells else None,
        float(np.mean(weakest_is_input)) if weakest_is_input else None,
        float(cls[-1] / np.mean(cls[:-1])),
    ]
    tests = [lambda v: v >= 0.8, lambda v: v >= 0.8, lambda v: v >= 0.75, lambda v: v > 1]
    table = []
    for (observation, statistic, criterion), value, test in zip(FIGURE5_OBSERVATIONS, values,
                                                                 tests):
        table.append(dict(observation=observation, statistic=statistic, value=value,
                          criterion=criterion, holds=None if value is None else bool(test(value))))
    return pd.DataFrame(table)
