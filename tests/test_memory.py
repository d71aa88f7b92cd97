"""dnet_lib.memory: saved-for-backward byte counts, timing helpers, the variants we compare."""
import math

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as cp
from torch import nn

from dnet_lib import memory, models, units
from dnet_lib.arith import count_params

F32 = 4


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


# --------------------------------------------------------------------------- exact counts
def test_conv_relu_counts_exactly_input_and_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU())
    x = torch.randn(2, 3, 7, 9)
    result = memory.saved_activation_bytes(model, x)
    # conv keeps its input (for the weight gradient), ReLU keeps its output; weights are excluded
    assert result.total_bytes == (2 * 3 * 7 * 9 + 2 * 5 * 7 * 9) * F32
    assert result.num_tensors == 2
    assert result.by_module == {"0": 2 * 3 * 7 * 9 * F32, "1": 2 * 5 * 7 * 9 * F32}


def test_parameters_are_excluded():
    # Linear saves its input and weight.t() (a view of the parameter's storage): only x counts
    model = nn.Linear(16, 1000)
    x = torch.randn(4, 16)
    result = memory.saved_activation_bytes(model, x)
    assert result.total_bytes == nbytes(x)
    assert result.num_tensors == 1
    assert count_params(model) * F32 > 10 * result.total_bytes


def test_inplace_relu_storage_counted_once():
    # BN saves its input (the conv output) and small stats; the in-place ReLU saves the BN output
    model = nn.Sequential(nn.Conv2d(2, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(inplace=True))
    x = torch.randn(3, 2, 5, 5)
    result = memory.saved_activation_bytes(model, x)
    act = 3 * 4 * 5 * 5 * F32
    stats = 2 * 4 * F32                          # save_mean and save_invstd, 4 channels each
    assert result.total_bytes == nbytes(x) + act + act + stats


def test_measuring_does_not_change_batchnorm_statistics():
    model = models.densenet_cifar(depth=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    memory.saved_activation_bytes(model, torch.randn(2, 3, 8, 8))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


# --------------------------------------------------------------------------- checkpointing is honest
class _CheckpointedNet(nn.Module):
    def __init__(self, checkpointed: bool):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.inner = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1))
        self.checkpointed = checkpointed

    def forward(self, x):
        h = self.stem(x)
        out = cp.checkpoint(self.inner, h, use_reentrant=False) if self.checkpointed else self.inner(h)
        return torch.relu(out)


def test_checkpoint_counts_its_inputs_and_nothing_inside():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6)
    h_bytes = 2 * 8 * 6 * 6 * F32            # stem output = the checkpoint's input
    out_bytes = 2 * 6 * 6 * 6 * F32          # final ReLU output
    inner_plain = h_bytes + 2 * 8 * F32 + h_bytes   # BN input + stats, the inner conv's input
    ck = memory.saved_activation_bytes(_CheckpointedNet(True), x)
    plain = memory.saved_activation_bytes(_CheckpointedNet(False), x)
    assert ck.total_bytes == nbytes(x) + h_bytes + out_bytes
    assert plain.total_bytes == nbytes(x) + inner_plain + out_bytes
    # and the checkpointed model still trains: backward recomputes what was not kept
    net = _CheckpointedNet(True)
    net(x).sum().backward()
    assert net.inner[2].weight.grad is not None


def test_memory_efficient_dense_layer_keeps_conv_inputs_before_bn_only():
    torch.manual_seed(0)
    k, c = 4, 6
    layer = models.DenseLayer(c, k, memory_efficient=True)
    x = torch.randn(2, c, 5, 5, requires_grad=True)
    result = memory.saved_activation_bytes(layer, x)
    # each conv's input before its BN-ReLU: x, and the 1x1 conv's output (bn_size * k channels);
    # plus each BN's batch mean and 1/std (one number per channel). Nothing else.
    stats = 2 * c * F32 + 2 * 4 * k * F32
    assert result.total_bytes == nbytes(x) + 2 * 4 * k * 5 * 5 * F32 + stats
    assert result.num_tensors == 2 + 4


def test_dense_block_memory_efficient_count_matches_hand_sum():
    """DenseBlock(L) memory-efficient: input + every layer's k new channels + each 1x1 conv output
    (+ the BatchNorms' per-channel batch statistics)."""
    torch.manual_seed(0)
    L, c, k, n, s = 5, 8, 4, 2, 6
    block = models.DenseBlock(L, c, k, memory_efficient=True)
    x = torch.randn(n, c, s, s, requires_grad=True)
    result = memory.saved_activation_bytes(block, x)
    px = n * s * s * F32
    stats = sum(2 * (c + i * k) + 2 * 4 * k for i in range(L)) * F32
    assert result.total_bytes == c * px + (L - 1) * k * px + L * 4 * k * px + stats
    # every layer's output but the last is some later layer's input


