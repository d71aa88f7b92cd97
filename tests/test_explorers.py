"""The explorers show the numbers of real dnet_lib models built with the same settings."""
from __future__ import annotations

import itertools
import json
import re

import pytest
import torch

from dnet_lib import explorers, models
from dnet_lib.explorers import (ARCHITECTURES, THETAS, compression_explorer, dense_block_stats,
                                dense_layer_params, densenet_stats, growth_rate_explorer)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_seed_example_three_channels_two_layers_k10_gives_23():
    stats = dense_block_stats(in_channels=3, num_layers=2, growth_rate=10)
    block = models.DenseBlock(2, 3, 10, bottleneck=False)
    assert stats["out_channels"] == block.out_channels == 23
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 23, 8, 8)
    assert [layer["in_channels"] for layer in stats["layers"]] == [3, 13]
    assert growth_rate_explorer().stats()["out_channels"] == 23
    assert dense_block_stats(3, 2, 12)["out_channels"] == 27


@pytest.mark.parametrize("bottleneck", [False, True])
def test_block_numbers_equal_real_blocks_over_a_grid(bottleneck):
    for in_channels, num_layers, k in itertools.product((1, 3, 16, 64), (1, 2, 5), (1, 10, 12, 32)):
        stats = dense_block_stats(in_channels, num_layers, k, 8, bottleneck)
        block = models.DenseBlock(num_layers, in_channels, k, bottleneck=bottleneck)
        setting = (in_channels, num_layers, k, bottleneck)
        assert stats["out_channels"] == block.out_channels, setting
        assert stats["params"] == n_params(block), setting
        layers = list(block.values())
        assert [r["in_channels"] for r in stats["layers"]] == [l.in_channels for l in layers]
        assert [r["params"] for r in stats["layers"]] == [n_params(l) for l in layers], setting


def test_activation_sizes_equal_real_tensors():
    stats = dense_block_stats(in_channels=3, num_layers=3, growth_rate=5, image_size=14)
    block = models.DenseBlock(3, 3, 5, bottleneck=False).eval()
    x = torch.randn(1, 3, 14, 14)
    with torch.no_grad():
        out = block(x)
        inputs, features = [], [x]
        for layer in block.values():
            inputs.append(torch.cat(features, 1).numel())
            features.append(layer(features))
    assert stats["output_values"] == out.numel()
    assert stats["output_bytes"] == out.numel() * out.element_size()
    assert [r["input_values"] for r in stats["layers"]] == inputs


def test_layer_params_with_conv_bias_equal_real_layers():
    for bottleneck in (False, True):
        layer = models.DenseLayer(7, 5, bottleneck=bottleneck, conv_bias=True)
        assert dense_layer_params(7, 5, bottleneck, conv_bias=True) == n_params(layer)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_numbers_equal_real_models_over_theta_and_bottleneck(name):
    for bottleneck, theta in itertools.product((True, False), (0.1, 0.25, 0.5, 0.75, 1.0)):
        stats = explorers.architecture_stats(name, bottleneck, theta)
        net = models.DenseNet(**ARCHITECTURES[name].model_kwargs(bottleneck, theta))
        setting = (name, bottleneck, theta)
        assert stats["stage_channels"] == net.stage_channels, setting
        assert stats["num_features"] == net.num_features, setting
        assert stats["params"] == n_params(net), setting
        assert stats["params_blocks"] == sum(n_params(b) for b in net.dense_blocks()), setting
        assert stats["variant"] == explorers.variant_name(bottleneck, theta)


def test_densenet_stats_over_a_grid_of_k_and_theta():
    for k, theta, bottleneck in itertools.product((4, 12, 24), (0.3, 0.5, 0.85, 1.0), (False, True)):
        kwargs = dict(growth_rate=k, block_config=(2, 3, 2), num_init_features=2 * k,
                      bottleneck=bottleneck, compression=theta, num_classes=10, stem="cifar")
        stats, net = densenet_stats(**kwargs), models.DenseNet(**kwargs)
        assert stats["stage_channels"] == net.stage_channels, kwargs
        assert stats["params"] == n_params(net), kwargs


