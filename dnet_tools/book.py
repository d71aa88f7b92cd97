"""Build the book and keep every chapter's Colab setup cell current.

    python -m dnet_tools.book build [--out DIR] [--timeout SECONDS] [--no-strict]
    python -m dnet_tools.book sync     # stamp the Colab setup cell into every chapter in _toc.yml
    python -m dnet_tools.book check    # exit 1 if a chapter is missing or its first cell is stale
    python -m dnet_tools.book execute NOTEBOOK [--cell-timeout S]   # run one notebook, keep no outputs

``build`` runs ``jupyter-book build`` with ``-W --keep-going --builder html``: warnings are errors,
every notebook is executed (with the execution cache), and the whole run has a wall-clock limit.
Smoke mode (``DNET_SMOKE=1``) builds into ``_build/smoke/_build/html`` with its own execution
cache, so smoke outputs never end up in the reader's ``_build/html``. The execution cache only
knows the notebooks' code, so the build empties it when ``dnet_lib``'s source has changed.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from dnet_lib import reference, runtime
from dnet_lib.files import atomic_write_text

# The one setting behind the chapters' Colab setup cells, the book's Colab and repository
# buttons and the student notebooks' badges: after changing it, run
# `python -m dnet_tools.book sync` (tests/test_book.py checks that every place agrees).
REPO_URL = "https://github.com/densenet-book/dnet-book"
COLAB_TAG = "colab-setup"
HIDE_TAG = "hide-input"     # the HTML page folds the setup code away; the reader can unfold it
D2L_VERSION = "1.0.3"

# Seconds per cell (jupyter-book's execute.timeout). A rare kernel stall waits exactly this long,
# so it stays close to what the slowest cell of each mode needs.
EXECUTE_TIMEOUT = {"smoke": 120, "cpu": 900, "gpu": 900}
# Seconds for the whole build.
BUILD_TIMEOUT = {"smoke": 900, "cpu": 3 * 3600, "gpu": 3 * 3600}
# With DNET_RETRAIN=1 (outside smoke mode) one cell trains a chapter's runs: ~12 min on 2 cores.
RETRAIN_EXECUTE_TIMEOUT = 3600


# --------------------------------------------------------------------------- Colab cell
def colab_cell() -> str:
    """Source of the first cell of every chapter: installs dnet_lib and d2l, only in Colab.

    ``--no-deps`` keeps Colab's own torch, torchvision and numpy: dnet_lib needs nothing Colab
    lacks, and d2l's pins (numpy 1.23.5, ...) would downgrade numpy.
    """
    return (
        "# Colab setup: in Google Colab, install dnet_lib (this book's library) and d2l\n"
        "# without their dependencies, so Colab's torch and numpy stay as they are.\n"
        "# Elsewhere: nothing.\n"
        "import sys\n"
        "if 'google.colab' in sys.modules:\n"
        "    import importlib, subprocess\n"
        "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',\n"
        f"                    'git+{REPO_URL}',\n"
        f"                    'd2l=={D2L_VERSION}'], check=True)\n"
        "    importlib.invalidate_caches()"
    )


def find_root(start: Path | None = None) -> Path:
    """The book's root: the nearest folder (from ``start`` upwards) holding ``_toc.yml``."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise ValueError(f"root must be a folder with _toc.yml and _config.yml (or inside one), "
                     f"got {str(start)!r}")


def toc_entries(root: Path) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (root first), without suffix, in order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    entries = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in toc.items() if k != "root"})
    return entries


def toc_paths(root: Path) -> tuple[list[Path], list[str]]:
    """(existing source files of the toc entries, entries with no .ipynb or .md file)."""
    found, missing = [], []
    for entry in toc_entries(root):
        for suffix in (".ipynb", ".md"):
            path = root / (entry + suffix)
            if path.is_file():
                found.append(path)
                break
        else:
            missing.append(entry)
    return found, missing


def chapter_notebooks(root: Path) -> list[Path]:
    """The notebooks listed in ``_toc.yml`` (chapters and exercises) that exist."""
    return [p for p in toc_paths(root)[0] if p.suffix == ".ipynb"]


