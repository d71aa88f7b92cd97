"""Every diagram shows the module it was given: change the module, the drawing changes."""
from __future__ import annotations

import matplotlib
import matplotlib.patches
import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models.densenet import _DenseBlock as TorchvisionDenseBlock

from dnet_lib import drawing, models, reuse, style


# --------------------------------------------------------------------------- style
def test_style_colours_are_okabe_ito_and_use_sets_the_cycle():
    allowed = set(style.PALETTE.values()) | {style.COLORS["input"], style.COLORS["neutral"]}
    for concept in ("residual", "add", "dense", "concat", "transition", "bottleneck"):
        assert style.COLORS[concept] in allowed, concept
    assert style.COLORS["dense"] != style.COLORS["residual"] != style.COLORS["transition"]
    before = matplotlib.rcParams["font.size"]
    with style.context():
        cycle = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert cycle[0] == style.PALETTE["blue"] and len(cycle) == 8
    assert matplotlib.rcParams["font.size"] == before      # the context leaves no trace


# --------------------------------------------------------------------------- add vs concat
def test_residual_vs_dense_shows_the_real_widths():
    d = drawing.residual_vs_dense(nn.Sequential(models.BasicBlock(16, 16), models.BasicBlock(16, 16)),
                                  models.DenseBlock(3, 16, 12, bottleneck=False))
    last = max(p.meta["stage"] for p in d.find("slice", panel="dense"))
    final = d.find("slice", panel="dense", stage=last)
    assert last == 3 and len(final) == 4                      # x0 and one slice per layer
    assert [p.value for p in final] == [16, 12, 12, 12]
    assert [p.value for p in d.find("label", panel="dense")] == [16, 28, 40, 52]
    assert [p.value for p in d.find("label", panel="residual")] == [16, 16, 16]  # addition keeps width
    assert [p.value for p in d.find("op", panel="dense")] == [12, 12, 12]
    assert "52 ch" in " ".join(d.texts())
    assert all(p.label == "identity" for p in d.find("skip"))
    # same scale on both rows: the dense output is 52/16 times as tall as the residual state
    heights = {p.gid: a.get_height() for a in d.figure.findobj(matplotlib.patches.Rectangle)
               for p in d.parts if a.get_gid() == p.gid and p.kind == "slice"}
    res = sum(heights[p.gid] for p in d.find("slice", panel="residual")[-1:])
    den = sum(heights[p.gid] for p in final)
    assert den / res == pytest.approx(52 / 16)


def test_residual_vs_dense_follows_a_projection_and_rejects_other_modules():
    d = drawing.residual_vs_dense(models.BasicBlock(8, 24, stride=2), models.DenseBlock(1, 8, 5))
    assert [p.value for p in d.find("label", panel="residual")] == [8, 24]
    assert [p.label for p in d.find("skip")] == ["1×1 projection"]
    assert [p.value for p in d.find("label", panel="dense")] == [8, 13]
    assert d._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="residual"):
        drawing.residual_vs_dense(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="dense"):
        drawing.residual_vs_dense(dense=nn.Linear(3, 3))


# --------------------------------------------------------------------------- channel stack
@pytest.mark.parametrize("bottleneck", [False, True])
def test_dense_block_stack_has_one_row_per_layer_with_its_input_width(bottleneck):
    block = models.DenseBlock(5, 24, 12, bottleneck=bottleneck)
    d = drawing.dense_block_stack(block)
    rows = d.find("row")
    assert len(rows) == block.num_layers + 1
    assert [r.value for r in rows] == [layer.in_channels for layer in block.values()] \
        + [block.out_channels]
    for r in range(len(rows)):
        assert len(d.find("slice", row=r)) == r + 1            # x0, then one k-slice per layer
        assert sum(p.value for p in d.find("slice", row=r)) == rows[r].value
    texts = " ".join(d.texts())
    assert f"{block.out_channels} = 24 + 5×12" in texts
    assert ("1×1: 48" in texts) == bottleneck                   # bn_size·k, read from the conv


def test_dense_block_stack_reads_structure_not_our_attributes():
    # torchvision's block has none of our attributes; the drawing reads its convolutions
    block = TorchvisionDenseBlock(num_layers=3, num_input_features=10, bn_size=2, growth_rate=6,
                                  drop_rate=0.0)
    d = drawing.dense_block_stack(block)
    assert [r.value for r in d.find("row")] == [10, 16, 22, 28]
    assert "1×1: 12" in " ".join(d.texts())


