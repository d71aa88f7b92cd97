"""The explorers show arith's numbers, the page's JavaScript computes the same, and they draw."""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess

import pytest
import torch

from dnet_lib import arith, drawing, explorers, models, units
from dnet_lib.explorers import ARCHITECTURES, THETAS, compression_explorer, growth_rate_explorer

MAX_WIDTH = explorers.IN_CHANNELS_RANGE[1] + (explorers.NUM_LAYERS_RANGE[1] - 1) \
    * explorers.GROWTH_RATE_RANGE[1]          # the widest input a layer can get from the sliders


def test_seed_example_three_channels_two_layers_k10_gives_23():
    block = models.DenseBlock(2, 3, 10, bottleneck=False)
    assert growth_rate_explorer().stats()["out_channels"] == block.out_channels == 23
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 23, 8, 8)
    assert growth_rate_explorer(growth_rate=12).stats()["out_channels"] == 27


# --------------------------------------------------------------------------- one source: arith
def test_growth_tables_reproduce_arith_over_the_whole_slider_range():
    tables = explorers.growth_tables()
    for (name, bottleneck), k in itertools.product((("plain", False), ("bottleneck", True)),
                                                   range(1, explorers.GROWTH_RATE_RANGE[1] + 1)):
        slope, intercept = tables["params"][name][k - tables["kMin"]]
        for c in range(1, MAX_WIDTH + 1):
            assert slope * c + intercept == arith.dense_layer_params(c, k, bottleneck=bottleneck), \
                (name, k, c)
    for size in explorers.IMAGE_SIZES:
        slope, intercept = tables["inputValues"][str(size)]
        for c in (1, 7, MAX_WIDTH):
            layer = arith.dense_block_stats(c, 1, 1, size, bottleneck=False)["layers"][0]
            assert slope * c + intercept == layer["input_values"]
    assert tables["bytesPerValue"] == units.BYTES_PER_FLOAT32


