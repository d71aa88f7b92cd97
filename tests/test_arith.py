"""The closed forms in dnet_lib.arith against real models: dnet_lib's and torchvision's."""
import itertools

import pytest
import torch
import torchvision
from torch import nn

from dnet_lib import arith, models


def _meta(factory, **kwargs):
    with torch.device("meta"):      # shapes only: building on meta skips the weight init cost
        return factory(**kwargs)


GRID = list(itertools.product((4, 12), ((2,), (1, 3), (2, 1, 2)), (True, False), (0.5, 1.0, 0.3),
                              ("imagenet", "cifar", "d2l")))


@pytest.mark.parametrize("k,blocks,bottleneck,theta,stem", GRID)
def test_densenet_params_match_real_models(k, blocks, bottleneck, theta, stem):
    kw = dict(growth_rate=k, block_config=blocks, num_init_features=2 * k + 1, bottleneck=bottleneck,
              bn_size=3, compression=theta, num_classes=7, in_channels=2, stem=stem)
    model = models.DenseNet(**kw)
    assert arith.densenet_params(**kw) == arith.count_params(model)
    assert arith.densenet_stage_channels(k, blocks, 2 * k + 1, theta) == model.stage_channels


@pytest.mark.parametrize("name", ["densenet121", "densenet161", "densenet169", "densenet201"])
def test_densenet_params_equal_torchvision(name):
    tv = arith.count_params(_meta(getattr(torchvision.models, name)))
    ours = _meta(getattr(models, name))
    closed = arith.densenet_params(ours.growth_rate, ours.block_config, ours.stage_channels[0])
    assert closed == tv == arith.count_params(ours)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_resnet_params_equal_torchvision(name):
    assert arith.count_params(_meta(getattr(models, name))) == \
        arith.count_params(_meta(getattr(torchvision.models, name)))


@pytest.mark.parametrize("bottleneck,bias", list(itertools.product((True, False), (True, False))))
def test_layer_block_transition_params(bottleneck, bias):
    layer = models.DenseLayer(13, 5, bottleneck=bottleneck, bn_size=2, conv_bias=bias)
    assert arith.dense_layer_params(13, 5, bottleneck, 2, bias) == arith.count_params(layer)
    block = models.DenseBlock(3, 13, 5, bottleneck=bottleneck, bn_size=2, conv_bias=bias)
    assert arith.dense_block_params(3, 13, 5, bottleneck, 2, bias) == arith.count_params(block)
    assert arith.dense_block_channels(13, 3, 5)[-1] == block.out_channels
    assert arith.transition_params(28, 14, bias) == arith.count_params(models.Transition(28, 14, bias))


def test_conv_params_match_nn_conv():
    assert arith.conv_params(7, 5, 3, True) == arith.count_params(nn.Conv2d(7, 5, 3))
    assert arith.conv_params(7, 5, 1) == arith.count_params(nn.Conv2d(7, 5, 1, bias=False))


@pytest.mark.parametrize("connection,bias", list(itertools.product(("plain", "residual", "dense"), (False, True))))
def test_mlp_params_match_linear_stacks(connection, bias):
    widths = [6, 6, 6, 6] if connection == "residual" else [5, 3, 4, 2]
    fan_ins = [sum(widths[:j]) if connection == "dense" else widths[j - 1] for j in range(1, len(widths))]
    layers = [nn.Linear(f, w, bias=bias) for f, w in zip(fan_ins, widths[1:])]
    assert arith.mlp_params(widths, connection, bias) == sum(arith.count_params(m) for m in layers)


def test_growth_curves_linear_quadratic_exponential():
    res, dense, dbl = (arith.growth_curve(8, 10, s) for s in ("residual", "dense", "doubling"))
    diff = lambda xs: [b - a for a, b in zip([0] + xs, xs)]
    assert set(diff(res)) == {100}                                   # constant increments: linear
    assert set(diff(diff(dense))) == {100}                           # constant 2nd difference: quadratic
    assert [b / a for a, b in zip(diff(dbl), diff(dbl)[1:])] == [4.0] * 7   # ratio 4: exponential


def test_densenet_flops_match_flop_counter():
    for kw, shape in [(dict(growth_rate=6, block_config=(2, 3), num_init_features=8, stem="cifar",
                            num_classes=5), (1, 3, 16, 16)),
                      (dict(growth_rate=4, block_config=(1, 2, 1), num_init_features=8, bottleneck=False,
                            compression=0.7, num_classes=3, in_channels=1), (1, 1, 64, 64))]:
        assert arith.densenet_flops(shape[-1], **kw) == arith.count_flops(models.DenseNet(**kw), shape)


def test_concat_identity_holds_and_untied_weights_differ():
    r = arith.conv_over_concat_equals_sum((4, 4, 4), 5)
    assert r["concat_vs_split_sum"] < 1e-10 and r["shared_weight_vs_conv_of_sum"] < 1e-10
    assert r["independent_slices_vs_conv_of_sum"] > 1.0
    r = arith.conv_over_concat_equals_sum((3, 10, 2), 4, kernel_size=1)
    assert r["concat_vs_split_sum"] < 1e-10 and r["shared_weight_vs_conv_of_sum"] is None


def test_feature_correlation_shapes_and_range():
    r = arith.feature_correlation(num_layers=3, channels=4, growth_rate=4, size=6, batch=4)
    for key in ("residual", "dense", "dense_new_only"):
        assert len(r[key]) == 3 and all(0 <= v <= 1 for v in r[key])


@pytest.mark.parametrize("call,name", [
    (lambda: arith.transition_channels(10, 0), "compression"),
    (lambda: arith.transition_channels(10, 1.5), "compression"),
    (lambda: arith.transition_channels(0, 0.5), "m"),
    (lambda: arith.dense_block_channels(3, 2, 0), "growth_rate"),
    (lambda: arith.densenet_params(stem="tiny"), "stem"),
    (lambda: arith.mlp_params([3, 4], "sum"), "connection"),
    (lambda: arith.mlp_params([3, 4], "residual"), "residual"),
    (lambda: arith.growth_curve(3, 4, "cubic"), "scheme"),
    (lambda: arith.count_flops(nn.Identity(), (1, 0)), "input_shape"),
])
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
