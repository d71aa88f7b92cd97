"""fast_cpu=True (dnet_lib.models.efficient): BatchNorm over a concatenation from once-computed
map statistics must equal nn.BatchNorm2d (PyTorch is the oracle): values, gradients and running
statistics."""
import copy

import pytest
import torch
from torch import nn

from dnet_lib import models
from dnet_lib.models import efficient


def features(seed=0):
    g = torch.Generator().manual_seed(seed)
    # shifted and scaled maps, like post-ReLU activations: means far from 0
    return [(torch.randn(6, c, 9, 9, generator=g) * s + m).requires_grad_()
            for c, s, m in ((5, 2.0, 3.0), (3, 0.5, -1.0), (4, 1.0, 0.5))]


def test_equals_batchnorm_on_the_concatenation():
    torch.manual_seed(0)
    norm = nn.BatchNorm2d(12)
    nn.init.uniform_(norm.weight, 0.5, 1.5)
    nn.init.uniform_(norm.bias, -0.5, 0.5)
    oracle = copy.deepcopy(norm)
    ours_in, oracle_in = features(), features()
    assert efficient.shares_stats(norm, ours_in[0])
    out = efficient.batch_norm_concat(ours_in, norm)
    expected = oracle(torch.cat(oracle_in, 1))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    for a, b in zip(ours_in, oracle_in):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.weight.grad, oracle.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.bias.grad, oracle.bias.grad)
    torch.testing.assert_close(norm.running_mean, oracle.running_mean)
    torch.testing.assert_close(norm.running_var, oracle.running_var)
    assert int(norm.num_batches_tracked) == int(oracle.num_batches_tracked) == 1


def test_each_map_statistics_are_computed_once(monkeypatch):
    block = models.DenseBlock(4, 6, growth_rate=3, bottleneck=False, fast_cpu=True).train()
    calls = []
    original = torch.Tensor.square
    monkeypatch.setattr(torch.Tensor, "square", lambda t: calls.append(t.shape) or original(t))
    block(torch.randn(2, 6, 5, 5)).sum().backward()
    # the block input and the first three layers' outputs: four maps, four statistics
    # (the squares of flattened maps; the per-channel mean's own square is 1-D)
    assert [shape[1] for shape in calls if len(shape) == 3] == [6, 3, 3, 3]


def test_cached_statistics_follow_in_place_changes():
    x = torch.randn(4, 3, 5, 5)
    mean, _ = efficient.map_stats(x, 1e-5)
    assert efficient.map_stats(x, 1e-5)[0] is mean           # reused while x is unchanged
    x.add_(2.0)
    torch.testing.assert_close(efficient.map_stats(x, 1e-5)[0], mean + 2.0)
    torch.testing.assert_close(efficient.map_stats(x, 1e-3)[1],
                               (x.var((0, 2, 3), unbiased=False) + 1e-3).rsqrt())


def test_the_default_layer_is_plain_batchnorm(monkeypatch):
    block = models.DenseBlock(3, 6, growth_rate=3).train()
    monkeypatch.setattr(efficient, "dense_layer_forward", None)      # never reached
    block(torch.randn(2, 6, 5, 5)).sum().backward()


@pytest.mark.parametrize("memory_efficient", [False, True])
def test_dense_net_training_step_matches_the_plain_batchnorm_path(memory_efficient):
    # float64: in float32 a BN output within an ulp of 0 can take the other side of a ReLU
    # in one path, which moves a gradient by a whole element's contribution
    torch.manual_seed(0)
    config = models.cifar_config(22, 6)
    net = models.DenseNet(config, memory_efficient=memory_efficient, fast_cpu=True).double()
    oracle = models.DenseNet(config).double()
    oracle.load_state_dict(net.state_dict())
    x, y = torch.randn(8, 3, 16, 16, dtype=torch.float64), torch.randint(0, 10, (8,))
    nn.functional.cross_entropy(net(x), y).backward()
    nn.functional.cross_entropy(oracle(x), y).backward()
    for (name, p), q in zip(net.named_parameters(), oracle.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-5, msg=name)
    for (name, b), c in zip(net.named_buffers(), oracle.buffers()):
        torch.testing.assert_close(b, c, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("case", ["eval", "no_grad", "autocast", "no_running_stats"])
def test_falls_back_to_batchnorm_where_it_does_not_apply(case):
    norm = nn.BatchNorm2d(4, track_running_stats=case != "no_running_stats")
    x = torch.randn(2, 4, 3, 3)
    if case == "eval":
        norm.eval()
        assert not efficient.shares_stats(norm, x)
    elif case == "no_grad":
        with torch.no_grad():
            assert not efficient.shares_stats(norm, x)
    elif case == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not efficient.shares_stats(norm, x)
    else:
        assert not efficient.shares_stats(norm, x)
