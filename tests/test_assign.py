"""Grading with nbgrader (dnet_tools.course): honest, untouched and adversarial submissions.

One course folder is built and graded once for the whole module (nbgrader starts a kernel per
notebook, so grading is the slow part): ex05 (plain tensor algebra, the fastest exercise) for the
master, the untouched student copy and most attacks, ex02 for the attacks on its rules and on the
library's own implementation. Every attack must score zero on the questions it attacks and full
marks on the questions it answers honestly. Answers, and nbgrader's own run of the notebook,
run under bubblewrap (``make test`` installs it with scripts/ensure_bubblewrap.sh); the attacks
that reach outside find their answers on this machine (a file in the grader's home, a server on
its loopback, the masters on disk), so they would score without it, and neither the sandbox nor
the notebook's run gets to them.
"""
from __future__ import annotations

import csv
import hashlib
import http.server
import json
import threading
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="grading needs the instructor extra: pip install -e .[instructor]")

from dnet_tools import course, exercises, sandbox  # noqa: E402
from tests.fixtures import adversarial  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 30           # nbgrader's per-cell limit in the test course (a loaded machine imports torch slowly)
QUESTION_TIMEOUT = 15       # CPU seconds a question's sandbox may use (wall clock: 3x + 30 s)


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


def _answers_server(text: str):
    """A server on this machine's loopback handing out ``text`` (what the network attack fetches)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _answer_source(source_nb, grade_id: str) -> str:
    return next(c.source for c in source_nb.cells if course.nbgrader_meta(c).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    assert sandbox.bwrap_available(), "bubblewrap is needed: bash scripts/ensure_bubblewrap.sh"
    tmp = tmp_path_factory.mktemp("course")
    where = tmp / "course"
    before = _masters_digest()
    assert course.build(where, exercises=["ex02", "ex05"], cell_timeout=CELL_TIMEOUT) == \
        {"ex02": "book", "ex05": "book"}
    source = _nb(where, "ex05", "source")
    home = tmp / "grader-home"          # the grader's home holds an answer key...
    home.mkdir()
    (home / "answers.py").write_text(_answer_source(source, "q1-answer"))
    server = _answers_server(_answer_source(source, "q2-answer"))     # ...and so does its loopback
    _submit(where, tmp, "a_master", "ex05", source)
    _submit(where, tmp, "b_untouched", "ex05", _nb(where, "ex05", "release"))
    for name, attack in adversarial.ATTACKS.items():
        ex = attack["exercise"]
        nb = adversarial.submission(name, _nb(where, ex, "release"), _nb(where, ex, "source"),
                                    home=home, port=server.server_address[1], course=where)
        _submit(where, tmp, name, ex, nb)
    try:
        rows = course.autograde(where, timeout=600, question_timeout=QUESTION_TIMEOUT)
    finally:
        server.shutdown()
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
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME", "hidden_tests(", "torch.linalg.solve(A, B)"):
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
def test_grade_class_benchmark_files_the_three_kinds(graded):
    """benchmarks/grade_class.py's class: the master answered from source/, the untouched copy,
    one answer stubbed; its scoring rule agrees with the real grades of the first two."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("grade_class", ROOT / "benchmarks" / "grade_class.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    where = graded["course"]
    kinds = bench.submissions(_nb(where, "ex05", "release"), _nb(where, "ex05", "source"))
    master, stub = kinds["master"][0], kinds["one_stub"]
    assert stub[1] == "q3" and "raise NotImplementedError" in "".join(
        c.source for c in stub[0].cells if course.nbgrader_meta(c).get("grade_id") == "q3-answer")
    assert "BEGIN SOLUTION" not in nbformat.writes(master)
    assert bench.expected_score(graded["rows"][("a_master", "ex05")], None)
    assert bench.expected_score(graded["rows"][("b_untouched", "ex05")], "all")
    assert not bench.expected_score(graded["rows"][("b_untouched", "ex05")], None)