def _setup_cell_is_current(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return (cell.get("cell_type") == "code" and cell.get("source") == colab_cell()
            and COLAB_TAG in tags and HIDE_TAG in tags and not cell.get("outputs"))


def sync_notebook(path: Path) -> bool:
    """Make the first cell of ``path`` the current Colab setup cell. True if the file changed.

    A first cell tagged ``colab-setup`` (a placeholder or an old version) is replaced in place;
    otherwise the setup cell is inserted before the first cell.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if nb.cells and _setup_cell_is_current(nb.cells[0]):
        return False
    new = nbformat.v4.new_code_cell(colab_cell())
    new.metadata["tags"] = [COLAB_TAG, HIDE_TAG]
    first = nb.cells[0] if nb.cells else None
    if first is not None and COLAB_TAG in first.get("metadata", {}).get("tags", []):
        if "id" in first:
            new["id"] = first["id"]
        nb.cells[0] = new
    else:
        nb.cells.insert(0, new)
    atomic_write_text(path, nbformat.writes(nb))
    return True


def stale_notebooks(root: Path) -> list[Path]:
    """Chapter notebooks whose first cell is not the current Colab setup cell."""
    import nbformat

    stale = []
    for path in chapter_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        if not nb.cells or not _setup_cell_is_current(nb.cells[0]):
            stale.append(path)
    return stale


# --------------------------------------------------------------------------- build
def effective_config(root: Path, execute_timeout: int) -> dict:
    """_config.yml with this run's execute.timeout and the repository URL (``REPO_URL``,
    the one setting behind launch buttons, Colab cells and student notebooks)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["timeout"] = execute_timeout
    repository = config.setdefault("repository", {})
    if repository.get("url", REPO_URL) != REPO_URL:
        raise ValueError(f"_config.yml sets repository.url {repository['url']!r}; leave it out: "
                         f"the build uses dnet_tools.book.REPO_URL ({REPO_URL!r})")
    repository["url"] = REPO_URL
    return config


def _effective_config(root: Path, execute_timeout: int, dest: Path) -> Path:
    """``effective_config`` written next to the build output, for ``jupyter-book --config``."""
    import yaml

    config = effective_config(root, execute_timeout)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "_config.effective.yml"
    atomic_write_text(path, "# generated by python -m dnet_tools.book build; edit _config.yml instead\n"
                  + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def library_fingerprint(package: Path | None = None) -> str:
    """Hash of dnet_lib's source and page files (or ``package``'s): cached notebook outputs are
    only valid for the same library."""
    import dnet_lib

    digest = hashlib.sha256()
    package = Path(package or Path(dnet_lib.__file__).parent).resolve()
    # page files too: notebook outputs embed dnet_lib's scripts, styles and templates
    suffixes = (".py", ".js", ".html", ".css", ".svg")
    for path in sorted(p for p in package.rglob("*") if p.suffix in suffixes):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _invalidate_stale_cache(build_dir: Path) -> None:
    stamp = build_dir / ".dnet_lib_fingerprint"
    fingerprint = library_fingerprint()
    old_state = any((build_dir / name).exists() for name in (".jupyter_cache", ".doctrees"))
    if old_state and (not stamp.is_file() or stamp.read_text().strip() != fingerprint):
        print(f"[dnet_tools.book] dnet_lib changed since the last build: forgetting cached outputs "
              f"in {build_dir}", flush=True)
        # Sphinx's own incremental state would also keep the old outputs: drop it too
        for name in (".jupyter_cache", ".doctrees", "jupyter_execute"):
            shutil.rmtree(build_dir / name, ignore_errors=True)
    reports = build_dir / "html" / "reports"
    if reports.is_dir():
        # a notebook failed last time; Sphinx would not read it again while it is unchanged, so
        # it would neither run nor be reported: forget the failure reports and Sphinx's state
        print("[dnet_tools.book] the last build had failed notebooks: reading every page again",
              flush=True)
        shutil.rmtree(reports)
        shutil.rmtree(build_dir / ".doctrees", ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, fingerprint + "\n")


def cell_timeout(mode: str) -> int:
    """Seconds one cell may run in ``mode``; longer when DNET_RETRAIN=1 asks chapters to train."""
    if mode != "smoke" and reference.retrain_requested():
        return RETRAIN_EXECUTE_TIMEOUT
    return EXECUTE_TIMEOUT[mode]


def build(root: Path | None = None, out: Path | None = None, timeout: float | None = None,
          execute_timeout: int | None = None, strict: bool = True) -> Path:
    """Build the HTML book; returns the folder with ``index.html``. Raises RuntimeError on failure."""
    root = find_root(root)
    mode = runtime.mode()
    if out is None:
        out = root if mode != "smoke" else root / "_build" / "smoke"
    out = Path(out).resolve()
    timeout = BUILD_TIMEOUT[mode] if timeout is None else timeout
    execute_timeout = cell_timeout(mode) if execute_timeout is None else execute_timeout
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    if isinstance(execute_timeout, bool) or not isinstance(execute_timeout, int) \
            or execute_timeout < 1:
        raise ValueError(f"execute_timeout must be an integer >= 1 (seconds), got {execute_timeout!r}")
    config = _effective_config(root, execute_timeout, out / "_build")
    _invalidate_stale_cache(out / "_build")
    # jupyter_book has no __main__ module: call its click entry point (what `jupyter-book` runs)
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; "
           "sys.argv[0] = 'jupyter-book'; main()", "build", str(root),
           "--path-output", str(out), "--config", str(config), "--builder", "html"]
    if strict:
        cmd += ["-W", "--keep-going"]
    env = dict(os.environ, DNET_BOOK_BUILD="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    # the kernels import this checkout's dnet_tools: the exercise pages run their hidden tests
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root.resolve()), env.get("PYTHONPATH")) if p)
    print(f"[dnet_tools.book] {runtime.describe()}; execute.timeout={execute_timeout}s, "
          f"build limit {timeout:.0f}s", flush=True)
    print("[dnet_tools.book] " + " ".join(cmd), flush=True)
    start = time.monotonic()
    # own process group: on timeout the build and every kernel it started are stopped together
    proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise RuntimeError(f"book build stopped after the {timeout:.0f} s limit") from None
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    html_dir = out / "_build" / "html"
    if rc != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {rc}); see the messages above")
    if not (html_dir / "index.html").is_file():
        raise RuntimeError(f"jupyter-book finished but {html_dir / 'index.html'} is missing")
    print(f"[dnet_tools.book] built {html_dir} in {time.monotonic() - start:.1f} s", flush=True)
    return html_dir


