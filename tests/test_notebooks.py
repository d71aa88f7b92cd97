"""Every notebook in _toc.yml runs top to bottom in smoke mode without an error.

Each notebook runs in its own process (``python -m dnet_tools.book execute``: nbclient, a fresh
``python3`` kernel, cwd = the notebook's folder, ``DNET_SMOKE=1``) under a wall-clock limit, so
a hanging kernel fails its own test instead of stalling the suite.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dnet_tools import book

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT_S = 120          # smoke-mode cells take seconds
NOTEBOOK_TIMEOUT_S = 300      # the whole notebook, kernel start included


def _notebook_entries() -> list[str]:
    """toc entries that are notebooks (or should be: no .md page of that name exists)."""
    return [e for e in book.toc_entries(ROOT) if not (ROOT / f"{e}.md").is_file()]


@pytest.mark.parametrize("entry", _notebook_entries())
def test_notebook_runs_in_smoke_mode(entry):
    path = ROOT / f"{entry}.ipynb"
    assert path.is_file(), f"{entry} is listed in _toc.yml but {path.name} does not exist"
    env = dict(os.environ, DNET_SMOKE="1")
    env.pop("DNET_BOOK_BUILD", None)
    # own process group, so a timeout also stops the kernel the runner started
    proc = subprocess.Popen(
        [sys.executable, "-m", "dnet_tools.book", "execute", str(path),
         "--cell-timeout", str(CELL_TIMEOUT_S)],
        cwd=path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=NOTEBOOK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{entry} did not finish within {NOTEBOOK_TIMEOUT_S} s in smoke mode")
    assert proc.returncode == 0, f"{entry} failed in smoke mode:\n{stdout[-4000:]}\n{stderr[-8000:]}"
    assert "mode=smoke" in stdout
