"""Settings and the one smoke-mode book build shared by the tests.

* The tests never download: ``DNET_OFFLINE=1`` makes the data loaders raise a ``DataError``
  naming the set-up command (``make data``) instead; notebook kernels inherit it.
* ``smoke_book``: the book built once per session in smoke mode (``python -m dnet_tools.book
  build`` with ``DNET_SMOKE=1`` into ``_build/smoke``). That build is the one run of every
  notebook: ``test_notebooks.py`` checks its executed copies, ``test_book_browser.py`` its pages.
  ``DNET_BOOK_ROOT=/path/to/book`` tests another copy of the book instead of this repository.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["DNET_OFFLINE"] = "1"

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


@pytest.fixture(scope="session")
def smoke_book() -> SmokeBuild:
    """Build the book once per session in smoke mode (the execution cache makes a repeat fast)."""
    out = BOOK_ROOT / "_build" / "smoke"
    env = dict(os.environ, DNET_SMOKE="1")
    cmd = [sys.executable, "-m", "dnet_tools.book", "build", "--root", str(BOOK_ROOT),
           "--out", str(out), "--timeout", str(BUILD_LIMIT_S - 60)]
    proc = subprocess.run(cmd, cwd=BOOK_ROOT, env=env, capture_output=True, text=True,
                          timeout=BUILD_LIMIT_S)
    return SmokeBuild(BOOK_ROOT, out, proc.returncode, proc.stdout + proc.stderr)
