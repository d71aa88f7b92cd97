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


# (stem, conv_bias): the ImageNet stem, DenseNet's CIFAR stem, and d2l's biased convolutions
STEMS = ((models.IMAGENET_STEM, False), (models.CIFAR_STEM, False), (models.IMAGENET_STEM, True))
GRID = list(itertools.product((4, 12), ((2,), (1, 3), (2, 1, 2)), (True, False), (0.5, 1.0, 0.3),
                              STEMS))


@pytest.mark.parametrize("k,blocks,bottleneck,theta,stem", GRID)
def test_densenet_params_match_real_models(k, blocks, bottleneck, theta, stem):
    config = models.DenseNetConfig(
        growth_rate=k, block_config=blocks, num_init_features=2 * k + 1, bottleneck=bottleneck,
        bn_size=3, compression=theta, num_classes=7, in_channels=2, stem=stem[0],
        conv_bias=stem[1])
    model = models.DenseNet(config)
    assert arith.densenet_params(config) == arith.count_params(model)
    assert arith.stage_channels(config) == model.stage_channels


@pytest.mark.parametrize("name", ["densenet121", "densenet161", "densenet169", "densenet201"])
def test_densenet_params_equal_torchvision(name):
    tv = arith.count_params(_meta(getattr(torchvision.models, name)))
    ours = _meta(getattr(models, name))
    closed = arith.densenet_params(ours.config)
    assert closed == tv == arith.count_params(ours)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_resnet_params_equal_torchvision(name):
    assert arith.count_params(_meta(getattr(models, name))) == \
        arith.count_params(_meta(getattr(torchvision.models, name)))


@pytest.mark.parametrize("bottleneck,bias", list(itertools.product((True, False), (True, False))))
def test_layer_block_transition_params(bottleneck, bias):
    layer = models.DenseLayer(13, 5, bottleneck=bottleneck, bn_size=2, conv_bias=bias)
    kw = dict(bottleneck=bottleneck, bn_size=2, conv_bias=bias)
    assert arith.dense_layer_params(13, 5, **kw) == arith.count_params(layer)
    block = models.DenseBlock(3, 13, 5, **kw)
    assert arith.dense_block_stats(13, 3, 5, **kw)["params"] == arith.count_params(block)
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


STEM_GRID = [models.Stem(), models.Stem(3, 1, norm=False, pool=0),
             models.Stem(3, 1, norm=True, pool=2, pool_stride=2, pool_padding=0),
             models.Stem(5, 2, norm=True, pool=0)]


@pytest.mark.parametrize("stem", STEM_GRID, ids=str)
@pytest.mark.parametrize("bottleneck,theta", [(True, 0.5), (False, 1.0), (False, 0.4)])
def test_densenet_stats_match_real_model_part_by_part(stem, bottleneck, theta):
    config = models.DenseNetConfig(growth_rate=4, block_config=(2, 1, 3), num_init_features=9,
                                   bottleneck=bottleneck, compression=theta, num_classes=5,
                                   in_channels=2, stem=stem)
    model = models.DenseNet(config)
    stats = arith.densenet_stats(config, image_size=40)
    assert stats["params"] == arith.count_params(model)
    stem = [m for name, m in model.features.named_children() if name.endswith("0")]   # conv0, ...
    assert stats["params_stem"] == sum(arith.count_params(m) for m in stem)
    blocks = model.dense_blocks()
    assert [b["params"] for b in stats["blocks"]] == [arith.count_params(b) for b in blocks]
    assert [b["out_channels"] for b in stats["blocks"]] == [b.out_channels for b in blocks]
    transitions = [m for m in model.features if isinstance(m, models.Transition)]
    assert [t["params"] for t in stats["transitions"]] == [arith.count_params(t) for t in transitions]
    assert stats["params_head"] == (arith.count_params(model.features.norm5)
                                    + arith.count_params(model.classifier))
    assert stats["stage_channels"] == model.stage_channels
    assert stats["num_features"] == model.num_features
    assert stats["flops"] == arith.count_flops(model, (1, 2, 40, 40))
    assert stats["variant"] == {(True, 0.5): "DenseNet-BC", (False, 1.0): "DenseNet",
                                (False, 0.4): "DenseNet-C"}[(bottleneck, theta)]