# --------------------------------------------------------------------------- transition
def test_transition_diagram_measures_channels_and_resolution():
    net = models.densenet_cifar(40, 12, bottleneck=False, compression=0.5)
    t = net.features.transition1
    running = t.norm.running_mean.clone()
    t.train()
    d = drawing.transition_diagram(t, size=16)
    tensors = d.find("tensor")
    m = t.in_channels
    assert [p.value for p in tensors] == [m, m // 2, m // 2]
    assert [p.meta["resolution"] for p in tensors] == [(16, 16), (16, 16), (8, 8)]
    assert d.find("theta")[0].value == pytest.approx((m // 2) / m)
    assert f"{m} → ⌊θ·m⌋ = {m // 2}" in " ".join(d.texts())
    assert torch.equal(t.norm.running_mean, running) and t.training   # module left as it was
    other = drawing.transition_diagram(models.Transition(100, 37), size=10)
    assert [p.value for p in other.find("tensor")] == [100, 37, 37]
    assert other.find("tensor")[-1].meta["resolution"] == (5, 5)
    with pytest.raises(ValueError, match="size"):
        drawing.transition_diagram(models.Transition(4, 2), size=1)


# --------------------------------------------------------------------------- stages
def test_stage_diagram_traces_channels_and_resolution_of_both_models():
    dense = models.densenet_cifar(40, 12, bottleneck=False, compression=0.5)
    res = models.resnet_cifar(20)
    d = drawing.stage_diagram(dense, res, size=32)
    (dtrace,) = [p for p in d.find("trace") if p.label.startswith("DenseNet")]
    points = dtrace.meta["points"]
    after_transitions = [p.channels for p in points if p.kind == "transition"]
    assert after_transitions == dense.stage_channels[1:-1]
    assert points[-1].channels == dense.stage_channels[-1] == dense.num_features
    assert points[-1].resolution == dense.feature_size(32)
    assert sum(p.kind == "dense" for p in points) == sum(dense.block_config)
    assert dtrace.label == "DenseNet-40"
    (rtrace,) = [p for p in d.find("trace") if p.label.startswith("ResNet")]
    assert rtrace.label == "ResNet-20"
    ends = [p.value for p in d.find("stage_end", model="ResNet-20")]
    assert ends == [16, 32, 64]
    assert rtrace.meta["points"][-1].resolution == res.feature_size(32)
    dense_ends = [p.value for p in d.find("stage_end", model="DenseNet-40")]
    k, L = 12, 12
    assert dense_ends == [c + L * k for c in dense.stage_channels[:-1]]


def test_drawing_shows_itself_as_png():
    d = drawing.dense_block_stack(models.DenseBlock(2, 3, 10, bottleneck=False))
    assert d._repr_png_().startswith(b"\x89PNG")
    assert "23" in " ".join(d.texts())


# --------------------------------------------------------------------------- charts
def test_feature_reuse_plot_has_one_panel_per_block():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    torch.manual_seed(0)
    model = models.DenseNet(growth_rate=4, block_config=(2, 3, 4), num_init_features=6,
                            num_classes=3, in_channels=1, stem=models.CIFAR_STEM)
    fig = drawing.plot_feature_reuse(model)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("dense block")]
    assert len(panels) == 3
    # each panel shows its block's matrix, target layer across, source down
    for ax, m in zip(panels, reuse.feature_reuse(model, normalize="row")):
        np.testing.assert_array_equal(np.ma.filled(ax.images[0].get_array(), np.nan), m.T)
    plt.close(fig)


def test_gradient_norms_plot_has_one_line_per_net():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ax = drawing.plot_gradient_norms({"a": [1.0, 0.1, 0.0], "b": [1.0, 2.0, 3.0]})
    assert len(ax.get_lines()) == 2
    plt.close(ax.figure)


def test_memory_charts_draw_every_saved_tensor_and_variant():
    import matplotlib.pyplot as plt
    from dnet_lib import memory
    block = models.DenseBlock(2, 4, 2, bottleneck=False)
    tensors = memory.saved_by_layer(block, torch.randn(1, 4, 4, 4, requires_grad=True))
    fig = drawing.plot_saved_by_layer({"plain": tensors}, "title")
    drawn = [t for t in tensors if t.channels]
    assert len(fig.axes[0].patches) == len(drawn)
    assert sorted(p.get_width() for p in fig.axes[0].patches) == sorted(t.channels for t in drawn)
    plt.close(fig)
    import pandas as pd
    table = pd.DataFrame(dict(variant=["a", "a", "b", "b"], depth=[10, 16, 10, 16],
                              saved_MiB=[1.0, 2.0, 0.5, 1.0], step_s=[0.1, 0.2, 0.1, 0.2]))
    fig = drawing.plot_sweep(table, "depth", "depth", "title")
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    plt.close(fig)