def execute_notebook(path: Path, cell_timeout: int = 120):
    """Run every cell of ``path`` in a fresh ``python3`` kernel, in the notebook's folder, and
    return the executed notebook (an ``nbformat`` node with outputs).

    Nothing is written back (chapters are committed without outputs). A cell that raises makes
    this raise ``nbclient.exceptions.CellExecutionError`` naming the cell and its traceback.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path).resolve()
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"path must be an existing .ipynb file, got {str(path)!r}")
    if isinstance(cell_timeout, bool) or not isinstance(cell_timeout, int) or cell_timeout < 1:
        raise ValueError(f"cell_timeout must be an integer >= 1 (seconds), got {cell_timeout!r}")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnet_tools.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the HTML book (all notebooks executed)")
    b.add_argument("--root", type=Path, default=None, help="book root (default: found from cwd)")
    b.add_argument("--out", type=Path, default=None,
                   help="output folder; HTML goes to OUT/_build/html (default: the root, or "
                        "_build/smoke in smoke mode)")
    b.add_argument("--timeout", type=float, default=None, help="wall-clock limit in seconds")
    b.add_argument("--execute-timeout", type=int, default=None, help="seconds per cell")
    b.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    for name, text in (("sync", "stamp the Colab setup cell into every chapter notebook"),
                       ("check", "fail if a toc entry is missing or a setup cell is stale")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--root", type=Path, default=None)
    e = sub.add_parser("execute", help="run one notebook (DNET_SMOKE=1 for smoke mode)")
    e.add_argument("notebook", type=Path)
    e.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)

    if args.command == "execute":
        from nbclient.exceptions import CellExecutionError
        timeout = args.cell_timeout or EXECUTE_TIMEOUT[runtime.mode()]
        try:
            execute_notebook(args.notebook, timeout)
        except (ValueError, CellExecutionError) as err:
            print(f"error: {args.notebook}: {err}", file=sys.stderr)
            return 1
        print(f"ok: {args.notebook} ran without errors ({runtime.describe()})")
        return 0

    try:
        root = find_root(args.root)
        if args.command == "build":
            build(root, args.out, args.timeout, args.execute_timeout, strict=not args.no_strict)
            return 0
        if args.command == "sync":
            changed = [p for p in chapter_notebooks(root) if sync_notebook(p)]
            for p in changed:
                print(f"updated {p.relative_to(root)}")
            print(f"{len(changed)} notebook(s) updated, "
                  f"{len(chapter_notebooks(root)) - len(changed)} already current")
            return 0
        # check
        _, missing = toc_paths(root)
        stale = stale_notebooks(root)
        for entry in missing:
            print(f"missing: {entry} (listed in _toc.yml, no .ipynb or .md file)")
        for p in stale:
            print(f"stale Colab setup cell: {p.relative_to(root)} "
                  f"(run: python -m dnet_tools.book sync)")
        if missing or stale:
            return 1
        print(f"ok: {len(chapter_notebooks(root))} notebook(s) start with the current setup cell")
        return 0
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