@pytest.mark.parametrize("bottleneck", [True, False])
def test_dense_block_stats_match_a_real_block(bottleneck):
    block = models.DenseBlock(4, 7, 5, bottleneck=bottleneck, bn_size=3)
    stats = arith.dense_block_stats(7, 4, 5, 6, bottleneck=bottleneck, bn_size=3)
    assert stats["params"] == arith.count_params(block)
    assert [r["params"] for r in stats["layers"]] == [arith.count_params(m) for m in block.values()]
    assert [r["in_channels"] for r in stats["layers"]] == [m.in_channels for m in block.values()]
    inputs = []
    for layer in block.values():             # what each layer really reads, for one 6x6 image
        layer.register_forward_pre_hook(lambda m, args: inputs.append(torch.cat(args[0], 1)))
    y = block(torch.randn(1, 7, 6, 6))
    assert stats["output_values"] == y.numel() and stats["output_bytes"] == y.numel() * y.element_size()
    assert [r["input_values"] for r in stats["layers"]] == [x.numel() for x in inputs]
    assert stats["layer_input_values"] == sum(x.numel() for x in inputs)


def test_block_arithmetic_has_no_default_bottleneck():
    # explorers once defaulted to plain layers and arith to bottlenecks: now the caller says
    for call in (lambda: arith.dense_layer_params(8, 4), lambda: arith.dense_block_stats(8, 2, 4)):
        with pytest.raises(TypeError, match="bottleneck"):
            call()


def test_count_params_counts_frozen_ones_too():
    model = models.DenseBlock(2, 3, 4, bottleneck=False)
    total = sum(p.numel() for p in model.parameters())
    model.denselayer1.requires_grad_(False)
    assert arith.count_params(model) == total


# --------------------------------------------------------------------------- FLOPs
def test_densenet_flops_match_flop_counter():
    for kw, shape in [(dict(growth_rate=6, block_config=(2, 3), num_init_features=8,
                            stem=models.CIFAR_STEM, num_classes=5), (1, 3, 16, 16)),
                      (dict(growth_rate=4, block_config=(1, 2, 1), num_init_features=8, bottleneck=False,
                            compression=0.7, num_classes=3, in_channels=1), (1, 1, 64, 64))]:
        config = models.DenseNetConfig(**kw)
        assert arith.densenet_flops(config, shape[-1]) == \
            arith.count_flops(models.DenseNet(config), shape)
    bc = models.densenet_cifar(40, 8)             # DenseNet-BC, three blocks of 6
    assert arith.densenet_flops(models.cifar_config(40, 8), 32) == \
        arith.count_flops(bc, (1, 3, 32, 32))


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
    (lambda: models.transition_channels(10, 0), "compression"),
    (lambda: models.transition_channels(10, 1.5), "compression"),
    (lambda: models.transition_channels(0, 0.5), "m"),
    (lambda: arith.dense_block_channels(3, 2, 0), "growth_rate"),
    (lambda: arith.densenet_params(models.DENSENET121.replace(stem="tiny")), "stem"),
    (lambda: arith.densenet_params(dict(growth_rate=12)), "config"),
    (lambda: arith.mlp_params([3, 4], "sum"), "connection"),
    (lambda: arith.mlp_params([3, 4], "residual"), "residual"),
    (lambda: arith.growth_curve(3, 4, "cubic"), "scheme"),
    (lambda: arith.count_flops(nn.Identity(), (1, 0)), "input_shape"),
    (lambda: arith.densenet_stats(image_size=16), "image_size"),
    (lambda: models.DENSENET121.replace(stem=models.Stem(pool=2, pool_padding=2)), "pool_padding"),
])
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
