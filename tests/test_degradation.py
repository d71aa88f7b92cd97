"""dnet_lib.degradation: the plain-network degradation demo of chapter 1."""
import pytest
import torch
import torch.nn.functional as F

from dnet_lib import data, degradation, drawing


def _fashion(n: int, size: int):
    train = data.load_fashion_mnist(train=True)
    images = train.images[:n].float().div(255).unsqueeze(1)
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return (images - images.mean()) / images.std(), train.labels[:n].long()


def test_same_seed_same_batches_same_curves():
    images, labels = torch.randn(40, 1, 6, 6), torch.randint(0, 3, (40,))
    runs = [degradation.compare_depths(images, labels, depths=(2,), width=4, steps=5, batch_size=8)
            for _ in range(2)]
    assert [len(curve) for curve in runs[0].curves.values()] == [5, 5]
    assert runs[0].curves == runs[1].curves


def test_both_wirings_learn_a_separable_problem():
    torch.manual_seed(0)
    labels = torch.randint(0, 2, (64,))
    images = torch.randn(64, 1, 4, 4) + 3.0 * labels.view(-1, 1, 1, 1).float()
    result = degradation.compare_depths(images, labels, depths=(2,), width=4, steps=60,
                                        batch_size=16)
    for losses in result.curves.values():
        assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


@pytest.mark.parametrize("kwargs, word", [
    (dict(depths=(0,)), "depth"), (dict(steps=0), "steps"), (dict(batch_size=0), "batch_size"),
    (dict(batch_size=99), "batch_size"),
])
def test_compare_depths_rejects_bad_arguments(kwargs, word):
    images, labels = torch.randn(8, 1, 4, 4), torch.zeros(8, dtype=torch.long)
    args = dict(steps=1, batch_size=4) | kwargs
    with pytest.raises(ValueError, match=word):
        degradation.compare_depths(images, labels, **args)
    with pytest.raises(ValueError, match="4-D"):
        degradation.compare_depths(images[:, 0], labels, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="same length"):
        degradation.compare_depths(images, labels[:4], steps=1, batch_size=4)


def test_compare_depths_trains_every_wiring_and_depth_and_tabulates():
    images, labels = torch.randn(16, 1, 5, 5), torch.randint(0, 2, (16,))
    result = degradation.compare_depths(images, labels, depths=(1, 3), width=2, steps=8,
                                        batch_size=4)
    assert list(result.curves) == [("plain", 1), ("plain", 3), ("residual", 1), ("residual", 3)]
    assert all(len(curve) == 8 for curve in result.curves.values())
    curve = result.curves[("plain", 3)]
    assert result.final_loss("plain", 3) == pytest.approx(sum(curve[-2:]) / 2)   # the last 1/4
    table = result.table()
    assert len(table) == 4 and set(table["wiring"]) == {"plain", "residual"}
    ax = drawing.plot_depth_curves(result)
    assert len(ax.lines) == 4
    solid = [line.get_label() for line in ax.lines if line.get_linestyle() == "-"]
    assert solid == ["plain, 3 layers", "residual, 3 layers"]


def test_deeper_plain_net_trains_worse_on_fashion_mnist():
    """The chapter's smoke-mode set-up shows the degradation problem on real images."""
    images, labels = _fashion(256, 10)
    result = degradation.compare_depths(images, labels, depths=(4, 16), steps=80)
    assert result.final_loss("plain", 16) > result.final_loss("plain", 4)
    assert result.final_loss("residual", 16) < result.final_loss("plain", 16)
