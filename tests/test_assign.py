"""Grading with nbgrader (dnet_tools.course): honest, untouched and adversarial submissions.

One course folder is built and graded once for the whole module (nbgrader starts a kernel per
notebook, so grading is the slow part): ex05 (plain tensor algebra, the fastest exercise) for the
master, the untouched student copy and most attacks, ex02 for the attack that calls the
library's own implementation. Every attack must score zero on the questions it attacks and full
marks on the questions it answers honestly.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="grading needs the instructor extra: pip install -e .[instructor]")

from dnet_tools import course, hidden_tests, sandbox  # noqa: E402
from tests.fixtures import adversarial  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 15           # nbgrader's per-cell limit in the test course
QUESTION_TIMEOUT = 15       # CPU seconds a question's sandbox may use


def _masters_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / course.MASTER_DIR).glob("*.ipynb")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _nb(course_dir: Path, ex: str, kind: str):
    return nbformat.read(course_dir / kind / ex / f"{ex}.ipynb", as_version=4)


def _submit(course_dir: Path, tmp: Path, student: str, ex: str, nb) -> None:
    path = tmp / f"{student}-{ex}.ipynb"
    nbformat.write(nb, path)
    course.submit(course_dir, student, path, ex)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    where = tmp / "course"
    before = _masters_digest()
    assert course.build(where, exercises=["ex02", "ex05"], cell_timeout=CELL_TIMEOUT) == \
        {"ex02": "book", "ex05": "book"}
    _submit(where, tmp, "a_master", "ex05", _nb(where, "ex05", "source"))
    _submit(where, tmp, "b_untouched", "ex05", _nb(where, "ex05", "release"))
    for name, attack in adversarial.ATTACKS.items():
        ex = attack["exercise"]
        _submit(where, tmp, name, ex, adversarial.submission(name, _nb(where, ex, "release"), _nb(where, ex, "source")))
    rows = course.autograde(where, timeout=300, question_timeout=QUESTION_TIMEOUT)
    return {"course": where, "rows": {(r["student"], r["exercise"]): r for r in rows}, "masters": before}


def _scores(row) -> dict[str, float]:
    return {q: v["score"] for q, v in row["questions"].items()}


@pytest.mark.slow
def test_course_layout(graded):
    where = graded["course"]
    for sub in ("source", "release", "submitted", "autograded"):
        assert (where / sub / "ex05").is_dir() or (where / sub / "a_master" / "ex05").is_dir(), sub
    assert (where / "gradebook.db").is_file() and (where / "nbgrader_config.py").is_file()
    release = (where / "release" / "ex05" / "ex05.ipynb").read_text()
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME", "check_inline", "torch.linalg.solve(A, B)"):
        assert secret not in release, secret


@pytest.mark.slow
def test_master_scores_full_marks(graded):
    row = graded["rows"][("a_master", "ex05")]
    assert row["auto_score"] == row["auto_points"] == 5, course.format_rows([row])
    assert not row["tampered"] and row["manual"] == ["why-answer", "why-rubric"]


@pytest.mark.slow
def test_untouched_copy_scores_zero(graded):
    row = graded["rows"][("b_untouched", "ex05")]
    assert row["auto_score"] == 0 and row["auto_points"] == 5
    assert all("NotImplementedError" in v["message"] for v in row["questions"].values())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(adversarial.ATTACKS))
def test_attack_scores_zero_on_what_it_attacks(graded, name):
    attack = adversarial.ATTACKS[name]
    row = graded["rows"][(name, attack["exercise"])]
    scores = _scores(row)
    for q, points in scores.items():
        if q in attack["attacked"]:
            assert points == 0, f"{name} earned {points} on {q}: {row['questions'][q]['message']}"
        else:                   # the honest answers keep their points: the grader is not just strict
            assert points == row["questions"][q]["points"], f"{name} lost {q}: {row['questions'][q]['message']}"


@pytest.mark.slow
def test_no_submission_alters_grades_or_masters(graded):
    from nbgrader.api import Gradebook
    where = graded["course"]
    with Gradebook(f"sqlite:///{where / 'gradebook.db'}", course_id=course.COURSE_ID) as gb:
        master = gb.find_submission("ex05", "a_master")
        assert master.code_score == 5 and master.max_code_score == 5
        for name, attack in adversarial.ATTACKS.items():
            sub = gb.find_submission(attack["exercise"], name)
            assert sub.code_score == sum(_scores(graded["rows"][(name, attack["exercise"])]).values())
    assert not any(r["tampered"] for r in graded["rows"].values())
    assert _masters_digest() == graded["masters"], "grading changed chapters/exercises"
    graded_master = nbformat.read(where / "autograded" / "a_master" / "ex05" / "ex05.ipynb", as_version=4)
    assert sum("[grader] passed" in "".join(o.get("text", "") for o in c.get("outputs", []))
               for c in graded_master.cells) == 3


@pytest.mark.slow
def test_feedback_and_export(graded):
    where = graded["course"]
    course.feedback(where)
    assert (where / "feedback" / "a_master" / "ex05" / "ex05.html").is_file()
    with open(course.export(where)) as f:
        rows = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in csv.DictReader(f)}
    assert rows[("a_master", "ex05")] == 5 and rows[("b_untouched", "ex05")] == 0


@pytest.mark.slow
def test_a_variant_is_not_answered_by_the_public_page(tmp_path):
    """With a seed the class gets a variant: the book's answers score zero, the variant's key full."""
    where = tmp_path / "course"
    chosen = course.build(where, variant_seed=3, exercises=["ex05"], cell_timeout=CELL_TIMEOUT)
    assert chosen == {"ex05": "b"}
    release = (where / "release" / "ex05" / "ex05.ipynb").read_text()
    assert "In this assignment" in release
    _submit(where, tmp_path, "key", "ex05", _nb(where, "ex05", "source"))
    public = nbformat.read(ROOT / "chapters" / "exercises" / "ex05_concat_vs_add.ipynb", as_version=4)
    _submit(where, tmp_path, "copier", "ex05", adversarial.honest(_nb(where, "ex05", "release"), public))
    rows = {r["student"]: r for r in course.autograde(where, timeout=300, question_timeout=QUESTION_TIMEOUT)}
    assert rows["key"]["auto_score"] == 5, course.format_rows(list(rows.values()))
    assert rows["copier"]["auto_score"] == 0, course.format_rows(list(rows.values()))


@pytest.mark.slow
def test_committed_student_copies_are_current():
    assert course.check(ROOT) == []


# --------------------------------------------------------------------------- sandbox (no nbgrader)
def test_sandbox_returns_plain_data_and_survives_hostile_code():
    ok = sandbox.evaluate(["import torch", "def fit_error(f, t):\n    return 0.25"], "ex05", "q3",
                          {"fit": "affine"}, timeout=30)
    assert ok == {"data": [0.25, 0.25, 0.25]}
    for cells, error in ((["import os\nos._exit(0)"], "NoResult"), (["while True:\n    pass"], "Timeout"),
                         (["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"], "Crashed")):
        assert sandbox.evaluate(cells, "ex05", "q3", {"fit": "affine"}, timeout=6)["error"] == error


def test_sandbox_stubs_the_library_implementation():
    cells = ["from dnet_lib import arith", "def dense_layer_params(c, k, b=4):\n"
             "    return arith.dense_layer_params(c, k, bn_size=b)\n\ndef basic_block_params(c):\n    return 0"]
    data = sandbox.evaluate(cells, "ex02", "q2", {"bottleneck": True}, timeout=30,
                            forbidden=("arith.dense_layer_params",))["data"]
    assert all(d["error"] == "RuntimeError" for d in data["dense"])
    assert "dnet_lib.arith" in sandbox.forbidden_bindings(("arith.dense_layer_params",))


def test_judge_rejects_lookalikes_and_accepts_the_reference():
    params = {"fit": "affine"}
    with pytest.raises(AssertionError, match="float"):
        hidden_tests.judge("ex05", "q3", [1, 1, 1], params)              # ints are not floats
    with pytest.raises(hidden_tests.PlainDataError):
        hidden_tests.plain(type("F", (float,), {"__eq__": lambda s, o: True})(0.0))
    ns = {}
    exec(_source_of("ex05", "q3-answer"), {"torch": __import__("torch")}, ns)
    data = hidden_tests.QUESTIONS["ex05"]["q3"].probe(ns, params)
    hidden_tests.judge("ex05", "q3", data, params)
    with pytest.raises(AssertionError):
        hidden_tests.judge("ex05", "q3", [v + 1e-3 for v in data], params)


def _source_of(ex: str, grade_id: str) -> str:
    master = next((ROOT / course.MASTER_DIR).glob(f"{ex}_*.ipynb"))
    nb = nbformat.read(master, as_version=4)
    return next(c.source for c in nb.cells if course.nbgrader_meta(c).get("grade_id") == grade_id)