@pytest.mark.slow
def test_a_run_stopped_at_the_notebook_limit_is_the_graders_error(graded, tmp_path):
    """A notebook stopped as a whole (--timeout; each cell has its own limit) is a slow machine,
    not a wrong answer: every code question says so and asks for a regrade."""
    import shutil
    where = tmp_path / "course"        # a copy: the module's gradebook stays as graded
    shutil.copytree(graded["course"], where)
    [row] = course.autograde(where, exercise="ex05", student="a_master", timeout=1,
                             question_timeout=QUESTION_TIMEOUT)
    assert row["auto_score"] == 0 and sorted(row["internal_errors"]) == ["q1", "q2", "q3"]
    for q in row["questions"].values():
        assert q["message"].startswith(course.INTERNAL) and "--timeout 1 s" in q["message"]
    assert "INTERNAL ERROR IN THE GRADER in q1, q2, q3: regrade" in course.format_rows([row])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(adversarial.ATTACKS))
def test_attack_scores_zero_on_what_it_attacks(graded, name):
    attack = adversarial.ATTACKS[name]
    row = graded["rows"][(name, attack["exercise"])]
    scores = _scores(row)
    assert row["isolation"] == "bwrap" and not row.get("internal_errors")
    for q, points in scores.items():
        message = row["questions"][q]["message"]
        if q in attack["attacked"]:
            assert points == 0, f"{name} earned {points} on {q}: {message}"
            if attack.get("escapes"):       # nbgrader's run is boxed too: the notebook found nothing
                assert "the test cell failed in the notebook" in message, message
            if "message" in attack:
                assert message == attack["message"]
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
    _submit(where, tmp_path, "copier", "ex05", course.answered(_nb(where, "ex05", "release"), public))
    rows = {r["student"]: r for r in course.autograde(where, timeout=300, question_timeout=QUESTION_TIMEOUT)}
    assert rows["key"]["auto_score"] == 5, course.format_rows(list(rows.values()))
    assert rows["copier"]["auto_score"] == 0, course.format_rows(list(rows.values()))


@pytest.mark.slow
def test_committed_student_copies_are_current():
    assert course.check(ROOT) == []


# --------------------------------------------------------------------------- sandbox (no nbgrader)
@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    return sandbox.prepare(ROOT, tmp_path_factory.mktemp("libs"), [(), ("arith.dense_layer_params",)])


def test_sandbox_returns_plain_data_and_survives_hostile_code(libs):
    run = lambda cells, timeout=30: sandbox.evaluate(cells, "ex05_concat_vs_add", "q3", {"fit": "affine"},
                                                     lib=libs[()], timeout=timeout)
    assert run(["import torch", "def fit_error(f, t):\n    return 0.25"]) == {"data": [0.25, 0.25, 0.25]}
    for cells, error in ((["import os\nos._exit(0)"], "NoResult"), (["while True:\n    pass"], "Timeout"),
                         (["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"], "Crashed")):
        assert run(cells, timeout=6)["error"] == error


SPY = """
import os, socket
def seen(path):
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        return type(e).__name__
def network():
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2)
    except OSError as e:
        return type(e).__name__
    return "connected"
def fit_error(f, t):
    raise RuntimeError(repr({"tmp": seen("/tmp"), "home": seen(os.path.expanduser("~")),
                             "root": seen("/root"), "masters": seen(%r), "course": seen(%r),
                             "uid": os.getuid(), "pids": len(seen("/proc")), "net": network()}))
"""


def test_bwrap_sandbox_sees_no_course_no_repository_no_home_and_no_network(libs, tmp_path):
    assert sandbox.bwrap_available(), "bubblewrap is needed: bash scripts/ensure_bubblewrap.sh"
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "secret.ipynb").write_text("BEGIN SOLUTION")
    cells = [SPY % (str(ROOT / course.MASTER_DIR), str(tmp_path / "course"))]
    result = sandbox.evaluate(cells, "ex05_concat_vs_add", "q3", {"fit": "affine"}, lib=libs[()], timeout=30)
    seen = eval(result["data"][0]["message"])       # noqa: S307 - our own repr of plain values
    assert seen["tmp"] == [] and seen["home"] == [], seen
    root = seen["root"] if isinstance(seen["root"], list) else []
    assert set(root) <= {".pyenv"}, seen        # at most the way to an interpreter that lives there
    assert seen["masters"] == seen["course"] == "FileNotFoundError", seen
    assert seen["uid"] == sandbox.NOBODY and seen["net"] != "connected", seen


