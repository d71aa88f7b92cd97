"""The built book in a real browser: offline, interactive without a kernel, math rendered.

The pages come from the session's smoke-mode book build (the ``smoke_book`` fixture in
conftest.py, which also runs every notebook once). They are served on 127.0.0.1 and opened
in the system's headless Chromium (Debian's ``chromium``; ``scripts/ensure_chromium.sh``),
driven by Playwright for Python with ``executable_path`` -- Playwright's own browser download
is never used. Without Chromium or Playwright the browser tests skip, except in CI
(``CI=true``), where they fail.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dnet_lib import arith, explorers, models
from dnet_tools import book

from conftest import BOOK_ROOT as ROOT

GROWTH_PAGE = "chapters/03_dense_blocks_growth_rate.html"
COMPRESSION_PAGE = "chapters/04_transitions_compression.html"
MATH_PAGE = "book/intro.html"

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # needs the session's smoke build


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_or_fail(message: str):
    if _in_ci():
        pytest.fail(message + " -- required in CI")
    pytest.skip(message)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    _skip_or_fail("headless Chromium is not installed (Debian: apt-get install chromium; "
                  "`make test` runs scripts/ensure_chromium.sh)")


# --------------------------------------------------------------------------- the built book
@pytest.fixture(scope="session")
def built_html(smoke_book) -> Path:
    """The folder with index.html of the session's smoke-mode build (notebooks that failed there
    fail in test_notebooks.py; their pages are still checked here)."""
    return smoke_book.require_pages()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(built_html):
    handler = functools.partial(_Quiet, directory=str(built_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- Chromium via Playwright
class Browser:
    """One page in headless Chromium that records every request and every failed response."""

    def __init__(self, page):
        self.page = page
        self.requested: list[str] = []
        self.missing: list[tuple[str, int]] = []
        page.on("request", lambda request: self.requested.append(request.url))
        page.on("response", self._record_failure)

    def _record_failure(self, response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.missing.append((response.url, response.status))

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (a returned promise is awaited)."""
        return self.page.evaluate(expression)

    def open(self, url: str, settle_s: float = 1.0) -> list[str]:
        """Load ``url``, wait for scripts and MathJax; return every URL the page requested."""
        self.requested, self.missing = [], []      # new lists: callers may keep the old ones
        self.page.goto(url, wait_until="load", timeout=60_000)
        self.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise "
                      "? MathJax.startup.promise.then(() => true) : true")
        time.sleep(settle_s)           # late requests (fonts, lazy scripts) still get recorded
        self.evaluate("1")             # let Playwright deliver the events that arrived meanwhile
        return list(self.requested)


