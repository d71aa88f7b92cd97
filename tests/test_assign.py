"""The assignment tooling: student copies leak nothing, stay in sync, and grading scores right.

Grading executes a notebook in a Jupyter kernel, so only the fastest exercise (ex05, plain tensor
algebra) is graded here; that every master's hidden tests pass is shown by executing the masters
(tests/test_notebooks.py runs every chapter in smoke mode, hidden tests included).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from dnet_lib import runtime
from dnet_tools import assign

ROOT = Path(__file__).resolve().parents[1]
MASTERS = assign.master_paths(ROOT)
GRADED = "chapters/exercises/ex05_concat_vs_add.ipynb"
EXPECTED_NAMES = ["ex01_pooling", "ex02_parameters", "ex03_memory", "ex04_table1",
                  "ex05_concat_vs_add", "ex06_house_prices"]


def _student(master: Path) -> Path:
    return ROOT / "students" / master.name


def _lines(nb) -> set[str]:
    return {line.strip() for cell in nb.cells for line in assign._source_lines(cell)}


def test_every_exercise_has_a_master_and_a_student_copy():
    assert [m.stem for m in MASTERS] == EXPECTED_NAMES
    for master in MASTERS:
        assert _student(master).is_file(), f"missing {_student(master)}: run python -m dnet_tools.assign build"


def test_committed_student_notebooks_are_current():
    assert assign.check(ROOT) == []
    assert assign.main(["--root", str(ROOT), "check"]) == 0


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_line_reaches_students(master):
    master_nb = nbformat.read(ROOT / master, as_version=4)
    secrets = assign.secret_lines(master_nb)
    assert len(secrets) >= 5, f"{master}: too few solution/hidden lines ({len(secrets)}) for a real exercise"
    for student in sorted((ROOT / "students").glob("*.ipynb")):    # every copy, not just the matching one
        # a copy may show what its own master shows publicly (e.g. a common `return out`), nothing else
        own_public = assign.split_lines(nbformat.read(ROOT / "chapters/exercises" / student.name, as_version=4))[1]
        leaked = (secrets - own_public) & _lines(nbformat.read(student, as_version=4))
        assert not leaked, f"{student.name} contains lines of {master.name}'s answers: {sorted(leaked)[:5]}"


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_student_copy_structure(master):
    master_nb = nbformat.read(ROOT / master, as_version=4)
    nb = nbformat.read(_student(master), as_version=4)
    text = json.dumps(nb.cells)
    for marker in (assign.BEGIN_SOLUTION, assign.END_SOLUTION, assign.BEGIN_HIDDEN, assign.END_HIDDEN):
        assert marker not in text
    assert not any(assign.SOLUTION_TAG in c.metadata.get("tags", []) for c in nb.cells)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")
    assert "colab-setup" in nb.cells[0].metadata.get("tags", [])
    badge = nb.cells[1].source
    assert f"{runtime.REPO_URL.split('github.com/')[1]}/blob/main/students/{master.name}" in badge
    assert "chapters/exercises" not in text
    # every question keeps its test cells (visible checks) and its points
    def points(n):
        out = {}
        for c in n.cells:
            if assign.points_of(c) is not None:
                out[assign.question_of(c)] = out.get(assign.question_of(c), 0) + assign.points_of(c)
        return out
    assert points(nb) == points(master_nb) and points(nb)
    stubs = sum(c.source.count("raise NotImplementedError(") for c in nb.cells if c.cell_type == "code")
    solutions = sum(c.source.count(assign.BEGIN_SOLUTION) for c in master_nb.cells)
    assert stubs == solutions > 0


def test_build_keeps_lines_around_the_solution_and_its_indent():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n# after")])
    nb.cells[0].metadata["dnet_assign"] = {"question": "q7"}
    out = assign.student_notebook(nb, "chapters/exercises/demo.ipynb").cells[1].source
    assert out.splitlines() == ["def f(x):", "    y = 1", "    # YOUR CODE HERE",
                                '    raise NotImplementedError("q7: your solution goes here")', "# after"]


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_build_rejects_unbalanced_markers(source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with pytest.raises(ValueError, match="cell 0"):
        assign.student_notebook(nb, "chapters/exercises/demo.ipynb")


def test_build_rejects_bad_points():
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["dnet_assign"] = {"question": "q1", "points": -1}
    with pytest.raises(ValueError, match="points"):
        assign.student_notebook(nbformat.v4.new_notebook(cells=[cell]), "chapters/exercises/demo.ipynb")


def test_check_fails_after_a_master_edit(tmp_path, capsys):
    for sub in ("chapters/exercises", "students"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    assert assign.check(tmp_path) == []
    edited = tmp_path / GRADED
    nb = nbformat.read(edited, as_version=4)
    nb.cells[1].source += "\n\nAn instructor's extra sentence."
    nbformat.write(nb, edited)
    problems = assign.check(tmp_path)
    assert problems == [f"students/{edited.name}: stale (differs from what `build` writes)"]
    assert assign.main(["--root", str(tmp_path), "check"]) == 1
    assert edited.name in capsys.readouterr().err
    assign.build(tmp_path)
    assert assign.check(tmp_path) == []
    (tmp_path / "students" / "orphan.ipynb").write_text((tmp_path / "students" / edited.name).read_text())
    assert assign.check(tmp_path) == ["students/orphan.ipynb: has no master notebook"]


def _grade(path: Path, tmp_path: Path) -> dict:
    out = tmp_path / "score.json"
    result = assign.grade(path, out=out, cell_timeout=120, total_timeout=300, root=ROOT)
    assert json.loads(out.read_text()) == result
    assert not list(tmp_path.glob("*.tmp"))
    return result


def test_grading_the_master_gives_full_marks(tmp_path, capsys):
    out = tmp_path / "score.json"      # through the command line, as an instructor runs it
    assert assign.main(["--root", str(ROOT), "grade", str(ROOT / GRADED), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["total"] > 0 and result["score"] == result["total"], assign.format_table(result)
    assert [q["question"] for q in result["questions"]] == ["q1", "q2", "q3"]
    table = capsys.readouterr().out
    assert "q2" in table and "total" in table and "FAIL" not in table


def test_grading_an_untouched_student_copy_gives_zero(tmp_path):
    result = _grade(ROOT / "students" / Path(GRADED).name, tmp_path)
    assert result["score"] == 0 and result["total"] > 0
    assert all("NotImplementedError" in q["error"] for q in result["questions"])


def test_one_wrong_answer_loses_exactly_its_points(tmp_path):
    """Fill the student copy with the master's answers, break q2, and delete q1's test cell:
    the grader re-inserts the hidden tests, and only q2's points are lost."""
    master = nbformat.read(ROOT / GRADED, as_version=4)
    student = nbformat.read(ROOT / "students" / Path(GRADED).name, as_version=4)
    answers = {c.id: c.source for c in master.cells}
    for cell in student.cells:
        if cell.cell_type == "code" and "raise NotImplementedError(" in cell.source:
            cell.source = answers[cell.id]
    q2 = next(c for c in student.cells if "def as_residual" in c.source)
    q2.source = q2.source.replace("return torch.linalg.solve(A, B)", "return B - A")
    assert "return B - A" in q2.source
    student.cells = [c for c in student.cells
                     if not (assign.question_of(c) == "q1" and assign.points_of(c) is not None)]
    path = tmp_path / "submission.ipynb"
    nbformat.write(student, path)
    result = _grade(path, tmp_path)
    by_q = {q["question"]: q for q in result["questions"]}
    assert by_q["q2"]["score"] == 0 and not by_q["q2"]["passed"]
    assert by_q["q1"]["passed"] and by_q["q3"]["passed"]
    assert result["score"] == result["total"] - by_q["q2"]["points"]


def test_grade_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="submission"):
        assign.grade(tmp_path / "missing.ipynb", root=ROOT)
    with pytest.raises(ValueError, match="cell_timeout"):
        assign.grade(ROOT / GRADED, cell_timeout=0, root=ROOT)


def test_grading_notebook_reinserts_tests_by_question():
    master = nbformat.read(ROOT / GRADED, as_version=4)
    student = nbformat.read(ROOT / "students" / Path(GRADED).name, as_version=4)
    nb, questions = assign.grading_notebook(student, master)
    master_tests = [c.source for c in master.cells if assign.points_of(c) is not None]
    assert [nb.cells[i].source for q in questions.values() for i in q["cells"]] == master_tests
    assert {q: v["points"] for q, v in questions.items()} == {"q1": 1.0, "q2": 2.0, "q3": 2.0}
