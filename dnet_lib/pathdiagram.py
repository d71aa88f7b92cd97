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
    from matplotlib.patches import Patch
    from .drawing.figure import pyplot_axes
    rows = layer_widths(block)
    ax = pyplot_axes(ax, (8, 0.7 * len(rows) + 1.2))
    widest, k = max(r["reads"] for r in rows), rows[0]["appended"]
    x0 = widest * 1.5                            # where the written channels start
    for r in rows:
        y = -r["layer"]
        # read: the residual path, the dense path's input, one k-slice per earlier layer
        parts = [(r["residual"], "residual"), (block.dense_channels, "dense input")]
        parts += [(k, "dense")] * ((r["dense"] - block.dense_channels) // k)
        parts += [(None, None), (r["added"], "added"), (r["appended"], "appended")]
        left = 0
        for width, colour in parts:
            if width is None:                    # the gap between read and written
                left = x0
            elif width:
                ax.barh(y, width, left=left, color=COLOURS[colour], height=0.6,
                        edgecolor="white")
                left += width
        ax.text(r["reads"] + widest * 0.02, y, f"reads {r['reads']}", va="center", fontsize=7)
        ax.text(x0 + r["added"] / 2, y, f"+ {r['added']}", ha="center", va="center", fontsize=7)
        ax.text(left + widest * 0.02, y, f"appends {r['appended']}", va="center", fontsize=7)
        ax.annotate("", xy=(x0 - widest * 0.05, y), xytext=(r["reads"] + widest * 0.27, y),
                    arrowprops=dict(arrowstyle="->", color="0.4", lw=0.8))
    ax.set_yticks([-r["layer"] for r in rows], [f"layer {r['layer']}" for r in rows])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(0, widest * 2.7)
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