def test_probe_copy_leaves_the_variants_answer_keys_out(libs):
    copied = (libs[()] / "grader" / "ex02_parameters.py").read_text()
    assert "def variants" not in copied and "9 * in_channels * growth_rate" not in copied
    assert "def _q2_probe" in copied
    assert "9 * in_channels * growth_rate" in (ROOT / "dnet_tools/exercises/ex02_parameters.py").read_text()


def test_sandbox_stubs_the_library_implementation(libs):
    cells = ["from dnet_lib import arith", "def dense_layer_params(c, k, b=4):\n"
             "    return arith.dense_layer_params(c, k, bn_size=b)\n\ndef basic_block_params(c):\n    return 0"]
    data = sandbox.evaluate(cells, "ex02_parameters", "q2", {"bottleneck": True}, timeout=30,
                            lib=libs[("arith.dense_layer_params",)])["data"]
    assert all(d["error"] == "RuntimeError" for d in data["dense"])
    assert "dnet_lib.arith" in sandbox.forbidden_bindings(("arith.dense_layer_params",))


def test_autograde_refuses_without_bubblewrap_unless_trusted(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    with pytest.raises(sandbox.SandboxUnavailable, match="--trusted"):
        course.autograde(tmp_path)
    assert course.main(["autograde", str(tmp_path)]) == 2
    assert "bubblewrap" in capsys.readouterr().err
    (tmp_path / "submitted").mkdir()
    assert course.autograde(tmp_path, trusted=True) == []
    assert "TRUSTED MODE" in course.format_rows([{"student": "s", "exercise": "ex05", "variant": "book",
                                                  "tampered": [], "questions": {}, "auto_score": 0,
                                                  "auto_points": 0, "isolation": "process"}])


def test_rules_name_what_the_answer_did():
    rules = exercises.MODULES["ex02"].QUESTIONS["q2"].rules
    assert exercises.rule_violation(["def f(c, k):\n    return 2 * c + 9 * k"], rules) is None
    for source, said in (("x = models.DenseLayer(3, 2)", "builds `models.DenseLayer`"),
                         ("from torch import nn", "imports `torch`"),
                         ("m = getattr(globals()['mod' + 'els'], 'DenseLayer')", "`getattr`"),
                         ("n = ().__class__", "`.__class__`"), ("def f(:", "does not parse")):
        assert said in exercises.rule_violation([source], rules), source
    lstsq = exercises.MODULES["ex05"].QUESTIONS["q3"].rules
    assert "never calls `lstsq`" in exercises.rule_violation(["def fit_error(f, t):\n    return 0.0"], lstsq)
    inverse = exercises.MODULES["ex05"].QUESTIONS["q2"].rules
    assert "`torch.linalg.inv`" in exercises.rule_violation(["M = torch.linalg.inv(A) @ B"], inverse)


def test_judge_rejects_lookalikes_and_accepts_the_reference():
    params = {"fit": "affine"}
    q3 = exercises.MODULES["ex05"].QUESTIONS["q3"]
    with pytest.raises(AssertionError, match="float"):
        exercises.judge(q3, "ex05 q3", [1, 1, 1], params)              # ints are not floats
    with pytest.raises(exercises.PlainDataError):
        exercises.plain(type("F", (float,), {"__eq__": lambda s, o: True})(0.0))
    ns = {}
    exec(_source_of("ex05", "q3-answer"), {"torch": __import__("torch")}, ns)
    data = q3.probe(ns, params)
    exercises.judge(q3, "ex05 q3", data, params)
    with pytest.raises(AssertionError):
        exercises.judge(q3, "ex05 q3", [v + 1e-3 for v in data], params)


def _source_of(ex: str, grade_id: str) -> str:
    master = next((ROOT / course.MASTER_DIR).glob(f"{ex}_*.ipynb"))
    nb = nbformat.read(master, as_version=4)
    return next(c.source for c in nb.cells if course.nbgrader_meta(c).get("grade_id") == grade_id)


# --------------------------------------------------------------------------- a class of 20
_ONE_AT_A_TIME = threading.Lock()


def _in_process(cells, exercise, question, params, *, lib, isolation, timeout):
    """The sandbox's work without its child process: exec the cells, run the probe (one at a
    time: each real sandbox is a process of its own, with its own global random state)."""
    ns = {"__name__": "__main__"}
    with _ONE_AT_A_TIME:
        return _probe(cells, exercise, question, params, ns)


def _probe(cells, exercise, question, params, ns):
    try:
        for cell in cells:
            exec(compile(cell, "<cell>", "exec"), ns)
        data = exercises.MODULES[exercise[:4]].QUESTIONS[question].probe(ns, params)
        return {"data": json.loads(json.dumps(data))}
    except Exception as e:      # noqa: BLE001
        return {"error": type(e).__name__, "message": str(e)}


@pytest.mark.slow
def test_a_class_of_20_is_graded_5_times_and_an_internal_error_costs_one_question(tmp_path, monkeypatch):
    """The threaded part of grading (libraries prepared once per run, rules, concurrent question
    runs, judges, gradebook) over 20 honest or partial submissions, five runs in a row; nbgrader's
    kernel and the sandbox's child process are replaced by in-process stand-ins (the graded fixture
    above runs them for real). The fifth run forces an internal error in one question."""
    from nbgrader.api import Gradebook
    where = tmp_path / "course"
    course.build(where, exercises=["ex05"], cell_timeout=CELL_TIMEOUT)
    source, release = _nb(where, "ex05", "source"), _nb(where, "ex05", "release")
    answers = {q: _answer_source(source, f"{q}-answer") for q in ("q1", "q2", "q3")}
    points = {"q1": 1, "q2": 2, "q3": 2}
    want, q2_right = {}, set()
    for i in range(20):
        nb = course.answered(release, release)
        right = [q for q in points if i >> "123".index(q[1]) & 1 or i % 7 == 0]
        for cell in nb.cells:
            q = course.question_of(cell)
            if course.nbgrader_meta(cell).get("solution") and q in right:
                cell.source = answers[q]
        _submit(where, tmp_path, f"s{i:02d}", "ex05", nb)
        want[f"s{i:02d}"] = sum(points[q] for q in right)
        if "q2" in right:
            q2_right.add(f"s{i:02d}")
    monkeypatch.setattr(course, "_kernel_run", lambda course_dir, ex, st, *a: (
        nbformat.read(course_dir / "submitted" / st / ex / f"{ex}.ipynb", as_version=4), "", False))
    monkeypatch.setattr(sandbox, "evaluate", _in_process)
    for run in range(5):
        if run == 4:        # q2's sandbox fails for everyone (say, a full disk): q1 and q3 still count
            def broken(cells, exercise, question, *args, **kwargs):
                if question == "q2":
                    raise OSError("no space left on device (forced)")
                return _in_process(cells, exercise, question, *args, **kwargs)
            monkeypatch.setattr(sandbox, "evaluate", broken)
            want = {st: score - 2 * (st in q2_right) for st, score in want.items()}
        rows = {r["student"]: r for r in course.autograde(where, question_timeout=QUESTION_TIMEOUT)}
        assert sorted(rows) == sorted(want) and not any(r.get("error") for r in rows.values())
        assert {s: r["auto_score"] for s, r in rows.items()} == want, run
    for row in rows.values():
        assert row["internal_errors"] == ["q2"], row["questions"]
        assert row["questions"]["q2"]["message"].startswith(course.INTERNAL)
    with Gradebook(f"sqlite:///{where / 'gradebook.db'}", course_id=course.COURSE_ID) as gb:
        for st, score in want.items():
            assert gb.find_submission("ex05", st).code_score == score, st
