"""The explorers display as live widgets in a real kernel, with ipywidgets 7.7.1 (Colab) and 8.x.

Each test executes a small notebook with nbclient, so the display path is the one a notebook
takes: a cell's last expression and ``display(...)``. ipywidgets 7.7.1 comes from a throwaway
folder made by ``make setup`` (``.venv/ipywidgets7``; ``DNET_IPYWIDGETS7`` overrides it):
``pip install --no-deps --target DIR ipywidgets==7.7.1 ipython_genutils==0.2.0
widgetsnbextension==3.6.10 jupyterlab_widgets==1.1.11``. Nothing is downloaded here.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
WIDGETS7 = Path(os.environ.get("DNET_IPYWIDGETS7", ROOT / ".venv" / "ipywidgets7"))
VIEW = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "import ipywidgets\nprint(ipywidgets.__version__)",
    "from dnet_lib import explorers\nexplorers.growth_rate_explorer()",
    "from IPython.display import display\ndisplay(explorers.compression_explorer('cifar_bc100'))",
    # find the displayed widgets by model_id in the kernel, then move the k slider there
    """import json, ipywidgets
module = ipywidgets.widgets.widget
registry = module._instances if hasattr(module, '_instances') else ipywidgets.Widget.widgets
kinds = {mid: type(w).__name__ for mid, w in list(registry.items())}
growth = [w for w in list(registry.values()) if isinstance(w, ipywidgets.VBox)
          and getattr(w.children[0], 'description', '') == 'growth rate k']
growth[0].children[0].value = 12
shown = growth[0].children[-1].outputs[0]['data']['text/html']
print(json.dumps({'kinds': kinds, 'k12': shown}))""",
]


def _run(tmp_path, monkeypatch, pythonpath: str | None) -> list:
    monkeypatch.delenv("DNET_BOOK_BUILD", raising=False)
    if pythonpath is not None:      # the kernel inherits this environment
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (pythonpath, os.environ.get("PYTHONPATH")) if p))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells


def _views(cell) -> list[dict]:
    return [o["data"][VIEW] for o in cell.outputs
            if o["output_type"] in ("execute_result", "display_data") and VIEW in o.get("data", {})]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == "stdout")


def _check(cells, version_prefix: str):
    version = _stdout(cells[0]).strip()
    assert version.startswith(version_prefix), f"the kernel imported ipywidgets {version}"
    for cell in cells[1:3]:
        errors = [o for o in cell.outputs if o["output_type"] == "error"]
        assert not errors, errors
        (view,) = _views(cell)
        assert view["version_major"] == 2 and view["model_id"]
        assert any("text/html" in o.get("data", {}) for o in cell.outputs)   # static fallback
    shown = [_views(c)[0]["model_id"] for c in cells[1:3]]
    state = json.loads(_stdout(cells[3]))
    assert [state["kinds"].get(i) for i in shown] == ["VBox", "VBox"], \
        "the views must point at the explorers' widgets in the kernel"
    # k 10 -> 12 recomputes in the kernel, which sends the page the new numbers
    data = re.search(r'data-role="data">(.*?)</script>', state["k12"], re.S).group(1)
    assert json.loads(data)["view"]["out_channels"] == 27


@pytest.mark.slow
def test_explorers_display_with_ipywidgets_8(tmp_path, monkeypatch):
    import ipywidgets
    assert ipywidgets.__version__.startswith("8.")
    cells = _run(tmp_path, monkeypatch, None)
    _check(cells, "8.")


@pytest.mark.slow
def test_explorers_display_with_ipywidgets_7(tmp_path, monkeypatch):
    if not (WIDGETS7 / "ipywidgets" / "__init__.py").exists():
        message = (f"ipywidgets 7.7.1 is not installed in {WIDGETS7}: run `make setup` (or pip "
                   "install --no-deps --target that folder, see this file's docstring)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cells = _run(tmp_path, monkeypatch, str(WIDGETS7))
    _check(cells, "7.7.1")
