"""Dual-path blocks (dnet_lib.models.dualpath): shapes, path widths, gradients, validation."""
import pytest
import torch

from dnet_lib.arith import count_params
from dnet_lib.models import DualPathBlock, DualPathNet


def test_block_paths_residual_constant_dense_grows():
    torch.manual_seed(0)
    block = DualPathBlock(num_layers=4, residual_channels=10, growth_rate=3, dense_channels=5)
    x = torch.randn(2, 15, 6, 6)
    states = block.paths(x)
    assert len(states) == 5
    for i, (residual, dense) in enumerate(states):
        assert residual.shape == (2, 10, 6, 6)
        assert dense.shape == (2, 5 + 3 * i, 6, 6)
    # the dense path keeps every earlier map unchanged (concatenation); the residual path is summed
    assert torch.equal(states[-1][1][:, :5], x[:, 10:])
    assert not torch.equal(states[-1][0], x[:, :10])
    out = block(x)
    assert out.shape == (2, block.out_channels, 6, 6) and block.out_channels == 15 + 12
    assert torch.equal(out, torch.cat(states[-1], 1))


def test_block_without_initial_dense_path():
    block = DualPathBlock(2, residual_channels=4, growth_rate=2)
    states = block.paths(torch.randn(1, 4, 5, 5))
    assert states[0][1] is None and states[1][1].shape[1] == 2 and states[2][1].shape[1] == 4


def test_net_shapes_and_gradients():
    torch.manual_seed(0)
    model = DualPathNet()
    x = torch.randn(3, 1, 28, 28)
    out = model(x)
    assert out.shape == (3, 10)
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.stem.conv0.weight.grad.abs().sum() > 0
    rgb = DualPathNet(residual_channels=(8, 16), growth_rate=4, block_config=(2, 2), in_channels=3, num_classes=5)
    assert rgb(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_parameter_count_in_matched_range():
    assert 200_000 <= count_params(DualPathNet()) <= 300_000


@pytest.mark.parametrize("kwargs,name", [
    (dict(growth_rate=0), "growth_rate"),
    (dict(block_config=()), "block_config"),
    (dict(residual_channels=(8, 16)), "residual_channels"),
    (dict(compression=0.0), "compression"),
    (dict(in_channels=0), "in_channels"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DualPathNet(**kwargs)


def test_bad_input():
    model = DualPathNet()
    with pytest.raises(ValueError, match="in_channels=1"):
        model(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match="in_channels=4"):
        DualPathBlock(2, 4, 2)(torch.randn(1, 5, 4, 4))


def test_stem_spec_sets_resolution_and_smallest_input():
    from dnet_lib.models import Stem
    pooled = Stem(kernel_size=3, stride=1, norm=True, pool=2, pool_stride=2, pool_padding=0)
    plain, pooled_net = DualPathNet((8, 8, 8), 4, (1, 1, 1)), DualPathNet(
        (8, 8, 8), 4, (1, 1, 1), stem=pooled)
    x = torch.randn(2, 1, 28, 28)
    assert [name for name, _ in pooled_net.stem.named_children()] == [
        "conv0", "norm0", "relu0", "pool0"]
    assert plain.stem(x).shape[-2:] == (28, 28) and pooled_net.stem(x).shape[-2:] == (14, 14)
    # two transitions halve twice: 4 px for the plain stem, 8 px once the stem pools too
    assert plain.min_input_size == 4 and pooled_net.min_input_size == 8
    assert pooled_net.eval()(torch.randn(1, 1, 8, 8)).shape == (1, 10)
    with pytest.raises(ValueError, match=">= 8"):
        pooled_net(torch.randn(1, 1, 7, 7))
    with pytest.raises(ValueError, match="stem must be a models.Stem"):
        DualPathNet(stem="cifar")