# --------------------------------------------------------------------------- growth with depth
def _block_bytes(num_layers: int, memory_efficient: bool) -> int:
    torch.manual_seed(0)
    block = models.DenseBlock(num_layers, 8, 4, memory_efficient=memory_efficient)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)   # as inside a network, after the stem
    return memory.saved_activation_bytes(block, x).total_bytes


@pytest.mark.parametrize("memory_efficient", [False, True])
def test_growth_with_depth(memory_efficient):
    depths = [2, 4, 6, 8, 10]
    saved = np.array([_block_bytes(d, memory_efficient) for d in depths], dtype=float)
    first = np.diff(saved)
    second = np.diff(saved, 2)
    assert np.all(first > 0)
    if memory_efficient:
        # linear in the feature maps: what still grows quadratically is only the BatchNorms'
        # per-channel statistics (no pixels), ~1% of the first differences at this tiny size
        assert np.all(np.abs(second) <= 0.02 * first.min())
    else:
        # quadratic: second differences are positive and constant (within 1%)
        assert np.all(second > 0.05 * first.min())
        assert np.ptp(second) <= 0.01 * second.mean()


def test_efficient_saves_less_than_half_of_plain():
    x = torch.randn(2, 3, 16, 16)
    small = {"ours plain": models.densenet_cifar(40), "ours efficient": models.densenet_cifar(40, memory_efficient=True)}
    saved = {k: memory.saved_activation_bytes(m, x).total_bytes for k, m in small.items()}
    assert saved["ours efficient"] < 0.5 * saved["ours plain"]


def test_resolution_scaling():
    # a fully convolutional model (no global pooling): saved bytes scale with the pixel count
    torch.manual_seed(0)
    features = models.densenet_cifar(depth=10).features
    small = memory.saved_activation_bytes(features, torch.randn(1, 3, 96, 96)).total_bytes
    large = memory.saved_activation_bytes(features, torch.randn(1, 3, 224, 224)).total_bytes
    assert large / small == pytest.approx((224 / 96) ** 2, rel=0.01)


# --------------------------------------------------------------------------- variants and helpers
def test_densenet_variants_share_weights_and_rank_as_expected():
    variants = memory.densenet_variants("densenet_bc", depth=40)
    assert list(variants) == ["ours plain", "ours memory_efficient", "torchvision class plain",
                              "torchvision class memory_efficient"]
    x = torch.randn(2, 3, 8, 8)
    outs = [m.eval()(x) for m in variants.values()]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0])
    saved = {k: memory.saved_activation_bytes(m.train(), x).total_bytes for k, m in variants.items()}
    assert saved["ours plain"] == saved["torchvision class plain"]
    assert saved["ours memory_efficient"] < saved["torchvision class memory_efficient"] < saved["ours plain"]


def test_compare_memory_rows_and_ratios():
    torch.manual_seed(0)
    models_ = {"plain": models.densenet_cifar(10), "efficient": models.densenet_cifar(10, memory_efficient=True)}
    models_["efficient"].load_state_dict(models_["plain"].state_dict())
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    rows = memory.compare_memory(models_, x, y, repeats=2, warmup=0)
    assert [r.name for r in rows] == ["plain", "efficient"]
    assert rows[0].saved_ratio == 1.0
    assert rows[1].saved_ratio == rows[1].saved_bytes / rows[0].saved_bytes < 1
    assert all(r.step_seconds > 0 for r in rows)
    untimed = memory.compare_memory(models_, x, y, time_steps=False)
    assert all(math.isnan(r.step_seconds) for r in untimed)
    assert all(r.cuda_peak_bytes is None for r in rows)       # CPU
    with pytest.raises(ValueError, match="models"):
        memory.compare_memory({}, x, y)


def test_train_step_runs_a_real_step():
    torch.manual_seed(0)
    model = models.densenet_cifar(10)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    assert memory.train_step(model, x, y) > 0
    assert model.classifier.weight.grad.abs().sum() > 0        # backward ran
    assert memory.cuda_peak_bytes(model, x, y) is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="model"):
        memory.saved_activation_bytes("not a model", torch.randn(1))
    with pytest.raises(ValueError, match="arch"):
        memory.densenet_variants("resnet")
    with pytest.raises(ValueError, match="depth"):
        models.torchvision_densenet_cifar(99)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_bytes_on_gpu():
    model = models.densenet_cifar(10).cuda()
    x, y = torch.randn(4, 3, 16, 16, device="cuda"), torch.randint(0, 10, (4,), device="cuda")
    assert memory.cuda_peak_bytes(model, x, y) > 0


def test_format_bytes():
    assert units.format_bytes(512) == "512 B"
    assert units.format_bytes(1536) == "1.5 KiB"
    assert units.format_bytes(3 * 2 ** 30) == "3.0 GiB"
    assert units.format_bytes(None) == "n/a"
