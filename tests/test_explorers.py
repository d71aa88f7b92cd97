"""The explorers show arith's numbers, the page's JavaScript computes the same, and they draw."""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import shutil
import subprocess

import pytest
import torch

from dnet_lib import arith, explorers, models, stages, units
from dnet_lib.explorers import ARCHITECTURES, THETAS, compression_explorer, growth_rate_explorer
from dnet_lib.explorers.page import asset

MAX_WIDTH = explorers.IN_CHANNELS_RANGE[1] + (explorers.NUM_LAYERS_RANGE[1] - 1) \
    * explorers.GROWTH_RATE_RANGE[1]          # the widest input a layer can get from the sliders


def test_seed_example_three_channels_two_layers_k10_gives_23():
    block = models.DenseBlock(2, 3, 10, bottleneck=False)
    assert growth_rate_explorer().view()["out_channels"] == block.out_channels == 23
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 23, 8, 8)
    assert growth_rate_explorer(growth_rate=12).view()["out_channels"] == 27


def _model(config: models.DenseNetConfig) -> models.DenseNet:
    """The real network of a preset (its fields as keyword arguments)."""
    return models.DenseNet(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})


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
    """Run a page's scripts in node (no DOM: nothing mounts), then print ``expression``."""
    node = shutil.which("node")
    if node is None:
        message = "node is not installed: cannot run the page's JavaScript (apt-get install nodejs)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    tables = json.dumps(explorers.growth_tables())
    program = ("globalThis.window = globalThis;\n" + "\n".join(scripts)
               + f"\nwindow.dnetExplorers.growthTables = {tables};"
               + f"\nconsole.log(JSON.stringify({expression}));\n")
    result = subprocess.run([node, "-"], input=program, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_growth_page_javascript_equals_arith_over_a_grid():
    page = growth_rate_explorer().page()
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
    # the page's arithmetic reads its numbers from the generated tables, never literals like 4*k
    code = _run_page_js(growth_rate_explorer().page(),
                        "String(window.dnetExplorers.blockStats)")
    assert "growthTables" in code
    assert not re.search(r"[*] ?\d|\d ?[*]", code), "a hard-coded factor in the page's arithmetic"


def test_pages_are_the_package_files():
    page = growth_rate_explorer().page()
    for name in ("explorer.css", "explorer.js", "growth_rate.js"):
        assert asset(name) in page, name
    assert asset("compression.js") in compression_explorer("d2l").page()


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_compression_numbers_equal_real_models(name):
    for bottleneck, theta in itertools.product((True, False), (0.1, 0.5, 1.0)):
        stats = explorers.architecture_stats(name, bottleneck, theta)
        net = _model(ARCHITECTURES[name].config.replace(bottleneck=bottleneck, compression=theta))
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
@pytest.mark.parametrize("name,theta", [("cifar_40", 0.5), ("d2l", 0.25), ("cifar_bc100", 0.75)])
def test_profile_panels_show_b_c_bc_of_the_real_networks(name, theta):
    view = compression_explorer(name, theta).view()
    panels = {p["panel"]: p for p in view["panels"]}
    assert list(panels) == ["B", "C", "BC"]
    for panel, bottleneck, compressed in explorers.VARIANT_PANELS:
        t = theta if compressed else 1.0
        net = _model(ARCHITECTURES[name].config.replace(bottleneck=bottleneck, compression=t))
        shown = panels[panel]
        assert shown["compression"] == t and shown["params"] == arith.count_params(net)
        assert shown["variant"] == net.config.variant
        # the drawn line is what the real network carries, measured by forward hooks
        size = 32 if ARCHITECTURES[name].config.stem == models.CIFAR_STEM else 64
        traced = [p.channels for p in stages.trace_units(net, size)[1:-1]]
        assert shown["channels"] == traced, panel
    assert panels["C"]["channels"] == panels["BC"]["channels"]   # a bottleneck adds no state
    assert view["reference"] == panels["B"]["channels"]          # dashed: θ = 1
    assert max(panels["C"]["channels"]) < max(panels["B"]["channels"])


def _page_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" data-role="data">(.*?)</script>',
                                page, re.S).group(1))


