"""The live page (chapters/08b_live_networks) in headless Chromium: both trained networks run
in the page, give PyTorch's answers, react to drawing, and fetch nothing from another host.

Like test_book_browser.py, it opens the session's smoke-mode build (the ``smoke_book``
fixture) with the system's Chromium, served on 127.0.0.1 and also from ``file://``. The load
times it measures go to ``live_page_timing.json`` beside the built pages (and are printed):
the time from navigation start to the load event and to the first probabilities (and their
difference), and per new image.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from dnet_lib import live as live_lib
from dnet_tools import machine

from test_book_browser import _chromium, _external, _skip_or_fail, built_html, server  # noqa: F401

PAGE = "chapters/08b_live_networks.html"
MAX_BYTES = 15_000_000           # the page's own download: HTML + ONNX Runtime (WASM included)
NETS = ("densenet", "resnet")
LIMIT_MS = 300_000               # generous: CI shares two cores with the book build's kernels
# the book theme's own script, declared twice on pages opened from file://; not ours
THEME_ERRORS = ("THEBE_JS_URL",)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def chromium(playwright_instance):
    executable = _chromium()
    browser = playwright_instance.chromium.launch(
        executable_path=executable,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update"])
    yield browser
    browser.close()


class LivePage:
    """A fresh page (no cache) on the live chapter, recording requests and failed responses."""

    def __init__(self, chromium, url: str):
        self.context = chromium.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(LIMIT_MS)
        self.requests, self.responses, self.missing, self.errors = [], [], [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: self.responses.append(r))
        self.page.on("requestfailed", lambda r: self.missing.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)) if not any(
            t in str(e) for t in THEME_ERRORS) else None)
        self.page.goto(url, wait_until="load", timeout=LIMIT_MS)
        self.page.evaluate("window.dnetLive.ready.then(() => true)")

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def shown(self) -> dict:
        """Per network: the predicted class shown and the probabilities behind the bars."""
        return self.js("""(() => { const out = {};
          for (const net of ['densenet', 'resnet']) out[net] = {
            prediction: document.querySelector('[data-role="prediction-' + net + '"]').textContent,
            p: [...document.querySelectorAll('[data-role="probs-' + net + '"] tr')]
                 .map(tr => Number(tr.dataset.p))};
          return out; })()""")

    def pick(self, index: int) -> dict:
        before = self.js("window.dnetLive.timings.length")
        self.page.click(f'[data-role="pick"][data-index="{index}"]')
        self.page.wait_for_function(f"window.dnetLive.timings.length > {before} && "
                                    f"window.dnetLive.state.index === {index}")
        self.js("new Promise(r => requestAnimationFrame(() => r(true)))")
        return self.shown()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def record():
    return live_lib.load_record()


@pytest.fixture(scope="module")
def live(chromium, server, built_html):
    page = LivePage(chromium, f"{server}/{PAGE}")
    yield page
    page.close()


def test_no_request_leaves_the_machine_and_nothing_is_missing(live):
    assert any(u.endswith(PAGE) for u in live.requests)
    assert any(u.endswith("/_static/onnxruntime/ort-wasm-payload.js") for u in live.requests)
    assert not _external(live.requests), _external(live.requests)
    failed = [(r.url, r.status) for r in live.responses if r.status >= 400
              and not r.url.endswith("/favicon.ico")]
    assert not failed and not live.missing, (failed, live.missing)
    assert not live.errors, live.errors
    assert live.js("window.dnetLive.error || null") is None


def test_two_picked_images_get_pytorchs_predictions(live, record):
    labels = record["images"]["labels"]
    for index in (labels.index(7), labels.index(3) + 1):      # a sneaker, the second dress
        shown = live.pick(index)
        for net in NETS:
            info = record["networks"][net]
            assert shown[net]["prediction"] == record["classes"][info["predictions"][index]]
            np.testing.assert_allclose(shown[net]["p"], info["probabilities"][index],
                                       atol=1e-4, err_msg=f"{net}, image {index}")
        assert "difference from PyTorch" in live.js(
            "document.querySelector('[data-role=\"check\"]').textContent")


def test_drawing_changes_the_probabilities(live):
    live.pick(0)
    live.page.click('[data-role="clear"]')
    live.page.wait_for_function("window.dnetLive.state.index === null && "
                                "window.dnetLive.state.pixels.every(v => v === 0)")
    time.sleep(0.3)
    blank = live.shown()
    box = live.page.locator('[data-role="input"]').bounding_box()
    before = live.js("window.dnetLive.timings.length")
    live.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    live.page.mouse.down()
    for step in range(1, 11):        # a vertical stroke down the middle: a trouser leg?
        live.page.mouse.move(box["x"] + box["width"] * 0.5,
                             box["y"] + box["height"] * (0.15 + 0.07 * step), steps=2)
    live.page.mouse.up()
    live.page.wait_for_function(f"window.dnetLive.timings.length > {before} && "
                                "window.dnetLive.idle")
    time.sleep(0.5)
    drawn = live.shown()
    ink = live.js("window.dnetLive.state.pixels.reduce((a, b) => a + b, 0)")
    assert ink > 5, "the stroke left no ink on the canvas"
    for net in NETS:
        assert max(abs(a - b) for a, b in zip(drawn[net]["p"], blank[net]["p"])) > 0.01, net
        assert abs(sum(drawn[net]["p"]) - 1) < 1e-4


def test_dense_stack_grows_and_a_map_enlarges(live, record):
    live.pick(5)
    outputs = record["networks"]["densenet"]["outputs"]
    stack, k = outputs["denseblock1"][0], outputs["denseblock1.denselayer1"][0]
    shown = []
    for step in range(0, 4):
        live.js(f"(() => {{ const s = document.querySelector('[data-role=\"dense-step\"]'); "
                f"s.value = '{step}'; s.dispatchEvent(new Event('input')); }})()")
        shown.append(int(live.js("document.querySelector('[data-role=\"dense-maps\"]')"
                                 ".dataset.channels")))
    assert shown == [stack - 3 * k + step * k for step in range(4)]
    width = record["networks"]["resnet"]["outputs"]["layer1.0"][0]
    assert int(live.js("document.querySelector('[data-role=\"residual-maps\"]')"
                       ".dataset.channels")) == width
    live.page.locator('[data-role="dense-maps"]').click(position={"x": 5, "y": 5})
    assert live.page.locator('[data-role="zoom"]').is_visible()
    assert "map 1 of" in live.js("document.querySelector('[data-role=\"zoom-label\"]')"
                                 ".textContent")


def test_first_inference_time_and_page_weight(chromium, server, built_html, record):
    page = LivePage(chromium, f"{server}/{PAGE}")
    try:
        # performance.now() (ms since navigation start) at the load event and when the first
        # probabilities were rendered; afterLoad is their difference (negative: before load)
        timing = page.js("({first: window.dnetLive.firstProbabilitiesMs, "
                         "load: window.dnetLive.loadEventMs, "
                         "afterLoad: window.dnetLive.afterLoadEventMs, "
                         "phases: window.dnetLive.phases})")
        per_image = [page.js(f"window.dnetLive.pick({i}).then(() => "
                             "window.dnetLive.lastInferenceMs)") for i in range(1, 11)]
        own = [r for r in page.responses if r.url.endswith(PAGE) or "/_static/onnxruntime/" in r.url]
        own_bytes = sum(len(r.body()) for r in own)
        all_bytes = sum(len(r.body()) for r in page.responses if r.status < 300)
    finally:
        page.close()
    measured = dict(machine.environment("cpu"), command="pytest tests/test_live_page.py",
                    first_probabilities_ms=timing["first"],
                    load_event_ms=timing["load"],
                    first_probabilities_after_load_event_ms=timing["afterLoad"],
                    phases_ms=timing["phases"], per_image_ms_median=float(np.median(per_image)),
                    per_image_ms=per_image, page_own_bytes=own_bytes, page_all_bytes=all_bytes,
                    load_average=machine.load_average())
    machine.write_record(built_html.parent.parent / "live_page_timing.json", measured)
    print(json.dumps({k: v for k, v in measured.items() if k != "per_image_ms"}, indent=1))
    assert own_bytes < MAX_BYTES, f"the live page downloads {own_bytes:,} bytes"
    assert 0 < timing["first"] < LIMIT_MS


def test_works_from_file_url(chromium, built_html, record):
    page = LivePage(chromium, (built_html / PAGE).as_uri())
    try:
        assert not [u for u in page.requests if not u.startswith(("file:", "data:", "blob:"))]
        assert not page.errors and page.js("window.dnetLive.error || null") is None
        shown = page.pick(3)
        info = record["networks"]["densenet"]
        np.testing.assert_allclose(shown["densenet"]["p"], info["probabilities"][3], atol=1e-4)
    finally:
        page.close()