def _run_page_js(page: str, expression: str):
    node = shutil.which("node")
    if node is None:
        message = "node is not installed: cannot run the page's JavaScript (apt-get install nodejs)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    program = ("globalThis.window = globalThis; globalThis.document = {getElementById: () => null};\n"
               + "\n".join(scripts) + f"\nconsole.log(JSON.stringify({expression}));\n")
    result = subprocess.run([node, "-"], input=program, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_growth_page_javascript_equals_arith_over_a_grid():
    page = growth_rate_explorer().static_html()
    grid = [(c0, L, k, size, b) for c0 in (1, 3, 64, 256) for L in (1, 2, 6, 24)
            for k in (1, 10, 12, 32, 48) for size in explorers.IMAGE_SIZES for b in (False, True)]
    got = _run_page_js(page, f"{json.dumps(grid)}.map(([c, L, k, s, b]) => "
                             "window.dnetExplorers.blockStats(c, L, k, s, b))")
    for (c0, L, k, size, b), js in zip(grid, got):
        py = arith.dense_block_stats(c0, L, k, size, bottleneck=b)
        assert js == py, (c0, L, k, size, b)
    sizes = [0, 1, 1023, 1024, 1536, 3 * 2 ** 20, 5 * 2 ** 30 + 7]
    shown = _run_page_js(page, f"{sizes}.map(n => window.dnetExplorers.formatBytes(n))")
    assert shown == [units.format_bytes(n) for n in sizes]


def test_page_javascript_has_no_formula_constants():
    # the JavaScript reads its numbers from the generated tables, never from literals like 4*k
    page = growth_rate_explorer().static_html()
    calc = re.findall(r"<script>(.*?)</script>", page, re.S)[0]
    code = calc.split("var T = ", 1)[1].split(";\n", 1)[1]
    assert not re.search(r"[*] ?\d|\d ?[*]", code), "a hard-coded factor in the page's arithmetic"


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_compression_numbers_equal_real_models(name):
    for bottleneck, theta in itertools.product((True, False), (0.1, 0.5, 1.0)):
        stats = explorers.architecture_stats(name, bottleneck, theta)
        net = models.DenseNet(**ARCHITECTURES[name].model_kwargs(bottleneck, theta))
        assert stats["stage_channels"] == net.stage_channels, (name, bottleneck, theta)
        assert stats["params"] == arith.count_params(net), (name, bottleneck, theta)


def test_presets_reproduce_the_library_factories():
    assert explorers.architecture_stats("densenet121", True, 0.5)["params"] == \
        arith.count_params(models.densenet121())
    assert explorers.architecture_stats("cifar_bc100", True, 0.5)["params"] == \
        arith.count_params(models.densenet_cifar(100, 12, bottleneck=True, compression=0.5))
    assert explorers.architecture_stats("cifar_40", False, 1.0)["params"] == \
        arith.count_params(models.densenet_cifar(40, 12, bottleneck=False, compression=1.0))
    assert explorers.architecture_stats("d2l", False, 0.5)["params"] == \
        arith.count_params(models.d2l_densenet())


# --------------------------------------------------------------------------- drawings
def _panels(svg: str) -> dict:
    return {m.group(1): {"variant": m.group(2), "theta": float(m.group(3)),
                         "params": int(m.group(4)), "channels": [int(c) for c in m.group(5).split(",")]}
            for m in re.finditer(r'data-panel="(\w+)" data-variant="([\w-]+)" data-theta="([\d.]+)" '
                                 r'data-params="(\d+)" data-channels="([\d,]+)"', svg)}


@pytest.mark.parametrize("name,theta", [("cifar_40", 0.5), ("d2l", 0.25), ("cifar_bc100", 0.75)])
def test_profile_drawing_shows_b_c_bc_of_the_real_networks(name, theta):
    panels = _panels(explorers.profile_svg(name, theta))
    assert list(panels) == ["B", "C", "BC"]
    for panel, bottleneck, compressed in explorers.VARIANT_PANELS:
        t = theta if compressed else 1.0
        net = models.DenseNet(**ARCHITECTURES[name].model_kwargs(bottleneck, t))
        shown = panels[panel]
        assert shown["theta"] == t and shown["params"] == arith.count_params(net)
        assert shown["variant"] == net.config.variant
        # the drawn line is what the real network carries, measured by forward hooks
        size = 32 if ARCHITECTURES[name].stem == "cifar" else 64
        traced = [p.channels for p in drawing.trace_widths(net, size)[1:]]
        assert shown["channels"] == traced, panel
    assert panels["C"]["channels"] == panels["BC"]["channels"]   # a bottleneck adds no state
    assert max(panels["C"]["channels"]) < max(panels["B"]["channels"])


def test_compression_page_has_one_frame_per_theta_and_the_real_numbers():
    comp = compression_explorer("cifar_bc100", 0.5, True, ["cifar_bc100", "densenet121"])
    page = comp.static_html()
    shown = re.search(r'data-role="params">([\d,]+)<', page).group(1)
    assert int(shown.replace(",", "")) == arith.count_params(models.densenet_cifar(100, 12))
    table = json.loads(re.search(r'<script type="application/json" data-role="table">(.*?)</script>',
                                 page, re.S).group(1))
    frames = json.loads(re.search(r'<script type="application/json" data-role="frames">(.*?)</script>',
                                  page, re.S).group(1))
    assert set(table["architectures"]) == set(frames) == {"cifar_bc100", "densenet121"}
    slider_max = int(re.search(r'data-role="theta" min="0" max="(\d+)"', page).group(1))
    assert len(frames["densenet121"]) == len(table["thetas"]) == slider_max + 1
    i = THETAS.index(0.75)
    net = models.densenet121(bottleneck=False, compression=0.75)
    assert table["architectures"]["densenet121"]["plain"][i]["params"] == arith.count_params(net)
    assert _panels(frames["densenet121"][i])["C"]["params"] == arith.count_params(net)
    for t, frame in zip(THETAS, frames["cifar_bc100"]):
        assert frame.startswith(f'<div data-role="profiles" data-theta="{t:.2f}"')


def test_static_html_keeps_the_browser_hooks_and_no_external_url():
    growth = growth_rate_explorer().static_html()
    assert 'data-role="out-channels">23<' in growth
    for role in ("growth-rate", "num-layers", "in-channels", "image-size", "bottleneck", "params",
                 "layers", "formula", "stack", "params-bars", "memory-bars"):
        assert f'data-role="{role}"' in growth, role
    comp = compression_explorer().static_html()
    for role in ("architecture", "theta", "theta-value", "bottleneck", "params", "stages",
                 "variant", "drawing"):
        assert f'data-role="{role}"' in comp, role
    for page in (growth, comp):
        assert not re.search(r"(src|href)=\"https?://", page)


def test_two_displays_get_distinct_ids():
    first, second = growth_rate_explorer().static_html(), growth_rate_explorer().static_html()
    id_of = lambda html: re.search(r'id="(dnet-growth-[^"]+)"', html).group(1)
    assert id_of(first) != id_of(second)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="num_layers"):
        growth_rate_explorer(num_layers=999)
    with pytest.raises(ValueError, match="image_size"):
        growth_rate_explorer(image_size=50)
    with pytest.raises(ValueError, match="compression"):
        compression_explorer(compression=0.33)
    with pytest.raises(ValueError, match="compression"):
        explorers.profile_svg("d2l", 0.0)
    with pytest.raises(ValueError, match="architecture"):
        compression_explorer(architecture="resnet50")
    with pytest.raises(ValueError, match="architectures"):
        compression_explorer(architectures=["densenet121", "vgg"])


# --------------------------------------------------------------------------- live view
def test_mimebundle_is_html_without_a_kernel(monkeypatch):
    monkeypatch.delenv("DNET_BOOK_BUILD", raising=False)
    bundle = growth_rate_explorer()._repr_mimebundle_()
    assert "text/html" in bundle and "23" in bundle["text/plain"]
    assert explorers.WIDGET_VIEW not in bundle          # no kernel in pytest


def test_widgets_recompute_and_redraw_in_python():
    pytest.importorskip("ipywidgets")
    box = growth_rate_explorer().widget()
    k_slider, summary, stack, bars = box.children[0], box.children[5], box.children[6], box.children[7]
    assert "<b>23</b>" in summary.value
    before = bytes(stack.value)
    assert before.startswith(b"\x89PNG") and bytes(bars.value).startswith(b"\x89PNG")
    k_slider.value = 12
    assert "<b>27</b>" in summary.value and bytes(stack.value) != before
    box = compression_explorer("cifar_bc100").widget()
    theta, picture, summary = box.children[1], box.children[2], box.children[-1]
    theta.value = 0.75
    expected = arith.count_params(models.densenet_cifar(100, 12, compression=0.75,
                                                        num_init_features=24))
    assert f"<b>{expected:,}</b>" in summary.value
    assert _panels(picture.value)["BC"]["params"] == expected


def test_live_drawings_are_the_real_block():
    stack, bars = growth_rate_explorer(in_channels=5, num_layers=4, growth_rate=7).drawings()
    assert [r.value for r in stack.find("row")] == [5, 12, 19, 26, 33]
    stats = arith.dense_block_stats(5, 4, 7, 96, bottleneck=False)
    assert [b.value for b in bars.find("bar", metric="params")] == [r["params"] for r in stats["layers"]]
