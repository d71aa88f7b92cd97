"""What a book page shows of a notebook: a Sphinx extension for the Jupyter Book build.

The exercise notebooks are the graders' masters, so their answer cells keep nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines (and test cells ``### BEGIN HIDDEN TESTS``).
Tags can hide a whole cell but not a line, so this extension drops those marker lines from the
notebook Sphinx reads (``source-read``); the file on disk, nbgrader and the tests see it whole.
Wired in by ``_config.yml`` (``sphinx.extra_extensions``).
"""
from __future__ import annotations

import json
import re

MARKER = re.compile(r"^[ \t]*### (BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)[ \t]*$")


def page_code(source: str) -> str:
    """``source`` without nbgrader's marker lines."""
    lines = source.splitlines(keepends=True)
    kept = [line for line in lines if not MARKER.match(line.rstrip("\r\n"))]
    return "".join(kept).rstrip("\n") if len(kept) != len(lines) else source


def page_notebook(text: str) -> str:
    """The JSON of a notebook as its page shows it (marker lines dropped from code cells)."""
    nb = json.loads(text)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        new = page_code(source)
        if new != source:
            cell["source"] = new
            changed = True
    return json.dumps(nb, indent=1, ensure_ascii=False) if changed else text


def _on_source_read(app, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = page_notebook(source[0])


def setup(app):
    app.connect("source-read", _on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
