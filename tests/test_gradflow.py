"""Gradient flow at initialisation (dnet_lib.gradflow)."""
import pytest
import torch
import torch.nn.functional as F

from dnet_lib.gradflow import build_nets, feature_gradient_norms, layer_gradient_norms
from dnet_lib.models import CIFAR_STEM, DeepConvNet, DenseNet


def batch(seed=0, size=12):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 1, size, size, generator=g), torch.randint(0, 10, (8,), generator=g)


def test_norms_equal_manual_backward():
    torch.manual_seed(0)
    model = DeepConvNet("dense", depth=4, width=6)
    x, y = batch()
    norms = layer_gradient_norms(model, x, y)
    assert len(norms) == 4 + 2               # stem, units, head
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    layers = [model.stem, *(unit.conv for unit in model.units), model.head]   # input to output
    manual = [layer.weight.grad.norm().item() for layer in layers]
    assert norms == pytest.approx(manual, rel=1e-5)


def test_default_layers_for_library_densenet():
    torch.manual_seed(0)
    model = DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, num_classes=10,
                     in_channels=1, stem=CIFAR_STEM).eval()
    x, y = batch(size=8)
    norms = layer_gradient_norms(model, x, y)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(norms) == len(convs)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    assert norms == pytest.approx([m.weight.grad.norm().item() for m in convs], rel=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_stack_vanishes_dense_and_residual_do_not(seed):
    nets = build_nets(depth=20, width=16, seed=seed)
    x, y = batch(seed)
    first = {kind: layer_gradient_norms(net, x, y)[1] for kind, net in nets.items()}  # first unit
    assert first["plain"] < 1e-4 * first["residual"]
    assert first["plain"] < 1e-4 * first["dense"]


def test_kaiming_init_keeps_plain_stack_alive():
    # honest counterpart: with He init and no BN the plain net's first-layer gradient is not tiny
    nets = build_nets(depth=20, width=16, init="kaiming", seed=0)
    x, y = batch()
    norms = layer_gradient_norms(nets["plain"], x, y)
    assert norms[1] > 1e-2 * max(norms)


def test_direct_gradients_implicit_deep_supervision():
    nets = build_nets(depth=8, width=8, seed=0)
    x, y = batch()
    plain_direct = feature_gradient_norms(nets["plain"], x, y, direct_only=True)
    assert plain_direct[:-1] == [0.0] * 7 and plain_direct[-1] > 0
    plain_total = feature_gradient_norms(nets["plain"], x, y)
    assert plain_direct[-1] == pytest.approx(plain_total[-1], rel=1e-6)   # last unit: only the head
    dense_direct = feature_gradient_norms(nets["dense"], x, y, direct_only=True)
    assert all(v > 0 for v in dense_direct)
    # the loss is unchanged by detaching: only the gradient paths differ
    net = nets["dense"]
    assert torch.equal(net(x), net(x, detach_unit_inputs=True))


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        DeepConvNet("wide", 4)
    with pytest.raises(ValueError, match="depth"):
        DeepConvNet("plain", 0)
    with pytest.raises(ValueError, match="init"):
        DeepConvNet("plain", 3, init="xavier")
    with pytest.raises(ValueError, match="DeepConvNet"):
        feature_gradient_norms(torch.nn.Linear(2, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
