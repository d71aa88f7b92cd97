"""Every notebook in _toc.yml ran top to bottom in smoke mode without an error.

The notebooks are executed once per test session, by the smoke-mode book build (the
``smoke_book`` fixture in conftest.py: Jupyter Book with ``allow_errors: false``, a per-cell
timeout of ``dnet_tools.book.EXECUTE_TIMEOUT["smoke"]`` seconds and a wall-clock limit for the
whole build). These tests read what that build executed; the browser tests read its pages.
To run one notebook on its own: ``DNET_SMOKE=1 python -m dnet_tools.book execute NOTEBOOK``.
"""
from __future__ import annotations

import nbformat
import pytest

from dnet_tools import book, book_pages

from conftest import BOOK_ROOT

pytestmark = pytest.mark.slow        # the smoke build runs every notebook: minutes on 2 cores


def _notebook_entries() -> list[str]:
    """toc entries that are notebooks (or should be: no .md page of that name exists)."""
    return [e for e in book.toc_entries(BOOK_ROOT) if not (BOOK_ROOT / f"{e}.md").is_file()]


def test_smoke_build_succeeds(smoke_book):
    smoke_book.require_success()
    assert "mode=smoke" in smoke_book.log          # dnet_tools.book prints the mode it built in


@pytest.mark.parametrize("entry", _notebook_entries())
def test_notebook_ran_in_smoke_mode(entry, smoke_book):
    source = BOOK_ROOT / f"{entry}.ipynb"
    assert source.is_file(), f"{entry} is listed in _toc.yml but {source.name} does not exist"
    report = smoke_book.html / "reports" / f"{entry}.err.log"
    assert not report.exists(), f"{entry} failed in the smoke build:\n{report.read_text()[-6000:]}"
    executed = smoke_book.executed(entry)
    assert executed.is_file(), f"the smoke build did not execute {entry}:\n{smoke_book.log[-4000:]}"
    nb = nbformat.read(executed, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code and all(c.get("execution_count") for c in code), f"{entry}: cells left unexecuted"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{entry}: {errors[0].ename}: {errors[0].evalue}"
    # stream text, or any mime type of a display (glue stores its value under a prefixed one)
    texts = [o.get("text", "") if o.output_type == "stream"
             else " ".join(map(str, o.get("data", {}).values())) for c in code for o in c.outputs]
    # a printed describe(), or mode_note() glued into the page (glue outputs of removed cells
    # are not kept in the executed copy, so look at the page itself)
    page = (smoke_book.html / f"{entry}.html").read_text(encoding="utf-8")
    assert any("mode=smoke" in t for t in texts) or "mode=smoke" in page, \
        f"{entry} never showed runtime.describe() or runtime.mode_note()"
    # the executed copy is the notebook in the toc (as its page shows it), not a stale one
    assert [c.source for c in code] == [
        book_pages.page_code(c.source) for c in nbformat.read(source, as_version=4).cells
        if c.cell_type == "code" and c.source.strip()]


@pytest.mark.parametrize("chapter", ["06_training_head_to_head", "08_what_densenet_learns", "09_beyond"])
def test_retrain_switch_trains_instead_of_loading(chapter, monkeypatch):
    """DNET_RETRAIN=1 makes the chapter train its runs (tiny, in smoke mode) and analyse those."""
    monkeypatch.setenv("DNET_SMOKE", "1")
    monkeypatch.setenv("DNET_RETRAIN", "1")
    nb = book.execute_notebook(BOOK_ROOT / "chapters" / f"{chapter}.ipynb",
                               cell_timeout=book.EXECUTE_TIMEOUT["smoke"])
    text = "\n".join(o.get("text", "") + " ".join(map(str, o.get("data", {}).values()))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "by `reference.retrain('smoke')`" in text      # provenance of the fresh record