def test_compression_page_has_one_row_per_theta_and_the_real_numbers():
    comp = compression_explorer("cifar_bc100", 0.5, True)
    page = comp.page()
    data = _page_data(page)
    assert data["initial"] == "cifar_bc100" and data["names"] == list(ARCHITECTURES)
    assert set(data["architectures"]) == set(ARCHITECTURES)
    i = THETAS.index(0.5)
    assert data["architectures"]["cifar_bc100"]["bottleneck"][i]["params"] == \
        arith.count_params(models.densenet_cifar(100, 12))
    slider_max = int(re.search(r'data-role="theta" min="0" max="(\d+)"', page).group(1))
    plain = data["architectures"]["densenet121"]["plain"]
    assert len(plain) == len(data["thetas"]) == slider_max + 1
    i = THETAS.index(0.75)
    net = models.densenet121(bottleneck=False, compression=0.75)
    assert plain[i]["params"] == arith.count_params(net)
    assert plain[i]["channels"] == [p.channels for p in stages.trace_units(net, 64)[1:-1]]
    for t, row in zip(THETAS, data["architectures"]["cifar_bc100"]["bottleneck"]):
        assert row["compression"] == t


def test_static_html_keeps_the_browser_hooks_and_no_external_url():
    growth = growth_rate_explorer().page()
    for role in ("growth-rate", "num-layers", "in-channels", "image-size", "bottleneck", "params",
                 "layers", "formula", "stack", "params-bars", "memory-bars", "out-channels"):
        assert f'data-role="{role}"' in growth, role
    comp = compression_explorer().page()
    for role in ("architecture", "theta", "theta-value", "bottleneck", "params", "stages",
                 "variant", "drawing"):
        assert f'data-role="{role}"' in comp, role
    for page in (growth, comp):
        assert not re.search(r"(src|href)=\"https?://", page)
        assert "$" not in page.replace("$$", "")          # every template placeholder filled


def test_two_displays_get_distinct_ids():
    first, second = growth_rate_explorer().page(), growth_rate_explorer().page()
    id_of = lambda html: re.search(r'id="(dnet-growth_rate-[^"]+)"', html).group(1)
    assert id_of(first) != id_of(second)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="num_layers"):
        growth_rate_explorer(num_layers=999)
    with pytest.raises(ValueError, match="image_size"):
        growth_rate_explorer(image_size=50)
    with pytest.raises(ValueError, match="compression"):
        compression_explorer(compression=0.33)
    with pytest.raises(ValueError, match="compression"):
        explorers.architecture_stats("d2l", True, 0.0)
    with pytest.raises(ValueError, match="architecture"):
        compression_explorer(architecture="resnet50")


# --------------------------------------------------------------------------- live view
def test_mimebundle_is_html_without_a_kernel(monkeypatch):
    monkeypatch.delenv("DNET_BOOK_BUILD", raising=False)
    bundle = growth_rate_explorer()._repr_mimebundle_()
    assert "text/html" in bundle and "23" in bundle["text/plain"]
    assert explorers.WIDGET_VIEW not in bundle          # no kernel in pytest


def _shown(output) -> dict:
    """What a live widget's page shows: the numbers the kernel sent with it."""
    (shown,) = output.outputs
    return _page_data(shown["data"]["text/html"])["view"]


