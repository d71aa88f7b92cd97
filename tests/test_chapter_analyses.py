"""The analyses chapters 6-9 call: seeds, memory's sweeps, reuse's verdicts, toy's image
planes, the dual-path drawing, and the new reference runs (less-data seeds, the L=40 network
of Figure 5)."""
import math

import numpy as np
import pytest
import torch

from dnet_lib import (arith, drawing, memory, models, reference, results, reuse, seeds,
                      toy)


# --------------------------------------------------------------------------- seeds
def test_welch_and_paired_t_agree_with_scipy():
    from scipy import stats
    a, b = [0.9323, 0.9321, 0.9310], [0.9286, 0.9310, 0.9282]
    w = seeds.welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert w.t == pytest.approx(ref.statistic) and w.p == pytest.approx(ref.pvalue)
    assert w.df == pytest.approx(2.8173382)      # Welch-Satterthwaite (scipy >= 1.11: ref.df)
    assert w.gap == pytest.approx(np.mean(a) - np.mean(b)) and w.p > 0.05
    d = np.subtract(a, b)
    t, p = seeds.paired_t(d)
    ref = stats.ttest_1samp(d, 0.0)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    with pytest.raises(ValueError, match="a needs at least 2"):
        seeds.welch([0.9], b)


def test_less_data_gaps_pair_the_networks_by_size_and_seed():
    def run(net, size, seed, acc):
        group = "main" if size == reference.FULL_SIZE else "less_data"
        return {"network": net, "group": group, "seed": seed, "train_examples": size,
                "final_test_acc": acc}
    runs = [run("densenet", 2000, s, 0.80 + 0.01 * s) for s in range(3)]
    runs += [run("resnet", 2000, s, 0.83 + 0.01 * s) for s in range(3)]
    runs += [run("densenet", 60000, 0, 0.93), run("resnet", 60000, 0, 0.92)]
    table = seeds.less_data_gaps({"runs": {str(i): r for i, r in enumerate(runs)}})
    assert list(table.index) == [2000, 60000] and list(table.seeds) == [3, 1]
    assert table.loc[2000].gaps == pytest.approx([-0.03] * 3)
    assert table.loc[2000].gap_mean == pytest.approx(-0.03)
    assert math.isnan(table.loc[60000].p)
    with pytest.raises(ValueError, match="no runs"):
        seeds.less_data_gaps({"runs": {}})


def test_committed_less_data_runs_have_three_seeds_when_present():
    record = results.load("reference_cpu.json")
    table = seeds.less_data_gaps(record)
    assert {2000, 10000, reference.FULL_SIZE} <= set(table.index)
    assert table.loc[reference.FULL_SIZE].seeds == 3


# --------------------------------------------------------------------------- sweeps
def test_saved_by_layer_shows_two_wide_tensors_plain_and_none_memory_efficient():
    torch.manual_seed(0)
    x = torch.randn(2, 24, 8, 8, requires_grad=True)
    plain = memory.saved_by_layer(models.DenseBlock(4, 24, 12, bottleneck=False), x)
    lean = memory.saved_by_layer(
        models.DenseBlock(4, 24, 12, bottleneck=False, memory_efficient=True), x)
    wide = memory.wide_tensors_per_layer(plain)
    assert [wide[layer] for layer in (2, 3, 4)] == [2, 2, 2]       # concat + ReLU output
    assert set(memory.wide_tensors_per_layer(lean).values()) == {0}
    # the memory-efficient layer l keeps references to the l maps it reads, nothing wider
    shared = [t for t in lean if t.shared]
    assert sorted(t.channels for t in shared if t.layer == 4) == [12, 12, 12, 24]
    with pytest.raises(ValueError, match="DenseBlock"):
        memory.saved_by_layer(torch.nn.Linear(2, 2), x)


def test_fit_error_is_zero_for_an_exact_polynomial():
    n = np.arange(1, 6)
    assert memory.fit_error(n, 3 * n ** 2 + 1, 2) == pytest.approx(0, abs=1e-9)
    assert memory.fit_error(n, 3 * n ** 2 + 1, 1) > 0.05


# --------------------------------------------------------------------------- Figure 5 verdicts
def _matrices(input_weight: float, last_weight: float):
    m = np.tril(np.ones((4, 4)))
    m[np.triu_indices(4, 1)] = np.nan
    m[1:-1, 0] = input_weight
    m[-1, -1] = last_weight
    return [m.copy(), m.copy()]


def test_break_even_moves_with_the_statistics():
    strong = _matrices(0.2, 3.0)
    flat = _matrices(1.2, 1.0)          # the block input slightly the strongest
    table = reuse.break_even({"strong": strong, "flat": flat})
    assert table.loc[4, "strong"] == pytest.approx(3.0) and table.loc[4, "flat"] == 1.0
    assert table.loc[3, "strong"] == 1.0 and table.loc[3, "flat"] == 0.0
    assert table.loc[1, "flat"] == pytest.approx(0.80)     # other sources at 1/1.2 of the max
    verdicts = reuse.verdict_table({"strong": strong, "flat": flat})
    assert verdicts["holds for"].tolist()[2:] == [1, 1]


# --------------------------------------------------------------------------- image planes
def test_image_plane_passes_through_the_three_images():
    a, b, c = (torch.full((1, 2, 2), v) for v in (0.0, 1.0, 2.0))
    plane = toy.image_plane(a, b, c, grid=5)              # s and t: -0.5, 0, 0.5, 1, 1.5
    assert plane.shape == (5, 5, 1, 2, 2)
    assert torch.equal(plane[1, 1], a) and torch.equal(plane[3, 1], b)
    assert torch.equal(plane[1, 3], c)
    pred = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 1]])
    assert toy.class_changes(pred) == 4
    with pytest.raises(ValueError, match="grid"):
        toy.image_plane(a, b, c, grid=1)


# --------------------------------------------------------------------------- dual-path drawing
def test_dual_path_widths_come_from_the_modules():
    block = models.DualPathBlock(num_layers=3, residual_channels=16, growth_rate=8,
                                 dense_channels=4)
    rows = drawing.dual_path_widths(block)
    assert [r["reads"] for r in rows] == [20, 28, 36]
    assert {r["added"] for r in rows} == {16} and {r["appended"] for r in rows} == {8}
    fig = drawing.plot_dual_path_block(block)
    assert len(fig.axes[0].patches) > 0
    with pytest.raises(ValueError, match="DualPathBlock"):
        drawing.dual_path_widths(models.DenseBlock(2, 8, 4))


# --------------------------------------------------------------------------- reference runs
def test_new_reference_runs_are_listed_and_the_paper_shape_is_right():
    assert reference.run_ids("figure5") == ["densenet40-s0", "densenet40-s1", "densenet40-s2"]
    less = reference.run_ids("less_data")
    assert len(less) == 12 and "densenet-n2000-s2" in less and "resnet-n10000-s1" in less
    net = reference.build("densenet40")
    blocks = net.dense_blocks()
    assert [b.num_layers for b in blocks] == [12, 12, 12]
    assert {b.growth_rate for b in blocks} == {12}
    assert 1_000_000 < arith.count_params(net) < 1_050_000      # the paper's "1.0M"
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
