"""Settings and the one smoke-mode book build shared by the tests.

* The tests never download: ``DNET_OFFLINE=1`` makes the data loaders raise a ``DataError``
  naming the set-up command (``make data``) instead; notebook kernels inherit it.
* ``smoke_book``: the book built once per session in smoke mode (``python -m dnet_tools.book
  build`` with ``DNET_SMOKE=1`` into ``_build/smoke``). That build is the one run of every
  notebook: ``test_notebooks.py`` checks its executed copies, ``test_book_browser.py`` its pages.
  ``DNET_BOOK_ROOT=/path/to/book`` tests another copy of the book instead of this repository.
* In parallel (pytest-xdist, ``make test`` runs ``-n 2 --dist loadgroup``) every test that uses
  one of the expensive shared fixtures (``GROUPED``: the smoke book, test_assign's graded
  course) is put in that fixture's ``xdist_group``, so one worker builds it while the others run
  the rest; a file lock shared by the workers makes sure the book build runs once in any case.
  Where xdist ignores the groups (pytest 9.2 with xdist 3.8, pytest-xdist#1386) the grouped
  tests fail at once, naming the fix, instead of building each group once per worker.
  Each worker (and every process it starts) computes on one thread (``OMP_NUM_THREADS=1``, unless
  set): two workers already fill two cores. Each worker also gets a temp folder of its own
  (``TMPDIR`` and ``tempfile.tempdir``), so scratch files under fixed names (smoke outputs,
  locks, the d2l data layout) never collide.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["DNET_OFFLINE"] = "1"
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # one thread per worker and per process it starts (kernels, the book build, scripts): with
    # 2 workers on 2 cores, 2 OpenMP threads each oversubscribe the cores and spin-wait
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
BOOK_ROOT = Path(os.environ.get("DNET_BOOK_ROOT", REPO)).resolve()
BUILD_LIMIT_S = 1200


@dataclass
class SmokeBuild:
    root: Path           # the book's sources
    out: Path            # --out: pages in out/_build/html, run notebooks in out/_build/jupyter_execute
    returncode: int
    log: str             # the build's stdout and stderr

    @property
    def html(self) -> Path:
        return self.out / "_build" / "html"

    def executed(self, entry: str) -> Path:
        """The executed copy of a toc entry's notebook."""
        return self.out / "_build" / "jupyter_execute" / f"{entry}.ipynb"

    def require_success(self) -> Path:
        """The html folder; fails the calling test unless the whole build succeeded."""
        if self.returncode != 0:
            pytest.fail(f"smoke-mode book build failed (exit {self.returncode}):\n{self.log[-8000:]}")
        return self.require_pages()

    def require_pages(self) -> Path:
        """The html folder, as long as the build wrote the pages (a failed notebook still gets
        its page; test_notebooks.py reports the failure)."""
        if not (self.html / "index.html").is_file():
            pytest.fail(f"the smoke-mode book build wrote no pages (exit {self.returncode}):\n"
                        f"{self.log[-8000:]}")
        return self.html


GROUPED = ("smoke_book", "graded")     # fixture names; each is built once, on one worker


@pytest.hookimpl(tryfirst=True)     # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config, items):
    """Keep the tests of each expensive fixture together on one xdist worker (``--dist
    loadgroup``)."""
    for item in items:
        for name in GROUPED:
            if name in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(name))
                break


@pytest.hookimpl(tryfirst=True)     # before the fixtures are built
def pytest_runtest_setup(item):
    """Under ``--dist loadgroup`` xdist tags a grouped test's node id with ``@group``; without
    the tag (pytest 9.2, pytest-xdist#1386) each worker would build the group's fixture."""
    if (os.environ.get("PYTEST_XDIST_WORKER") and item.config.getvalue("loadgroup")
            and item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rsplit("]", 1)[-1]):
        pytest.fail(f"--dist loadgroup ignores xdist_group on pytest {pytest.__version__} "
                    "(pytest-xdist#1386): install requirements.txt's pytest<9.2", pytrace=False)


def _shared_tmp(tmp_path_factory) -> Path:
    """A folder every xdist worker of this run shares (their base temp folders' parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def worker_tmpdir(tmp_path_factory):
    """Under xdist: this worker's own temp folder for everything that asks ``tempfile`` (and
    for subprocesses, through ``TMPDIR``); without xdist nothing changes."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield None
        return
    folder = tmp_path_factory.mktemp("tmp")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(folder)
    yield folder
    if saved[0] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved[0]
    tempfile.tempdir = saved[1]


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> SmokeBuild:
    """Build the book once per session in smoke mode (the execution cache makes a repeat fast).
    Under xdist the first worker to get here builds it and saves the exit code and log; any
    other waits on the lock and reads them."""
    from filelock import FileLock
    out = BOOK_ROOT / "_build" / "smoke"
    shared = _shared_tmp(tmp_path_factory)
    saved = shared / "smoke_book.json"
    with FileLock(str(shared / "smoke_book.lock")):
        if saved.is_file():
            build = json.loads(saved.read_text())
            return SmokeBuild(BOOK_ROOT, out, build["returncode"], build["log"])
        env = dict(os.environ, DNET_SMOKE="1")
        cmd = [sys.executable, "-m", "dnet_tools.book", "build", "--root", str(BOOK_ROOT),
               "--out", str(out), "--timeout", str(BUILD_LIMIT_S - 60)]
        proc = subprocess.run(cmd, cwd=BOOK_ROOT, env=env, capture_output=True, text=True,
                              timeout=BUILD_LIMIT_S)
        log = proc.stdout + proc.stderr
        saved.write_text(json.dumps({"returncode": proc.returncode, "log": log}))
        return SmokeBuild(BOOK_ROOT, out, proc.returncode, log)


@pytest.fixture(scope="session")
def playwright_instance():
    """One Playwright per test process, shared by every browser test: its sync API allows only
    one running instance per thread, and session-scoped browsers outlive their modules."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        yield playwright
