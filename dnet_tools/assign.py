"""Classroom assignments from the exercise notebooks: one source, three commands.

The master notebooks in ``chapters/exercises/`` are the book pages *and* the answer keys.
Inside them, with the markers nbgrader and otter understand:

* a code (or markdown) cell may hold ``### BEGIN SOLUTION`` ... ``### END SOLUTION``; the student
  copy keeps the lines before and after and replaces the region by a stub that raises
  ``NotImplementedError`` (markdown: "*Your answer here.*");
* a cell tagged ``solution`` is dropped from the student copy as a whole;
* a test cell carries ``metadata["dnet_assign"] = {"question": "q1", "points": 2}`` and hides its
  grading code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; the student copy
  keeps the visible checks only.

Commands (``python -m dnet_tools.assign ...``)::

    build                       write students/<name>.ipynb for every master notebook
    check                       exit 1 (naming the files) if students/ is not what build writes
    grade SUB.ipynb [--out F]   run the master's hidden tests against a filled-in notebook

Grading re-inserts the master's test cells (matched by question id), executes the notebook in
smoke mode with nbclient, and gives a question its points iff all its test cells ran cleanly.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from dnet_lib import runtime
from dnet_lib.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
MASTER_DIR = Path("chapters") / "exercises"
STUDENT_DIR = Path("students")
BRANCH = "main"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_TAG = "solution"
META_KEY = "dnet_assign"
STUB_COMMENT = "# YOUR CODE HERE"
MARKDOWN_STUB = "*Your answer here.*"
HIDDEN_NOTE = "# (more tests for {q} run when the notebook is graded)"

__all__ = ["student_notebook", "build", "check", "grade", "secret_lines", "question_of", "points_of",
           "colab_url", "master_paths", "split_lines"]


# --------------------------------------------------------------------------- metadata helpers
def question_of(cell) -> str | None:
    return (cell.get("metadata", {}).get(META_KEY) or {}).get("question")


def points_of(cell) -> float | None:
    """Points of a test cell (None for cells that are not test cells)."""
    return (cell.get("metadata", {}).get(META_KEY) or {}).get("points")


def _is_test_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and points_of(cell) is not None


def _source_lines(cell) -> list[str]:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(src)
    return src.split("\n")


def _validate_points(cell, where: str) -> None:
    meta = cell.get("metadata", {}).get(META_KEY) or {}
    q, pts = meta.get("question"), meta.get("points")
    if pts is not None:
        if not isinstance(q, str) or not q:
            raise ValueError(f"{where}: a test cell needs metadata {META_KEY}.question, got {q!r}")
        if isinstance(pts, bool) or not isinstance(pts, (int, float)) or pts <= 0:
            raise ValueError(f"{where}: {META_KEY}.points must be a positive number, got {pts!r}")


# --------------------------------------------------------------------------- student copies
def colab_url(student_path: str | Path) -> str:
    """Colab link for a notebook in the repository (``REPO_URL`` on GitHub, branch ``main``)."""
    owner_repo = runtime.REPO_URL.rstrip("/").split("github.com/", 1)[-1]
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{Path(student_path).as_posix()}"


def _badge_cell(student_path: Path) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(student_path)})"
        "  \n*Student copy*: replace every `# YOUR CODE HERE` stub with your answer and run the visible checks. "
        "Your instructor grades it with `python -m dnet_tools.assign grade`.")
    cell.id = "student-colab-badge"
    cell.metadata["tags"] = ["student-badge"]
    return cell


def _strip_regions(lines: list[str], begin: str, end: str, replace, where: str) -> list[str]:
    """Drop the lines from ``begin`` to ``end`` (inclusive); ``replace(indent)`` gives stand-ins."""
    out, inside = [], False
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if s == begin:
            if inside:
                raise ValueError(f"{where}: line {n}: {begin!r} inside an open region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(replace(indent))
        elif s == end:
            if not inside:
                raise ValueError(f"{where}: line {n}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} is never closed by {end!r}")
    return out


def _student_cell(cell, where: str):
    """The student version of one master cell, or None when it must disappear."""
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return None
    _validate_points(cell, where)
    new = copy.deepcopy(cell)
    lines = _source_lines(cell)
    q = question_of(cell) or "this exercise"
    if cell.cell_type == "code":
        lines = _strip_regions(lines, BEGIN_SOLUTION, END_SOLUTION, lambda ind: [
            f"{ind}{STUB_COMMENT}", f'{ind}raise NotImplementedError("{q}: your solution goes here")'], where)
        hidden = any(l.strip() == BEGIN_HIDDEN for l in lines)
        lines = _strip_regions(lines, BEGIN_HIDDEN, END_HIDDEN, lambda ind: [], where)
        if hidden and _is_test_cell(cell):
            while lines and not lines[-1].strip():
                lines.pop()
            lines.append(HIDDEN_NOTE.format(q=q))
        new.outputs, new.execution_count = [], None
    else:
        lines = _strip_regions(lines, BEGIN_SOLUTION, END_SOLUTION, lambda ind: [MARKDOWN_STUB], where)
        if any(l.strip() in (BEGIN_HIDDEN, END_HIDDEN) for l in lines):
            raise ValueError(f"{where}: hidden tests belong in code cells")
    new.source = "\n".join(lines)
    return new


def _student_path(master: Path) -> Path:
    return STUDENT_DIR / master.name


def student_notebook(master_nb, master_path: str | Path) -> nbformat.NotebookNode:
    """The student copy of a master notebook (pure function: same input, same output)."""
    master_path = Path(master_path)
    student_path = _student_path(master_path)
    nb = copy.deepcopy(master_nb)
    cells = []
    for i, cell in enumerate(master_nb.cells):
        new = _student_cell(cell, f"{master_path.as_posix()} cell {i}")
        if new is None:
            continue
        if new.cell_type != "raw":
            # a link to the master (e.g. the Colab badge of the setup cell) must open the student copy
            new.source = new.source.replace(master_path.as_posix(), student_path.as_posix())
        cells.append(new)
    # the badge goes right after the Colab setup cell (or first when there is none)
    at = next((i + 1 for i, c in enumerate(cells) if "colab-setup" in c.metadata.get("tags", [])), 0)
    cells.insert(at, _badge_cell(student_path))
    nb.cells = cells
    nb.metadata[META_KEY] = {"master": master_path.as_posix()}
    nb.metadata.pop("widgets", None)
    return nb


def master_paths(root: Path = ROOT) -> list[Path]:
    """Master notebooks, relative to ``root``."""
    return sorted(p.relative_to(root) for p in (root / MASTER_DIR).glob("*.ipynb"))


def _dumps(nb) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _expected(root: Path) -> dict[Path, str]:
    out = {}
    for master in master_paths(root):
        nb = nbformat.read(root / master, as_version=4)
        out[_student_path(master)] = _dumps(student_notebook(nb, master))
    return out


def build(root: str | Path = ROOT) -> list[Path]:
    """Write every student notebook; remove student notebooks whose master is gone."""
    root = Path(root)
    expected = _expected(root)
    for rel, text in expected.items():
        atomic_write_text(root / rel, text)
    for old in (root / STUDENT_DIR).glob("*.ipynb"):
        if old.relative_to(root) not in expected:
            old.unlink()
    return sorted(expected)


def _normalised(text: str):
    nb = json.loads(text)
    nb.pop("nbformat_minor", None)   # a re-save by another nbformat version is not a change
    return nb


def check(root: str | Path = ROOT) -> list[str]:
    """Problems with the committed student notebooks (empty list = up to date)."""
    root = Path(root)
    problems = []
    expected = _expected(root)
    for rel, text in expected.items():
        path = root / rel
        if not path.exists():
            problems.append(f"{rel.as_posix()}: missing")
            continue
        try:
            same = _normalised(path.read_text(encoding="utf-8")) == _normalised(text)
        except json.JSONDecodeError as e:
            problems.append(f"{rel.as_posix()}: not valid JSON ({e})")
            continue
        if not same:
            problems.append(f"{rel.as_posix()}: stale (differs from what `build` writes)")
    for extra in sorted((root / STUDENT_DIR).glob("*.ipynb")):
        if extra.relative_to(root) not in expected:
            problems.append(f"{extra.relative_to(root).as_posix()}: has no master notebook")
    return problems


# --------------------------------------------------------------------------- secrets (for tests)
def split_lines(master_nb) -> tuple[set[str], set[str]]:
    """(secret, public) stripped lines of a master: secret = in solution regions, solution-tagged
    cells or hidden tests; public = everywhere else (what a student copy may show)."""
    secret, public = set(), set()
    for cell in master_nb.cells:
        tagged = SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])
        in_secret = False
        for line in _source_lines(cell):
            s = line.strip()
            if s in (BEGIN_SOLUTION, BEGIN_HIDDEN):
                in_secret = True
            elif s in (END_SOLUTION, END_HIDDEN):
                in_secret = False
            else:
                (secret if tagged or in_secret else public).add(s)
    return secret, public


def secret_lines(master_nb) -> set[str]:
    """Non-blank stripped lines that may only appear in the master: solution regions,
    solution-tagged cells and hidden tests, minus every line the master also shows outside them."""
    secret, public = split_lines(master_nb)
    return {s for s in secret - public if s}


# --------------------------------------------------------------------------- grading
def _find_master(sub_nb, sub_path: Path, root: Path) -> Path:
    rel = (sub_nb.metadata.get(META_KEY) or {}).get("master")
    candidates = ([root / rel] if rel else []) + [root / MASTER_DIR / sub_path.name]
    for c in candidates:
        if c.exists():
            return c
    raise ValueError(f"submission {sub_path} names no master notebook that exists "
                     f"(looked for {', '.join(str(c) for c in candidates)}); pass --master")


def grading_notebook(sub_nb, master_nb):
    """The submission with every test cell replaced by the master's (hidden tests included).

    Returns ``(notebook, questions)``; ``questions`` maps a question id to its points and the
    indices (in the returned notebook) of its test cells.
    """
    master_tests: dict[str, list] = {}
    for cell in master_nb.cells:
        if _is_test_cell(cell):
            master_tests.setdefault(question_of(cell), []).append(cell)
    cells = []
    placed = set()
    for cell in sub_nb.cells:
        q = question_of(cell)
        if cell.get("cell_type") == "code" and points_of(cell) is not None:
            if q in master_tests and q not in placed:   # the first test cell of q takes all of them
                cells.extend(copy.deepcopy(master_tests[q]))
                placed.add(q)
            continue                                    # a student's own version of a test never runs
        cells.append(copy.deepcopy(cell))
    for q, tests in master_tests.items():               # deleted by the student: after q's last cell
        if q in placed:
            continue
        last = max((i for i, c in enumerate(cells) if question_of(c) == q), default=len(cells) - 1)
        cells[last + 1:last + 1] = copy.deepcopy(tests)
    nb = copy.deepcopy(sub_nb)
    nb.cells = cells
    questions = {}
    for i, cell in enumerate(cells):
        if _is_test_cell(cell):
            q = question_of(cell)
            entry = questions.setdefault(q, {"points": 0.0, "cells": []})
            entry["points"] += float(points_of(cell))
            entry["cells"].append(i)
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, questions


def _error_text(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:300]
    return None


def grade(submission: str | Path, master: str | Path | None = None, out: str | Path | None = None,
          cell_timeout: int = 120, total_timeout: int = 600, root: str | Path = ROOT) -> dict:
    """Run the master's hidden tests against ``submission``; returns (and optionally writes) the score."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    root, submission = Path(root), Path(submission)
    for name, value in (("cell_timeout", cell_timeout), ("total_timeout", total_timeout)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (seconds), got {value!r}")
    if not submission.is_file():
        raise ValueError(f"submission must be an existing .ipynb file, got {str(submission)!r}")
    sub_nb = nbformat.read(submission, as_version=4)
    master = Path(master) if master else _find_master(sub_nb, submission, root)
    master_nb = nbformat.read(master, as_version=4)
    nb, questions = grading_notebook(sub_nb, master_nb)
    if not questions:
        raise ValueError(f"master {master} has no test cells (metadata {META_KEY}.points)")

    errors: dict[int, str] = {}
    started = time.monotonic()
    old_smoke = os.environ.get("DNET_SMOKE")
    os.environ["DNET_SMOKE"] = "1"          # the kernel inherits it: grading always runs smoke mode
    try:
        client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                                interrupt_on_timeout=True,
                                resources={"metadata": {"path": str((root / MASTER_DIR).resolve())}})
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if time.monotonic() - started > total_timeout:
                    errors[i] = f"not run: total_timeout={total_timeout}s exceeded"
                    continue
                try:
                    client.execute_cell(cell, i)
                except CellTimeoutError:
                    errors[i] = f"timed out after {cell_timeout}s"
                    continue
                except DeadKernelError as e:
                    errors.update({j: f"kernel died ({e})" for j in range(i, len(nb.cells))})
                    break
                err = _error_text(cell)
                if err:
                    errors[i] = err
    finally:
        if old_smoke is None:
            os.environ.pop("DNET_SMOKE", None)
        else:
            os.environ["DNET_SMOKE"] = old_smoke

    rows = []
    for q, entry in questions.items():
        failed = [errors[i] for i in entry["cells"] if i in errors]
        rows.append({"question": q, "points": entry["points"],
                     "score": 0.0 if failed else entry["points"],
                     "passed": not failed, "error": failed[0] if failed else None})
    result = {
        "submission": str(submission), "master": str(master),
        "score": sum(r["score"] for r in rows), "total": sum(r["points"] for r in rows),
        "questions": rows, "seconds": round(time.monotonic() - started, 1),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m dnet_tools.assign grade " + str(submission), "mode": "smoke",
    }
    if out is not None:
        atomic_write_text(Path(out), json.dumps(result, indent=2) + "\n")
    return result