@pytest.fixture(scope="session")
def browser(playwright_instance):
    executable = _chromium()
    chromium = playwright_instance.chromium.launch(
        executable_path=executable,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update"])
    page = chromium.new_page()
    page.set_default_timeout(60_000)
    yield Browser(page)
    chromium.close()


def _external(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


# --------------------------------------------------------------------------- static checks
def test_every_toc_entry_is_a_page(built_html):
    for entry in book.toc_entries(ROOT):
        assert (built_html / f"{entry}.html").is_file(), f"{entry} from _toc.yml has no page"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def test_no_broken_internal_links(built_html):
    # the book's pages, not the theme's template fragments under _static/
    pages = {p: _Links() for p in built_html.rglob("*.html")
             if p.relative_to(built_html).parts[0] not in ("_static", "_sources")}
    for page, parser in pages.items():
        parser.feed(page.read_text(encoding="utf-8"))
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(built_html)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and target in pages \
                    and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{page.relative_to(built_html)} -> {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:40])


def test_chapters_have_a_colab_launch_button(built_html):
    owner_repo = urlsplit(book.REPO_URL).path.strip("/")
    for path in book.chapter_notebooks(ROOT):
        rel = path.relative_to(ROOT).with_suffix("")
        page = (built_html / f"{rel.as_posix()}.html").read_text(encoding="utf-8")
        expected = (f"https://colab.research.google.com/github/{owner_repo}/blob/main/"
                    f"{rel.as_posix()}.ipynb")
        assert expected in page, f"{rel}: no Colab launch button linking {expected}"


# --------------------------------------------------------------------------- in the browser
def test_pages_make_no_external_requests(desktop_tour):
    offenders = {}
    for entry, visit in desktop_tour.items():
        page = f"{entry}.html"
        assert any(u.endswith(page) for u in visit["requested"]), f"{page} was not loaded"
        # other hosts, and local files that are missing (e.g. fonts the widget manager looks
        # for in the wrong folder)
        if _external(visit["requested"]) or visit["missing"]:
            offenders[page] = _external(visit["requested"]) + visit["missing"]
    assert not offenders, f"pages fetched from other hosts or missed local files: {offenders}"


def _growth_js(expression: str) -> str:
    return ("(() => { const root = [...document.querySelectorAll('.dnet-growth')].find(e => "
            "e.dataset.inChannels === '3' && e.dataset.numLayers === '2' && "
            "e.dataset.growthRate === '10'); if (!root) return null; "
            "const get = r => root.querySelector('[data-role=\"' + r + '\"]'); "
            f"{expression} }})()")


def test_growth_rate_slider_recomputes_without_kernel(server, browser):
    requested = browser.open(f"{server}/{GROWTH_PAGE}")
    assert not _external(requested), _external(requested)
    shown = browser.evaluate(_growth_js("return get('out-channels').textContent;"))
    assert shown is not None, (f"{GROWTH_PAGE} shows no growth_rate_explorer() with 3 input "
                               "channels, 2 layers and k = 10")
    assert shown == "23"
    after = browser.evaluate(_growth_js(
        "const k = get('growth-rate'); k.value = '12'; "
        "k.dispatchEvent(new Event('input', {bubbles: true})); "
        "return {out: get('out-channels').textContent, params: get('params').textContent, "
        "rows: [...get('layers').querySelectorAll('tr')].map(tr => "
        "[...tr.cells].map(td => td.textContent))};"))
    assert after["out"] == "27"
    expected = arith.dense_block_stats(3, 2, 12, 96, bottleneck=False)
    real = models.DenseBlock(2, 3, 12, bottleneck=False)
    assert real.out_channels == 27
    assert int(after["params"].replace(",", "")) == arith.count_params(real)
    assert [int(row[1]) for row in after["rows"]] == [r["in_channels"] for r in expected["layers"]]


def test_growth_rate_javascript_matches_python_over_a_grid(server, browser):
    browser.open(f"{server}/{GROWTH_PAGE}", settle_s=0.2)
    grid = [(c0, L, k, size, b) for c0 in (1, 3, 64, 256) for L in (1, 2, 6, 24)
            for k in (1, 10, 12, 32, 48) for size in (7, 96, 224) for b in (False, True)]
    got = browser.evaluate(
        f"JSON.stringify({json.dumps(grid)}.map(([c, L, k, s, b]) => "
        "window.dnetExplorers.blockStats(c, L, k, s, b)))")
    assert got is not None
    for setting, js in zip(grid, json.loads(got)):
        c0, L, k, size, bottleneck = setting
        py = arith.dense_block_stats(c0, L, k, size, bottleneck=bottleneck)
        for key in ("out_channels", "params", "output_values", "output_bytes"):
            assert js[key] == py[key], (setting, key)
        assert [r["params"] for r in js["layers"]] == [r["params"] for r in py["layers"]], setting


def test_compression_slider_shows_real_parameter_counts(server, browser):
    requested = browser.open(f"{server}/{COMPRESSION_PAGE}")
    assert not _external(requested), _external(requested)
    options = browser.evaluate(
        "(() => { const r = document.querySelector('.dnet-compression'); if (!r) return null; "
        "return [...r.querySelectorAll('option')].map(o => o.value); })()")
    assert options, f"{COMPRESSION_PAGE} shows no compression_explorer()"
    checked = 0
    for name in options[:2]:
        for bottleneck in (True, False):
            for theta in (0.5, 0.75, 1.0):
                shown = browser.evaluate(
                    "(() => { const r = document.querySelector('.dnet-compression'); "
                    "const get = x => r.querySelector('[data-role=\"' + x + '\"]'); "
                    f"get('architecture').value = '{name}'; "
                    "get('architecture').dispatchEvent(new Event('change')); "
                    f"get('bottleneck').checked = {'true' if bottleneck else 'false'}; "
                    "get('bottleneck').dispatchEvent(new Event('change')); "
                    f"get('theta').value = '{explorers.THETAS.index(theta)}'; "
                    "get('theta').dispatchEvent(new Event('input')); "
                    "return {params: get('params').textContent, theta: get('theta-value').textContent, "
                    "stages: get('stages').textContent, variant: get('variant').textContent}; })()")
                config = explorers.ARCHITECTURES[name].config.replace(bottleneck=bottleneck,
                                                                      compression=theta)
                net = models.DenseNet(**{f: getattr(config, f) for f in config.__dataclass_fields__})
                assert shown["theta"] == f"{theta:.2f}"
                assert int(shown["params"].replace(",", "")) == arith.count_params(net), \
                    (name, bottleneck, theta)
                assert [int(c) for c in re.findall(r"\d+", shown["stages"])] == net.stage_channels
                assert shown["variant"] == net.config.variant
                checked += 1
    assert checked >= 6


def test_mathjax_renders_offline(server, browser):
    requested = browser.open(f"{server}/{MATH_PAGE}")
    assert any("/_static/mathjax/tex-mml-chtml.js" in u for u in requested)
    assert not _external(requested), _external(requested)
    state = browser.evaluate(
        "(() => { const math = [...document.querySelectorAll('.math')]; return {"
        "math: math.length, rendered: document.querySelectorAll('mjx-container').length, "
        "raw: math.filter(e => !e.querySelector('mjx-container')).length, "
        "dollars: document.querySelector('article').innerText.includes('$$')}; })()")
    assert state["math"] > 0, f"{MATH_PAGE} has no math to check"
    assert state["rendered"] >= state["math"] and state["raw"] == 0, state
    assert not state["dollars"], "raw $$ left on the page"


# --------------------------------------------------------------------------- no sideways scrolling
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
_WIDTHS = ("(() => { const doc = document.scrollingElement || document.documentElement;"
           " const wide = [...document.querySelectorAll('article *')].filter(e => {"
           "   const r = e.getBoundingClientRect();"
           "   if (r.width === 0 || r.right <= window.innerWidth + 1) return false;"
           "   for (let p = e.parentElement; p; p = p.parentElement) {"
           "     const s = getComputedStyle(p).overflowX;"
           "     if (s === 'auto' || s === 'scroll' || s === 'hidden') return false; }"
           "   return true; }).slice(0, 5).map(e => e.tagName + '.' + e.className);"
           " return {scroll: doc.scrollWidth, view: window.innerWidth, wide}; })()")


def _chapter_pages() -> list[str]:
    return [e for e in book.toc_entries(ROOT) if e.startswith("chapters/")]


def _visit(browser, server: str, entries: list[str], viewport: str, settle_s: float) -> dict:
    """Each entry's page opened at ``viewport``: entry -> what it requested, which local files
    were missing, and how wide its body is."""
    browser.page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS[viewport])))
    visits = {}
    for entry in entries:
        requested = browser.open(f"{server}/{entry}.html", settle_s=settle_s)
        visits[entry] = {"requested": requested, "missing": list(browser.missing),
                         "widths": browser.evaluate(_WIDTHS)}
    return visits


@pytest.fixture(scope="session")
def desktop_tour(built_html, server, browser) -> dict[str, dict]:
    """Every page of the toc opened once at the desktop size; two tests read it."""
    return _visit(browser, server, book.toc_entries(ROOT), "desktop", settle_s=0.3)


def _overflowing(state: dict) -> bool:
    return state["scroll"] > state["view"] + 1 or bool(state["wide"])


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_page_body_never_scrolls_sideways(viewport, request, server, browser):
    """At 1280x800 and on a 390x844 phone the page body fits the window on every chapter:
    code blocks, long display math and wide outputs scroll inside their own boxes."""
    width = VIEWPORTS[viewport][0]
    if viewport == "desktop":       # measured on the desktop tour
        visits = request.getfixturevalue("desktop_tour")
    else:
        try:
            visits = _visit(browser, server, _chapter_pages(), viewport, settle_s=0.2)
        finally:
            browser.page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS["desktop"])))
    overflowing = {e: visits[e]["widths"] for e in _chapter_pages()
                   if _overflowing(visits[e]["widths"])}
    assert not overflowing, f"pages wider than the {width} px window: {overflowing}"
