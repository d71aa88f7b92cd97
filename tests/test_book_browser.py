"""The built book in a real browser: offline, interactive without a kernel, math rendered.

A session fixture builds the book in smoke mode (``python -m dnet_tools.book build`` with
``DNET_SMOKE=1``, into ``_build/smoke``; the execution cache makes a repeat fast), serves
``_build/smoke/_build/html`` on 127.0.0.1 and drives headless Chromium over the DevTools
protocol. Without Chromium the browser tests skip, except in CI (``CI=true``), where they fail.

``DNET_BOOK_ROOT=/path/to/book`` tests another copy of the book (e.g. a scratch copy with stub
chapters) instead of this repository.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dnet_lib import explorers, models
from dnet_tools import book

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("DNET_BOOK_ROOT", REPO)).resolve()
BUILD_LIMIT_S = 1200
GROWTH_PAGE = "chapters/03_dense_blocks_growth_rate.html"
COMPRESSION_PAGE = "chapters/04_transitions_compression.html"
MATH_PAGE = "book/intro.html"

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # one smoke build per session: ~30-80 s


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    message = ("headless Chromium is not installed (Debian: apt-get install chromium; "
               "`make test` runs scripts/ensure_chromium.sh)")
    if _in_ci():
        pytest.fail(message + " -- required in CI")
    pytest.skip(message)


# --------------------------------------------------------------------------- the built book
@pytest.fixture(scope="session")
def built_html() -> Path:
    """Build the book once per session in smoke mode; returns the folder with index.html."""
    out = ROOT / "_build" / "smoke"
    env = dict(os.environ, DNET_SMOKE="1")
    cmd = [sys.executable, "-m", "dnet_tools.book", "build", "--root", str(ROOT), "--out", str(out),
           "--timeout", str(BUILD_LIMIT_S - 60)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=BUILD_LIMIT_S)
    if proc.returncode != 0:
        pytest.fail(f"smoke-mode book build failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    html_dir = out / "_build" / "html"
    assert (html_dir / "index.html").is_file()
    return html_dir


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


# --------------------------------------------------------------------------- Chromium over CDP
class Browser:
    """Just enough of the Chrome DevTools protocol: navigate, evaluate, record requests."""

    def __init__(self, executable: str):
        import websocket

        self.profile = tempfile.mkdtemp(prefix="dnet-chromium-")
        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--disable-component-update",
             "--disable-sync", "--disable-default-apps", "--disable-extensions",
             "--disable-dev-shm-usage", "--mute-audio", "--remote-allow-origins=*",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = self._devtools_port()
        deadline = time.monotonic() + 30
        page = None
        while page is None and time.monotonic() < deadline:
            targets = json.loads(_http_get(f"http://127.0.0.1:{port}/json/list"))
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page is None:
                time.sleep(0.2)
        if page is None:
            raise RuntimeError("Chromium opened no page target")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        self.call("Network.enable")
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"Chromium exited with {self.proc.returncode}")
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                # keep draining stderr so Chromium never blocks on a full pipe
                threading.Thread(target=lambda: [None for _ in self.proc.stderr],
                                 daemon=True).start()
                return int(match.group(1))
        raise RuntimeError("Chromium did not report its DevTools port within 60 s")

    def call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        self.ws.settimeout(timeout)
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("method") == method:
                return message
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no {method} within {timeout} s")

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": await_promise})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, settle_s: float = 1.0) -> list[str]:
        """Load ``url``, wait for scripts and MathJax; return every URL the page requested."""
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout=60)
        self.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise "
                      "? MathJax.startup.promise.then(() => true) : true", await_promise=True)
        time.sleep(settle_s)           # late requests (fonts, lazy scripts) still get recorded
        self.evaluate("1")             # flush events that arrived meanwhile
        self.missing = [(e["params"]["response"]["url"], e["params"]["response"]["status"])
                        for e in self.events if e["method"] == "Network.responseReceived"
                        and e["params"]["response"]["status"] >= 400
                        and not e["params"]["response"]["url"].endswith("/favicon.ico")]
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def _http_get(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as response:     # loopback only: Chromium's DevTools endpoint
        return response.read().decode()


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    b = Browser(executable)
    yield b
    b.close()


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
    owner_repo = urlsplit(book.runtime.REPO_URL).path.strip("/")
    for path in book.chapter_notebooks(ROOT):
        rel = path.relative_to(ROOT).with_suffix("")
        page = (built_html / f"{rel.as_posix()}.html").read_text(encoding="utf-8")
        expected = (f"https://colab.research.google.com/github/{owner_repo}/blob/main/"
                    f"{rel.as_posix()}.ipynb")
        assert expected in page, f"{rel}: no Colab launch button linking {expected}"


# --------------------------------------------------------------------------- in the browser
def test_pages_make_no_external_requests(built_html, server, browser):
    pages = [f"{entry}.html" for entry in book.toc_entries(ROOT)]
    offenders = {}
    for page in pages:
        requested = browser.open(f"{server}/{page}", settle_s=0.3)
        assert any(u.endswith(page) for u in requested), f"{page} was not loaded"
        if _external(requested):
            offenders[page] = _external(requested)
        if browser.missing:        # e.g. fonts the widget manager looks for in the wrong folder
            offenders[page] = browser.missing
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
    expected = explorers.dense_block_stats(3, 2, 12, 96, False)
    real = models.DenseBlock(2, 3, 12, bottleneck=False)
    assert real.out_channels == 27
    assert int(after["params"].replace(",", "")) == sum(p.numel() for p in real.parameters())
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
        py = explorers.dense_block_stats(*setting)
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
                net = models.DenseNet(**explorers.ARCHITECTURES[name].model_kwargs(bottleneck, theta))
                assert shown["theta"] == f"{theta:.2f}"
                assert int(shown["params"].replace(",", "")) == \
                    sum(p.numel() for p in net.parameters()), (name, bottleneck, theta)
                assert [int(c) for c in re.findall(r"\d+", shown["stages"])] == net.stage_channels
                assert shown["variant"] == explorers.variant_name(bottleneck, theta)
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