def format_table(result: dict) -> str:
    lines = [f"{'question':<10} {'points':>6} {'score':>6}  result"]
    for r in result["questions"]:
        lines.append(f"{r['question']:<10} {r['points']:>6g} {r['score']:>6g}  "
                     + ("pass" if r["passed"] else f"FAIL  {r['error']}"))
    lines.append(f"{'total':<10} {result['total']:>6g} {result['score']:>6g}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnet_tools.assign", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(ROOT), help="repository root (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="write students/*.ipynb from chapters/exercises/*.ipynb")
    sub.add_parser("check", help="fail if students/ differs from what build writes")
    g = sub.add_parser("grade", help="run the hidden tests against a filled-in notebook")
    g.add_argument("submission")
    g.add_argument("--master", default=None, help="master notebook (default: from the submission)")
    g.add_argument("--out", default=None, help="write the score as JSON here")
    g.add_argument("--cell-timeout", type=int, default=120)
    g.add_argument("--total-timeout", type=int, default=600)
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.command == "build":
        for p in build(root):
            print(f"wrote {p.as_posix()}")
        return 0
    if args.command == "check":
        problems = check(root)
        if problems:
            print("student notebooks are out of date; run `python -m dnet_tools.assign build`:",
                  file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"ok: {len(master_paths(root))} student notebooks match their masters")
        return 0
    try:
        result = grade(args.submission, args.master, args.out, args.cell_timeout, args.total_timeout, root)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
