"""Feature-reuse heat map (dnet_lib.reuse): shapes, and values read from the real weights."""
import numpy as np
import pytest
import torch

from dnet_lib.models import CIFAR_STEM, DenseNet, densenet_cifar, d2l_densenet
from dnet_lib.reuse import feature_reuse


def small_densenet(bottleneck=True, seed=0):
    torch.manual_seed(seed)
    return DenseNet(growth_rate=4, block_config=(2, 3, 4), num_init_features=6, bottleneck=bottleneck,
                    num_classes=3, in_channels=1, stem=CIFAR_STEM)


def source_slices(block):
    """[start, stop) of the block input and of each layer's maps in the block's concatenation."""
    edges = [0] + [block.in_channels + i * block.growth_rate for i in range(block.num_layers + 1)]
    return list(zip(edges, edges[1:]))


@pytest.mark.parametrize("bottleneck", [True, False])
def test_shapes_and_nan_above_diagonal(bottleneck):
    model = small_densenet(bottleneck)
    matrices = feature_reuse(model)
    assert [m.shape for m in matrices] == [(3, 3), (4, 4), (5, 5)]
    for m in matrices:
        upper = np.triu_indices(m.shape[0], k=1)
        assert np.isnan(m[upper]).all()
        lower = np.tril_indices(m.shape[0])
        assert np.isfinite(m[lower]).all() and (m[lower] > 0).all()


def test_shapes_for_book_models():
    assert [m.shape for m in feature_reuse(d2l_densenet())] == [(5, 5)] * 4
    assert [m.shape for m in feature_reuse(densenet_cifar(40, bottleneck=False))] == [(13, 13)] * 3


def test_constant_slice_appears_exactly():
    model = small_densenet()
    block = model.dense_blocks()[1]
    layer3 = block["denselayer3"]
    a, b = source_slices(block)[2]           # layer 2's maps as read by layer 3
    with torch.no_grad():
        layer3.conv1.weight[:, a:b] = -0.375
        model.features.transition2.conv.weight[:, 0:block.in_channels] = 0.125
        model.classifier.weight[:, -4:] = 2.5   # last layer of the last block
    matrices = feature_reuse(model)
    assert matrices[1][2, 2] == 0.375
    assert matrices[1][3, 0] == 0.125
    assert matrices[2][4, 4] == 2.5


def test_random_weights_match_direct_recomputation():
    model = small_densenet(bottleneck=False, seed=3)
    matrices = feature_reuse(model)
    for block, m in zip(model.dense_blocks(), matrices):
        slices = source_slices(block)
        for t, layer in enumerate(block.values()):
            w = layer.conv1.weight.detach()
            for s in range(t + 1):
                a, b = slices[s]
                assert m[t, s] == pytest.approx(w[:, a:b].abs().mean().item(), rel=1e-6)
    w = model.classifier.weight.detach()
    a, b = source_slices(model.dense_blocks()[-1])[0]
    assert matrices[-1][-1, 0] == pytest.approx(w[:, a:b].abs().mean().item(), rel=1e-6)


def test_row_normalisation_and_bn_folding():
    model = small_densenet()
    rows = feature_reuse(model, normalize="row")
    for m in rows:
        assert np.allclose(np.nanmax(m, axis=1), 1.0)
    plain = feature_reuse(model)
    layer = model.dense_blocks()[0]["denselayer1"]
    with torch.no_grad():
        layer.norm1.weight.fill_(2.0)
        layer.norm1.running_var.fill_(4.0 - layer.norm1.eps)   # scale = 2 / 2 = 1
    assert feature_reuse(model, fold_bn=True)[0][0, 0] == pytest.approx(plain[0][0, 0], rel=1e-6)
    with torch.no_grad():
        layer.norm1.weight.fill_(-6.0)                          # |gamma| / 2 = 3
    assert feature_reuse(model, fold_bn=True)[0][0, 0] == pytest.approx(3 * plain[0][0, 0], rel=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="normalize"):
        feature_reuse(small_densenet(), normalize="max")
    with pytest.raises(ValueError, match="DenseNet"):
        feature_reuse(torch.nn.Linear(2, 2))


# --------------------------------------------------------------------------- reading the map
def lower(values):
    """A square matrix with ``values`` (row lists) below and on the diagonal, NaN above."""
    n = len(values)
    m = np.full((n, n), np.nan)
    for t, row in enumerate(values):
        m[t, :len(row)] = row
    return m


def test_figure5_observations_hold_and_fail_as_built():
    from dnet_lib.reuse import figure5_observations
    spread = lower([[1.0], [0.5, 1.0], [0.4, 1.0, 0.9], [0.6, 0.8, 0.9, 1.0]])
    cls = lower([[1.0], [0.5, 1.0], [0.4, 1.0, 0.9], [0.2, 0.3, 0.5, 2.0]])
    verdict = figure5_observations([spread, spread, cls])
    assert verdict.holds.tolist() == [True, True, True, True]
    assert verdict.value.iloc[2] == 1.0            # the input is the weakest source in every row
    assert verdict.value.iloc[3] == pytest.approx(2.0 / np.mean([0.2, 0.3, 0.5]))

    narrow = lower([[1.0], [1.0, 0.1], [1.0, 0.1, 0.1], [1.0, 0.1, 0.1, 0.1]])
    verdict = figure5_observations([narrow, narrow, narrow])
    assert verdict.holds.tolist() == [False, False, False, False]


def test_figure5_single_block_has_no_transition_row():
    from dnet_lib.reuse import figure5_observations
    verdict = figure5_observations([lower([[1.0], [0.5, 1.0], [1.0, 1.0, 2.0]])])
    assert verdict.holds.iloc[1] is None and verdict.holds.iloc[2] is None


def test_reading_functions_reject_bad_matrices():
    from dnet_lib.reuse import figure5_observations
    for bad in ([], [np.ones((2, 3))], [np.ones(3)]):
        with pytest.raises(ValueError, match="matrices"):
            figure5_observations(bad)