def test_widgets_recompute_in_python_and_send_the_page():
    pytest.importorskip("ipywidgets")
    box = growth_rate_explorer().widget()
    k_slider, out = box.children[0], box.children[-1]
    assert _shown(out)["out_channels"] == 23
    assert 'data-role="growth-rate"' not in out.outputs[0]["data"]["text/html"]   # no 2nd slider
    k_slider.value = 12
    assert _shown(out) == arith.dense_block_stats(3, 2, 12, 96, bottleneck=False)
    box = compression_explorer("cifar_bc100").widget()
    theta, out = box.children[1], box.children[-1]
    theta.value = 0.75
    expected = arith.count_params(models.densenet_cifar(100, 12, compression=0.75,
                                                        num_init_features=24))
    assert _shown(out)["stats"]["params"] == expected
    assert {p["panel"]: p["params"] for p in _shown(out)["panels"]}["BC"] == expected


def _chromium_page():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    sync_api = pytest.importorskip("playwright.sync_api")
    if chromium is None:
        pytest.skip("headless Chromium is not installed")
    return sync_api, chromium


@pytest.mark.browser
def test_static_pages_draw_and_recompute_in_a_browser(tmp_path, playwright_instance):
    sync_api, chromium = _chromium_page()
    growth, comp = tmp_path / "growth.html", tmp_path / "compression.html"
    growth.write_text(growth_rate_explorer().page(), encoding="utf-8")
    comp.write_text(compression_explorer("d2l", 0.25, False).page(), encoding="utf-8")
    read = ("(() => { const r = document.querySelector('.dnet-explorer'); "
            "const get = x => r.querySelector('[data-role=\"' + x + '\"]'); %s })()")
    browser = playwright_instance.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page, errors = browser.new_page(), []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(growth.as_uri())
    assert page.evaluate(read % "return get('out-channels').textContent;") == "23"
    shown = page.evaluate(read % (
        "const k = get('growth-rate'); k.value = '12'; "
        "k.dispatchEvent(new Event('input', {bubbles: true})); "
        "return [get('out-channels').textContent, get('params').textContent, "
        "get('layers').querySelectorAll('tr').length];"))
    assert shown == ["27", f"{arith.count_params(models.DenseBlock(2, 3, 12, False)):,}", 2]
    page.goto(comp.as_uri())
    shown = page.evaluate(read % (
        "return [get('params').textContent, get('variant').textContent, "
        "get('theta-value').textContent, [...get('drawing').querySelectorAll('svg')].map("
        "s => [s.dataset.panel, +s.dataset.params, s.dataset.channels])];"))
    net = _model(models.D2L_DENSENET.replace(compression=0.25))
    drawn = [[p["panel"], p["params"], ",".join(map(str, p["channels"]))]
             for p in compression_explorer("d2l", 0.25, False).view()["panels"]]
    assert shown == [f"{arith.count_params(net):,}", "DenseNet-C", "0.25", drawn]
    browser.close()
    assert not errors, errors


# --------------------------------------------------------------------------- packaging
@pytest.mark.slow
def test_the_wheel_carries_every_page_file(tmp_path):
    """A non-editable install (Colab's) must find every page file (the explorers' and the live
    page's); each package-data glob in pyproject.toml matches a real file."""
    import sys
    tomllib = pytest.importorskip("tomllib")      # Python 3.11+
    import zipfile
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    package = repo / "dnet_lib"
    files = sorted(p.relative_to(repo).as_posix() for p in package.rglob("*")
                   if p.is_file() and p.suffix not in (".py", ".pyc"))
    assert "dnet_lib/live.js" in files and "dnet_lib/explorers/explorer.js" in files
    assert all(asset(Path(name).name) for name in files if "/explorers/" in name)
    globs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]
    matched = set()
    for module, patterns in globs.items():
        folder = repo.joinpath(*module.split("."))
        for pattern in patterns:
            found = list(folder.glob(pattern))
            assert found, f"package-data glob {module}: {pattern!r} matches no file"
            matched |= {p.relative_to(repo).as_posix() for p in found}
    assert sorted(matched) == files
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(repo)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("dnet_lib-*.whl")
    shipped = sorted(n for n in zipfile.ZipFile(wheel).namelist()
                     if n.startswith("dnet_lib/") and not n.endswith(".py")
                     and ".dist-info" not in n)
    assert shipped == files
