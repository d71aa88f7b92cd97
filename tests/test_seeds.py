"""Every checkable fact of the seed texts, computed by dnet_lib (numbers as in the seeds/paper).

Each fact is tested once, here; ``test_arith.py`` and ``test_models.py`` test the machinery.
"""
import pytest
import torch

from dnet_lib import arith, models


def test_d2l_block_3_plus_2x10_is_23_channels_and_transition_to_10_halves_size():
    assert arith.dense_block_channels(3, 2, 10) == [3, 13, 23]
    block = models.DenseBlock(2, 3, 10, bottleneck=False, conv_bias=True)
    assert block.out_channels == 23
    x = torch.rand(4, 3, 8, 8)
    y = block(x)
    assert tuple(y.shape) == (4, 23, 8, 8)
    assert torch.equal(y[:, :3], x)          # concatenation keeps the input unchanged
    assert tuple(models.Transition(23, 10)(y).shape) == (4, 10, 4, 4)


def test_seed002_mlp_90000_vs_450000():
    widths = [100] * 10
    assert arith.mlp_params(widths, "plain") == arith.mlp_params(widths, "residual") == 90_000
    assert arith.mlp_params(widths, "dense") == 450_000


def test_d2l_densenet_758226_params_and_channel_sequence():
    net = models.d2l_densenet()
    assert arith.count_params(net) == 758_226
    assert arith.densenet_params(models.D2L_DENSENET) == 758_226
    seq = [64]
    for i in range(4):
        seq.append(seq[-1] + 4 * 32)
        if i < 3:
            seq.append(models.transition_channels(seq[-1], 0.5))
    assert seq == [64, 192, 96, 224, 112, 240, 120, 248]
    assert net.stage_channels == [64, 96, 112, 120, 248] and net.num_features == 248
    assert net(torch.randn(2, 1, 96, 96)).shape == (2, 10)


# Huang et al. 2017, Table 2: (depth, k, bottleneck+compression) -> rounded parameter count
TABLE2 = [(40, 12, False, "1.0M"), (100, 12, False, "7.0M"), (100, 24, False, "27.2M"),
          (100, 12, True, "0.8M"), (250, 24, True, "15.3M"), (190, 40, True, "25.6M")]


@pytest.mark.parametrize("depth,k,bc,paper", TABLE2)
def test_table2_counts_round_to_paper(depth, k, bc, paper):
    theta = 0.5 if bc else 1.0
    with torch.device("meta"):
        model = models.densenet_cifar(depth, k, bottleneck=bc, compression=theta)
    n = arith.count_params(model)
    assert f"{n / 1e6:.1f}M" == paper
    n_layers = (depth - 4) // (6 if bc else 3)
    assert n == arith.densenet_params(models.DenseNetConfig(
        growth_rate=k, block_config=(n_layers,) * 3, num_init_features=2 * k if bc else 16,
        bottleneck=bc, compression=theta, num_classes=10, stem=models.CIFAR_STEM))
    # depth counts the stem conv, the transitions, the classifier and every conv in the blocks
    blocks = model.dense_blocks()
    assert 1 + (len(blocks) - 1) + 1 + sum(b.num_layers * (2 if bc else 1) for b in blocks) == depth


def test_theta_floor_rule():
    assert models.transition_channels(23, 0.5) == 11          # floor(11.5)
    assert models.transition_channels(1024, 0.5) == 512
    assert models.transition_channels(100, 1.0) == 100        # theta = 1: no compression
    for m, theta, expected in [(23, 0.3, 6), (100, 0.3, 30), (1000, 0.999, 999), (9, 1.0, 9)]:
        model = models.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=m - 8,
                                compression=theta, stem=models.CIFAR_STEM, num_classes=2)
        assert model.stage_channels[1] == expected


def test_bottleneck_width_is_4k():
    layer = models.DenseLayer(64, 32)
    assert layer.conv1.out_channels == 4 * 32 and layer.conv2.out_channels == 32