def test_presets_reproduce_the_library_factories():
    # the menu's configurations are the library's own models, not look-alikes
    assert explorers.architecture_stats("densenet121", True, 0.5)["params"] == n_params(models.densenet121())
    assert explorers.architecture_stats("cifar_bc100", True, 0.5)["params"] == \
        n_params(models.densenet_cifar(100, 12, bottleneck=True, compression=0.5))
    assert explorers.architecture_stats("cifar_40", False, 1.0)["params"] == \
        n_params(models.densenet_cifar(40, 12, bottleneck=False, compression=1.0))
    assert explorers.architecture_stats("d2l", False, 0.5)["params"] == n_params(models.d2l_densenet())


def test_variant_names():
    assert explorers.variant_name(False, 1.0) == "DenseNet"
    assert explorers.variant_name(True, 1.0) == "DenseNet-B"
    assert explorers.variant_name(False, 0.5) == "DenseNet-C"
    assert explorers.variant_name(True, 0.5) == "DenseNet-BC"


def test_thetas_are_the_slider_steps():
    assert THETAS[0] == 0.1 and THETAS[-1] == 1.0 and 0.5 in THETAS and len(THETAS) == 19
    assert all(b > a for a, b in zip(THETAS, THETAS[1:]))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="growth_rate"):
        dense_block_stats(3, 2, 0)
    with pytest.raises(ValueError, match="num_layers"):
        growth_rate_explorer(num_layers=999)
    with pytest.raises(ValueError, match="image_size"):
        growth_rate_explorer(image_size=50)
    with pytest.raises(ValueError, match="compression"):
        densenet_stats(compression=0.0)
    with pytest.raises(ValueError, match="compression"):
        compression_explorer(compression=0.33)
    with pytest.raises(ValueError, match="architecture"):
        compression_explorer(architecture="resnet50")
    with pytest.raises(ValueError, match="architectures"):
        compression_explorer(architectures=["densenet121", "vgg"])


def test_static_html_carries_the_numbers_and_no_external_url():
    page = growth_rate_explorer().static_html()
    assert 'data-role="out-channels">23<' in page
    assert 'data-role="growth-rate"' in page and "<script>" in page
    comp = compression_explorer("cifar_bc100", 0.5, True, ["cifar_bc100", "densenet121"])
    page = comp.static_html()
    shown = re.search(r'data-role="params">([\d,]+)<', page).group(1)
    assert int(shown.replace(",", "")) == n_params(models.densenet_cifar(100, 12))
    table = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page, re.S).group(1))
    assert set(table["architectures"]) == {"cifar_bc100", "densenet121"}
    assert table["thetas"] == list(THETAS)
    i = THETAS.index(0.75)
    assert table["architectures"]["densenet121"]["plain"][i]["params"] == \
        n_params(models.densenet121(bottleneck=False, compression=0.75))
    for html in (page, growth_rate_explorer().static_html()):
        assert not re.search(r"(src|href)=\"https?://", html)


def test_two_displays_get_distinct_ids():
    first, second = growth_rate_explorer().static_html(), growth_rate_explorer().static_html()
    id_of = lambda html: re.search(r'id="(dnet-growth-[^"]+)"', html).group(1)
    assert id_of(first) != id_of(second)


def test_mimebundle_is_html_without_a_kernel(monkeypatch):
    monkeypatch.delenv("DNET_BOOK_BUILD", raising=False)
    bundle = growth_rate_explorer()._repr_mimebundle_()
    assert "text/html" in bundle and "23" in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" not in bundle   # no kernel in pytest


def test_widgets_recompute_in_python():
    pytest.importorskip("ipywidgets")
    box = growth_rate_explorer().widget()
    k_slider, html_out = box.children[0], box.children[-1]
    assert "<b>23</b>" in html_out.value
    k_slider.value = 12
    assert "<b>27</b>" in html_out.value
    box = compression_explorer("cifar_bc100").widget()
    theta = box.children[1]
    theta.value = 0.75
    expected = n_params(models.densenet_cifar(100, 12, compression=0.75, num_init_features=24))
    assert f"<b>{expected:,}</b>" in box.children[-1].value
