"""A diagram of a dual-path block (chapter 9), drawn from the modules themselves.

For every ``DualPathLayer`` of a ``models.DualPathBlock`` it reads the widths the modules hold
(``norm1.num_features``: what the layer reads; ``residual_channels``; ``conv2.out_channels``:
what it writes) and draws one row: on the left the channels the layer reads, split into the
residual path and the dense path's slices; on the right what it writes, split into the part
*added* to the residual path and the ``k`` maps *appended* to the dense path.
"""
from __future__ import annotations

from torch import nn

__all__ = ["layer_widths", "plot_dual_path_block", "COLOURS"]

COLOURS = {"residual": "#3182bd", "dense input": "#fdae6b", "dense": "#e6550d",
           "added": "#9ecae1", "appended": "#fd8d3c"}


def layer_widths(block: nn.Module) -> list[dict]:
    """Per layer: channels read (residual, dense), and written (added, appended), taken from
    the modules' own sizes."""
    from .models import DualPathBlock
    if not isinstance(block, DualPathBlock):
        raise ValueError(f"block must be a dnet_lib DualPathBlock, got {type(block).__name__}")
    rows = []
    for i, layer in enumerate(block.layers):
        reads = layer.norm1.num_features
        residual = layer.residual_channels
        writes = layer.conv2.out_channels
        rows.append(dict(layer=i + 1, reads=reads, residual=residual,
                         dense=reads - residual, added=residual,
                         appended=writes - residual))
    return rows


def plot_dual_path_block(block: nn.Module, ax=None):
    """One row per layer: what it reads (left) and what it writes (right). Returns the figure."""
    import matplotlib.pyplot as plt
    rows = layer_widths(block)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.7 * len(rows) + 1.2))
    widest = max(r["reads"] for r in rows)
    gap = widest * 0.5
    k = rows[0]["appended"]
    start = block.dense_channels
    for r in rows:
        y = -r["layer"]
        ax.barh(y, r["residual"], color=COLOURS["residual"], height=0.6, edgecolor="white")
        left = r["residual"]
        if start:
            ax.barh(y, start, left=left, color=COLOURS["dense input"], height=0.6,
                    edgecolor="white")
            left += start
        while left < r["reads"]:
            ax.barh(y, k, left=left, color=COLOURS["dense"], height=0.6, edgecolor="white")
            left += k
        ax.text(r["reads"] + widest * 0.02, y, f"reads {r['reads']}", va="center",
                fontsize=7)
        x0 = widest + gap
        ax.barh(y, r["added"], left=x0, color=COLOURS["added"], height=0.6,
                edgecolor="white")
        ax.barh(y, r["appended"], left=x0 + r["added"], color=COLOURS["appended"],
                height=0.6, edgecolor="white")
        ax.text(x0 + r["added"] / 2, y, f"+ {r['added']}", ha="center", va="center",
                fontsize=7)
        ax.text(x0 + r["added"] + r["appended"] + widest * 0.02, y,
                f"appends {r['appended']}", va="center", fontsize=7)
        ax.annotate("", xy=(x0 - gap * 0.1, y), xytext=(r["reads"] + widest * 0.27, y),
                    arrowprops=dict(arrowstyle="->", color="0.4", lw=0.8))
    ax.set_yticks([-r["layer"] for r in rows], [f"layer {r['layer']}" for r in rows])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(0, widest * 2.2 + gap)
    from matplotlib.patches import Patch
    labels = {"residual": "residual path (read, then updated by addition)",
              "dense": "dense path: one slice per earlier layer",
              "added": "written: added to the residual path",
              "appended": "written: appended to the dense path"}
    ax.legend(handles=[Patch(color=COLOURS[c], label=t) for c, t in labels.items()],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize="small",
              frameon=False)
    ax.set_title(f"dual-path block: residual width {rows[0]['residual']}, growth {k}",
                 fontsize=9)
    return ax.figure
