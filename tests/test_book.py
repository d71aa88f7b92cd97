"""Book configuration, table of contents, vendored JavaScript and the Colab setup cell."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from dnet_lib import runtime
from dnet_tools import book

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


# Where the repository's address is used: pip installs, Colab links and clones of it.
_REPO_USES = re.compile(r"git\+https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?['\"\s@]"
                        r"|colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/"
                        r"([^)\s\"'#?]+)"
                        r"|git clone https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?[\s&;]")
_SKIP = {".git", ".venv", "_build", "_vendor", "data", "build", "node_modules", ".pytest_cache"}


def _text_files():
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in _SKIP and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith((".py", ".md", ".ipynb", ".yml", ".yaml", ".toml", ".sh", ".txt")):
                yield Path(folder, name)


def test_repo_url_is_one_setting_and_every_use_agrees():
    owner_repo = book.REPO_URL.removeprefix("https://github.com/")
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", owner_repo), \
        f"REPO_URL must be https://github.com/OWNER/REPO (Colab opens github/...): {book.REPO_URL}"
    # the book's launch and repository buttons: filled in by the build from REPO_URL
    assert "url" not in (CONFIG.get("repository") or {}), "set REPO_URL, not repository.url"
    effective = book.effective_config(ROOT, 60)
    assert effective["repository"]["url"] == book.REPO_URL
    branch = effective["repository"]["branch"]
    # every Colab setup cell, Colab badge and clone command in the repository
    uses, wrong, dangling = 0, [], []
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace").replace('\\"', '"')
        for match in _REPO_USES.finditer(text):
            pip, colab, colab_branch, colab_path, clone = match.groups()
            used = pip or colab or clone
            uses += 1
            if used != owner_repo or (colab and colab_branch != branch):
                wrong.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
            if colab and not (ROOT / colab_path).is_file() and path.suffix != ".py":
                dangling.append(f"{path.relative_to(ROOT)}: {colab_path}")
    assert not wrong, f"places that disagree with REPO_URL {book.REPO_URL}:\n" + "\n".join(wrong)
    assert not dangling, "Colab links to notebooks that do not exist:\n" + "\n".join(dangling)
    assert uses >= len(book.chapter_notebooks(ROOT)), f"only {uses} uses of the repository URL found"
    assert f"git+{book.REPO_URL}" in book.colab_cell()


def test_config_essentials():
    assert str(CONFIG["copyright"]) == "2026"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["allow_errors"] is False
    assert 0 < execute["timeout"] <= 1800
    assert CONFIG["only_build_toc_files"] is True


def test_vendored_javascript_is_wired_and_small():
    sphinx = CONFIG["sphinx"]["config"]
    assert sphinx["html_static_path"] == ["_vendor"]
    vendor = ROOT / "_vendor"
    assert (vendor / sphinx["mathjax_path"]).is_file()
    for script in sphinx["nb_ipywidgets_js"]:
        assert (vendor / script).is_file(), script
    assert list(sphinx["nb_ipywidgets_js"])[0] == "widgets/require.js"   # require.js loads first
    assert (vendor / "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    # ONNX Runtime Web (the live page's only download of its own) has a budget of its own
    runtime = vendor / "onnxruntime"
    total = sum(p.stat().st_size for p in vendor.rglob("*")
                if p.is_file() and runtime not in p.parents)
    assert total < 8 * 2 ** 20, f"_vendor/ is {total / 2 ** 20:.1f} MiB besides onnxruntime/"
    ort = sum(p.stat().st_size for p in runtime.rglob("*") if p.is_file())
    assert (runtime / "LICENSE").is_file() and ort < 6 * 2 ** 20, f"onnxruntime/: {ort:,} bytes"
    # nothing under _static/: Jupyter Book 1 would add every .js there to every page
    assert not list(ROOT.glob("_static/**/*.js"))


def test_every_toc_entry_exists():
    _, missing = book.toc_paths(ROOT)
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_toc_entries_are_parsed_in_order():
    entries = book.toc_entries(ROOT)
    assert entries[0] == "book/intro"
    assert "chapters/03_dense_blocks_growth_rate" in entries
    assert "book/references" in entries and len(entries) == len(set(entries))


def test_every_chapter_starts_with_the_current_colab_cell():
    stale = book.stale_notebooks(ROOT)
    assert not stale, ("stale Colab setup cell (run `python -m dnet_tools.book sync`): "
                       + ", ".join(str(p.relative_to(ROOT)) for p in stale))


def test_check_command_agrees():
    proc = subprocess.run([sys.executable, "-m", "dnet_tools.book", "check", "--root", str(ROOT)],
                          capture_output=True, text=True, timeout=120)
    _, missing = book.toc_paths(ROOT)
    expected_ok = not missing and not book.stale_notebooks(ROOT)
    assert (proc.returncode == 0) == expected_ok, proc.stdout + proc.stderr


def test_colab_cell_installs_without_touching_torch_or_numpy():
    source = book.colab_cell()
    assert "--no-deps" in source and "d2l==1.0.3" in source
    for pinned in ("torch", "numpy", "torchvision", "--upgrade", "-U "):
        assert f"'{pinned}" not in source and f" {pinned}==" not in source
    compile(source, "<colab-setup>", "exec")      # plain Python: no shell or magics


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(book.colab_cell(), {})
    assert calls == []


def test_colab_cell_in_colab_runs_one_no_deps_pip_install(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **k: calls.append((args, k)))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(book.colab_cell(), {})
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args[:4] == [sys.executable, "-m", "pip", "install"] and kwargs.get("check") is True
    assert "--no-deps" in args
    assert f"git+{book.REPO_URL}" in args and "d2l==1.0.3" in args
    packages = [a for a in args[4:] if not a.startswith("-")]
    assert packages == [f"git+{book.REPO_URL}", "d2l==1.0.3"]


def _fake_book(tmp_path: Path) -> Path:
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n- file: ch/a\n- file: ch/b\n- file: ch/c\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "ch").mkdir()
    placeholder = nbformat.v4.new_code_cell("# colab-setup")
    placeholder.metadata["tags"] = ["colab-setup"]
    placeholder.id = "keep-me"
    nbformat.write(nbformat.v4.new_notebook(cells=[placeholder, nbformat.v4.new_markdown_cell("# A")]),
                   tmp_path / "ch" / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# B")]),
                   tmp_path / "ch" / "b.ipynb")
    return tmp_path


def test_sync_replaces_placeholder_inserts_and_is_idempotent(tmp_path):
    root = _fake_book(tmp_path)
    assert book.toc_paths(root)[1] == ["ch/c"]
    assert len(book.stale_notebooks(root)) == 2
    assert book.main(["check", "--root", str(root)]) == 1
    assert book.main(["sync", "--root", str(root)]) == 0
    a = nbformat.read(root / "ch" / "a.ipynb", as_version=4)
    b = nbformat.read(root / "ch" / "b.ipynb", as_version=4)
    assert len(a.cells) == 2 and a.cells[0].id == "keep-me"     # placeholder replaced in place
    assert len(b.cells) == 2 and b.cells[1].source == "# B"     # cell inserted before the rest
    for nb in (a, b):
        assert nb.cells[0].source == book.colab_cell()
        assert {"colab-setup", "hide-input"} <= set(nb.cells[0].metadata["tags"])
    assert book.stale_notebooks(root) == []
    before = (root / "ch" / "a.ipynb").read_bytes()
    assert book.sync_notebook(root / "ch" / "a.ipynb") is False
    assert (root / "ch" / "a.ipynb").read_bytes() == before
    assert book.main(["check", "--root", str(root)]) == 1         # ch/c is still missing
    (root / "ch" / "c.md").write_text("# C\n")
    assert book.main(["check", "--root", str(root)]) == 0
    a.cells[0].source += "\n# edited by hand"
    nbformat.write(a, root / "ch" / "a.ipynb")
    assert book.stale_notebooks(root) == [root / "ch" / "a.ipynb"]


def test_build_rejects_bad_limits(tmp_path):
    root = _fake_book(tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        book.build(root, timeout=0)
    with pytest.raises(ValueError, match="execute_timeout"):
        book.build(root, execute_timeout=0)
    with pytest.raises(ValueError, match="root"):
        book.find_root(Path("/"))


def test_smoke_build_has_a_short_cell_timeout():
    # a rare kernel stall waits exactly execute.timeout: keep it short where CI runs
    assert book.EXECUTE_TIMEOUT["smoke"] <= 180
    assert book.BUILD_TIMEOUT["smoke"] <= 1200


def test_retraining_builds_give_the_training_cell_time(monkeypatch):
    monkeypatch.delenv("DNET_RETRAIN", raising=False)
    assert book.cell_timeout("cpu") == book.EXECUTE_TIMEOUT["cpu"]
    monkeypatch.setenv("DNET_RETRAIN", "1")
    # chapter 6 trains six reference runs in one cell: ~12 minutes on two idle cores, more elsewhere
    assert book.cell_timeout("cpu") >= 1800 and book.cell_timeout("gpu") >= 1800
    assert book.cell_timeout("smoke") == book.EXECUTE_TIMEOUT["smoke"]


def test_library_fingerprint_tracks_the_source(tmp_path):
    import dnet_lib

    assert book.library_fingerprint() == book.library_fingerprint(Path(dnet_lib.__file__).parent)
    copy = tmp_path / "dnet_lib"
    shutil.copytree(Path(dnet_lib.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = book.library_fingerprint(copy)
    assert len(before) == 64 and before == book.library_fingerprint(copy)
    (copy / "runtime.py").write_text((copy / "runtime.py").read_text() + "\n# edited\n")
    assert book.library_fingerprint(copy) != before
    edited = book.library_fingerprint(copy)
    (copy / "live.js").write_text((copy / "live.js").read_text() + "\n// edited\n")
    assert book.library_fingerprint(copy) != edited      # page scripts count too
    edited = book.library_fingerprint(copy)
    (copy / "live.html").write_text((copy / "live.html").read_text() + "\n<!-- edited -->\n")
    assert book.library_fingerprint(copy) != edited      # and page templates


# --------------------------------------------------------------------------- README
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_readme_gives_two_commands_for_a_fresh_machine():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make book", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("book", "test"):     # both run the data set-up first
        assert re.search(rf"^{target}: data$", makefile, re.M), target
    assert re.search(r"^data: setup\n\t\$\(PY\) -m dnet_lib\.data$", makefile, re.M)


def test_readme_example_runs():
    block = _readme_section("A short tour").split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    shape = namespace["block"](__import__("torch").rand(4, 3, 8, 8)).shape
    assert f"torch.Size({list(shape)})" in block       # the shape the comment promises


def test_a_failed_build_is_not_forgotten_by_the_next(tmp_path):
    # Sphinx does not read an unchanged page again, so a notebook that failed would neither run
    # nor be reported by the next build: its reports and Sphinx's state must go.
    build_dir = tmp_path / "_build"
    (build_dir / "html" / "reports" / "chapters").mkdir(parents=True)
    (build_dir / "html" / "reports" / "chapters" / "x.err.log").write_text("Traceback")
    (build_dir / ".doctrees").mkdir()
    (build_dir / ".jupyter_cache").mkdir()
    (build_dir / ".dnet_lib_fingerprint").write_text(book.library_fingerprint() + "\n")
    book._invalidate_stale_cache(build_dir)
    assert not (build_dir / "html" / "reports").exists() and not (build_dir / ".doctrees").exists()
    assert (build_dir / ".jupyter_cache").is_dir()       # notebooks that ran fine are not run again


def test_pages_drop_nbgrader_marker_lines_only():
    from dnet_tools import book_pages

    answer = ("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n")
    assert book_pages.page_code(answer) == "def f(x):\n    return x + 1"
    plain = "x = 1  # BEGIN SOLUTION is only a comment here\n"
    assert book_pages.page_code(plain) == plain
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(answer),
                                         nbformat.v4.new_markdown_cell("### BEGIN SOLUTION")])
    shown = nbformat.reads(book_pages.page_notebook(nbformat.writes(nb)), as_version=4)
    assert shown.cells[0].source == "def f(x):\n    return x + 1"
    assert shown.cells[1].source == "### BEGIN SOLUTION"          # markdown is left alone
    assert "dnet_tools.book_pages" in CONFIG["sphinx"]["extra_extensions"]


def test_mode_note_names_mode_device_and_versions(monkeypatch):
    import torch

    monkeypatch.setenv("DNET_SMOKE", "1")
    note = runtime.mode_note(torch.device("cpu"))
    assert "**smoke mode**" in note and "mode=smoke device=cpu" in note
    assert torch.__version__ in note
