"""Classroom assignments from the book's exercises, graded with nbgrader.

The exercise pages in ``chapters/exercises/`` are the nbgrader *source* notebooks: their cells
carry nbgrader metadata (answer cells with ``### BEGIN SOLUTION``, autograded test cells with
points and ``### BEGIN HIDDEN TESTS``, manually graded written answers, rubric task cells with
``### BEGIN MARK SCHEME``, read-only cells). This module lays out an nbgrader course folder from
them and drives nbgrader, adding what nbgrader's own "the test cell raised no error" cannot
guarantee: each question's hidden tests are decided outside the student's kernel
(``dnet_tools.sandbox`` + ``dnet_tools.exercises``), each question's stated rules are checked on
the answer's source, and a submission that touches grading files is detected and undone.

    python -m dnet_tools.course build COURSE [--variant-seed N]   # source/, release/, gradebook
    python -m dnet_tools.course submit COURSE STUDENT NOTEBOOK    # file a notebook under submitted/
    python -m dnet_tools.course autograde COURSE [--exercise EX] [--student ID] [--trusted]
    python -m dnet_tools.course feedback COURSE                   # nbgrader generate_feedback
    python -m dnet_tools.course export COURSE                     # nbgrader export -> grades.csv
    python -m dnet_tools.course students                          # write students/ (book variant)
    python -m dnet_tools.course check                             # exit 1 if students/ is stale
"""
from __future__ import annotations

import argparse
import compileall
import contextlib
from concurrent.futures import ThreadPoolExecutor
import copy
import hashlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

from dnet_lib.data import data_root
from dnet_lib.files import atomic_write_text

from . import exercises, sandbox

ROOT = Path(__file__).resolve().parents[1]
MASTER_DIR = Path("chapters") / "exercises"
STUDENT_DIR = Path("students")
COURSE_ID = "dnet-book"
HIDDEN_CALL = "globals())"          # the end of each hidden test's checks.hidden_tests(...) call
SETUP_TAG = "dnet-setup"            # the cell a question's sandbox runs before the answer cells
GRADING_DIR = ".grading"            # course-folder files the grader keeps for itself

__all__ = ["master_paths", "exercise_of", "variant_source", "choose_variants", "build", "submit",
           "autograde", "feedback", "export", "students", "check", "nbgrader_meta", "question_of"]

CONFIG = """\
# nbgrader configuration written by `python -m dnet_tools.course build`.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.assignment_id = ""
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# autograde: every cell gets at most this many seconds; a cell that hangs is interrupted
c.Execute.timeout = {cell_timeout}
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 0
"""


# --------------------------------------------------------------------------- notebooks
def master_paths(root: Path = ROOT) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / MASTER_DIR).glob("ex*.ipynb"))


def exercise_of(path: str | Path) -> str:
    """``ex05`` for ``ex05_concat_vs_add.ipynb``."""
    return Path(path).stem.split("_", 1)[0]


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def question_of(cell) -> str | None:
    """``q1`` for a cell whose nbgrader grade_id is ``q1-answer`` / ``q1-tests`` / ``q1-question``."""
    gid = nbgrader_meta(cell).get("grade_id", "")
    head = gid.split("-", 1)[0]
    return head if head.startswith("q") and head[1:].isdigit() else None


def _text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def variant_source(master_nb, exercise: str, variant: str) -> nbformat.NotebookNode:
    """The master with ``variant``'s replacements applied and its hidden tests pointed at it."""
    spec = exercises.MODULES[exercise].variants()[variant]
    nb = copy.deepcopy(master_nb)
    by_id = {c.get("id"): c for c in nb.cells}
    for cell_id, old, new in spec["replace"]:
        if cell_id not in by_id or old not in _text(by_id[cell_id]):
            raise ValueError(f"{exercise} variant {variant!r}: {old!r} is not in cell {cell_id!r}")
        by_id[cell_id].source = _text(by_id[cell_id]).replace(old, new)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if variant != "book" and "hidden_tests(" in _text(cell):
                cell.source = _text(cell).replace(HIDDEN_CALL, f'globals(), variant="{variant}")')
    nb.metadata.pop("widgets", None)
    nb.metadata["dnet_variant"] = {"exercise": exercise, "variant": variant}
    return nb


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def answered(release_nb, source_nb) -> nbformat.NotebookNode:
    """The student's copy handed in with every answer cell taken from ``source_nb`` (the
    master or a variant's source), without nbgrader's solution markers: full marks."""
    answers = {nbgrader_meta(c).get("grade_id"): _text(c) for c in source_nb.cells}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            cell.source = "\n".join(line for line in answers[meta["grade_id"]].split("\n")
                                    if line.strip() not in SOLUTION_MARKERS)
    return nb


def choose_variants(exercises: list[str], seed: int | None) -> dict[str, str]:
    """The book's version without a seed; with one, a graded variant per exercise."""
    if seed is None:
        return {ex: "book" for ex in exercises}
    rng = random.Random(seed)
    return {ex: rng.choice(sorted(v for v in _variants(ex) if v != "book")) for ex in exercises}


def _variants(exercise: str) -> dict:
    return exercises.MODULES[exercise].variants()


# --------------------------------------------------------------------------- nbgrader calls
# Each cell has its own limit (build's --cell-timeout), so a run stopped as a whole means a slow
# or busy machine: a verdict the grader owes, not a zero the answer earned.
STOPPED = ("the notebook's run was stopped at --timeout {timeout:g} s before its test cells "
           "finished; regrade with a longer --timeout or on a quieter machine")


def _nbgrader(args: list[str], cwd: Path, *, timeout: float = 600, env: dict | None = None,
              preexec=None, wrap=None) -> subprocess.CompletedProcess:
    """nbgrader's command line run in ``cwd``; ``returncode`` is None when it was killed at
    ``timeout``."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    if wrap is not None:            # e.g. inside bubblewrap
        cmd = wrap(cmd)
    env = dict(os.environ if env is None else env)
    # nbgrader runs `alembic` from PATH: the environment's own bin folder comes first
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=preexec is None, preexec_fn=preexec)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out = (out or "") + f"\n[dnet] nbgrader {args[0]} killed after {timeout:g} s"
        return subprocess.CompletedProcess(cmd, None, out, None)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def _run_ok(args: list[str], cwd: Path, **kw) -> str:
    result = _nbgrader(args, cwd, **kw)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}")
    return result.stdout


# --------------------------------------------------------------------------- build
def build(course: str | Path, *, variant_seed: int | None = None, exercises: list[str] | None = None,
          cell_timeout: int = 120, root: Path = ROOT) -> dict[str, str]:
    """Lay out an nbgrader course folder and release the exercises; returns exercise -> variant."""
    course = Path(course).resolve()
    masters = {exercise_of(p): p for p in master_paths(root)}
    exercises = sorted(masters) if exercises is None else exercises
    unknown = sorted(set(exercises) - set(masters))
    if unknown:
        raise ValueError(f"exercises must be among {sorted(masters)}, got {unknown}")
    chosen = choose_variants(exercises, variant_seed)
    for sub in ("source", "release", "submitted", "autograded", "feedback", GRADING_DIR):
        (course / sub).mkdir(parents=True, exist_ok=True)
    atomic_write_text(course / "nbgrader_config.py", CONFIG.format(course_id=COURSE_ID, cell_timeout=cell_timeout))
    for ex in exercises:
        nb = variant_source(nbformat.read(root / masters[ex], as_version=4), ex, chosen[ex])
        folder = course / "source" / ex
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ex}.ipynb")
    # one nbgrader start for all (its start-up dominates): the assignment id is a glob
    pattern = "*" if set(exercises) == {p.name for p in (course / "source").iterdir()} else None
    for ex in ([pattern] if pattern else exercises):
        _run_ok(["generate_assignment", ex, "--force", "--log-level=WARN"], course)
    state = _read_json(course / GRADING_DIR / "variants.json")
    state.update(chosen)
    atomic_write_text(course / GRADING_DIR / "variants.json", json.dumps(state, indent=1, sort_keys=True) + "\n")
    _write_template(course)
    return chosen


def _write_template(course: Path) -> None:
    """A copy of the gradebook with the assignments and no students: scratch grading starts from it."""
    from nbgrader.api import Gradebook
    template = course / GRADING_DIR / "template.db"
    shutil.copy(course / "gradebook.db", template)
    with Gradebook(f"sqlite:///{template}", course_id=COURSE_ID) as gb:
        for st in list(gb.students):
            gb.remove_student(st.id)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def submit(course: str | Path, student: str, notebook: str | Path, exercise: str | None = None) -> Path:
    """Copy a student's notebook to ``submitted/STUDENT/EX/EX.ipynb`` (what nbgrader collects)."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise ValueError(f"notebook must be an existing .ipynb file, got {str(notebook)!r}")
    if not student.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"student must be letters, digits, '-' or '_', got {student!r}")
    exercise = exercise or exercise_of(notebook)
    dest = Path(course) / "submitted" / student / exercise / f"{exercise}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, dest)
    atomic_write_text(dest.parent / "timestamp.txt", time.strftime("%Y-%m-%d %H:%M:%S UTC\n", time.gmtime()))
    return dest


# --------------------------------------------------------------------------- integrity
PACKAGES = ("dnet_lib", "dnet_tools")


def _package_files(root: Path) -> dict[str, bytes]:
    """The grader's private snapshot of the library and tools (taken once per autograde run)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _write_packages(files: dict[str, bytes], dest: Path) -> Path:
    for rel, data in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    compileall.compile_dir(dest, quiet=1)   # once here, not in every kernel run that imports it
    return dest


def _snapshot(course: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}


def _restore(snap: dict[Path, bytes], course: Path) -> list[str]:
    """Undo every change to the course folder since ``snap``; returns what had changed.

    Only the course folder is restored: it belongs to the grader. The repository is shared with
    its maintainers, so changes there are reported (``repo_changed``), never undone.
    """
    changed = []
    for path in sorted(p for p in course.rglob("*") if p.is_file() and p not in snap):
        changed.append(f"created {path.relative_to(course)}")
        path.unlink()
    for path, data in snap.items():
        if not path.is_file() or path.read_bytes() != data:
            changed.append(f"changed {path.relative_to(course)}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return changed


def _repo_changes(before: dict[str, bytes], root: Path) -> list[str]:
    now = _package_files(root)
    return sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))


# --------------------------------------------------------------------------- autograde
def _kernel_run(course: Path, exercise: str, student: str, timeout: float,
                packages: Path, isolation: str) -> tuple[nbformat.NotebookNode | None, str, bool]:
    """nbgrader autograde of one submission in a scratch course folder (under bubblewrap, which
    shows it nothing else of the host's files, unless ``isolation`` is "process"): the
    autograded notebook, the log, and whether the run was stopped at ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="dnet-autograde-") as tmp:
        scratch = Path(tmp) / "course"
        shutil.copytree(packages, Path(tmp) / "packages")
        (scratch / "submitted" / student).mkdir(parents=True)
        shutil.copytree(course / "submitted" / student / exercise, scratch / "submitted" / student / exercise)
        shutil.copy(course / "nbgrader_config.py", scratch)
        shutil.copy(course / GRADING_DIR / "template.db", scratch / "gradebook.db")
        home = Path(tmp) / "home"
        home.mkdir()
        boxed = isolation == "bwrap"
        drop = not boxed and sandbox.can_drop_privileges()
        if drop:
            for path in [Path(tmp), *Path(tmp).rglob("*")]:
                os.chown(path, sandbox.NOBODY, sandbox.NOBODY, follow_symlinks=False)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
               "JUPYTER_RUNTIME_DIR": str(home / "rt"), "IPYTHONDIR": str(home / "ipy"),
               "JUPYTER_CONFIG_DIR": str(home / "cfg"), "MPLCONFIGDIR": str(home), "MPLBACKEND": "Agg",
               "DNET_SMOKE": "1", "OMP_NUM_THREADS": "1", "TMPDIR": str(home), "PYTHONHASHSEED": "0",
               "PYTHONPATH": str(Path(tmp) / "packages"), "PYTHONWARNINGS": "ignore",
               "DNET_DATA_DIR": str(data_root())}
        args = ["autograde", exercise, "--student", student, "--force", "--log-level=WARN"]
        wrap = None
        if boxed:
            wrap = lambda cmd: sandbox.kernel_command(Path(tmp), [Path(sys.prefix), data_root()], cmd,
                                                      cwd=scratch)
        result = _nbgrader(args, scratch, timeout=timeout, env=env, preexec=lambda: sandbox.isolate(drop),
                           wrap=wrap)
        out = scratch / "autograded" / student / exercise / f"{exercise}.ipynb"
        if result.returncode is None:       # the machine, or --timeout, not the answer: say so
            return None, f"{result.stdout[-2000:]}\n{STOPPED.format(timeout=timeout)}", True
        try:
            return nbformat.read(out, as_version=4), result.stdout, False
        except Exception as e:      # noqa: BLE001 - no notebook (crashed, corrupted): nothing passed
            return None, f"{result.stdout[-2000:]}\n[dnet] no autograded notebook: {type(e).__name__}", False


def _answer_cells(nb, questions: list[str]) -> list[str]:
    return [_text(c) for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")
            and question_of(c) in questions]


def _setup_cells(source_nb) -> list[str]:
    return [_text(c) for c in source_nb.cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]


INTERNAL = "internal error in the grader"     # a verdict that is not the answer's fault


def _verdicts(source_nb, submission_nb, exercise: str, variant: str, libs: dict, isolation: str,
              question_timeout: float) -> dict[str, tuple[bool, str]]:
    """question -> (passed, message): a sandboxed probe judged in this process, then the
    question's rules on the answer's source (a right answer that breaks them scores 0). A
    question the grader fails on is an internal-error verdict (message starting with
    ``INTERNAL``); the other questions are graded as usual."""
    module = exercises.MODULES[exercise]
    params = module.variants()[variant]["params"]
    specs = module.QUESTIONS
    answers = {q: _answer_cells(submission_nb, [*spec.depends, q]) for q, spec in specs.items()}

    def run(q):
        try:
            return sandbox.evaluate(_setup_cells(source_nb) + answers[q], module.__name__.rsplit(".", 1)[-1],
                                    q, params, lib=libs[exercise, q], isolation=isolation,
                                    timeout=min(specs[q].timeout, question_timeout))
        except Exception as e:      # noqa: BLE001 - e.g. no disk space for the job: not the answer's fault
            return {"error": "internal", "message": f"{type(e).__name__}: {e}"}
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:   # one process per question
        results = dict(zip(specs, pool.map(run, specs)))
    out = {}
    for q, result in results.items():
        try:
            if result.get("error") == "internal":
                raise RuntimeError(result["message"])
            if "error" in result:
                out[q] = (False, f"{result['error']}: {result.get('message', '')}")
                continue
            exercises.judge(specs[q], f"{exercise} {q}", result["data"], params)
            broken = exercises.rule_violation(answers[q], specs[q].rules)
            out[q] = (False, broken) if broken else (True, "hidden tests passed")
        except AssertionError as e:
            out[q] = (False, str(e) or "hidden tests failed")
        except Exception as e:      # noqa: BLE001 - the grader's fault, not the answer's
            out[q] = (False, f"{INTERNAL} ({type(e).__name__}: {e}); regrade this question")
    return out


def _kernel_score(cell) -> float | None:
    from nbgrader import utils
    return utils.determine_grade(cell, logging.getLogger("dnet.course"))[0]


def _libraries(packages: Path, dest: Path, chosen: dict[str, str]) -> dict[tuple[str, str], Path]:
    """(exercise, question) -> its private library: prepared once per run, before any thread."""
    wanted = {}
    for ex in chosen:
        specs = exercises.MODULES[ex].QUESTIONS
        for q, spec in specs.items():
            # a question that builds on another's answer inherits that answer's forbidden shortcuts
            wanted[ex, q] = tuple(sorted({f for d in (*spec.depends, q) for f in specs[d].forbidden}))
    libs = sandbox.prepare(packages, dest, wanted.values())
    return {key: libs[forbidden] for key, forbidden in wanted.items()}


def autograde(course: str | Path, exercise: str | None = None, student: str | None = None, *,
              timeout: float = 600, question_timeout: float = 60, trusted: bool = False,
              root: Path = ROOT) -> list[dict]:
    """Grade submitted notebooks; returns one row per (student, exercise) with per-question scores.

    Answers run under bubblewrap (``sandbox``); without it this raises
    :class:`sandbox.SandboxUnavailable` unless ``trusted`` (then the process sandbox is used and
    every row says ``"isolation": "process"``). A submission the grader fails on gets a row with
    ``"error"`` and zero points; the others are graded.
    """
    course = Path(course).resolve()
    if sandbox.bwrap_available():
        isolation = "bwrap"
    elif trusted:
        isolation = "process"
    else:
        raise sandbox.SandboxUnavailable(
            "bubblewrap (bwrap) is not installed or cannot start here, so an answer could read the "
            "course; install it (scripts/ensure_bubblewrap.sh, Debian: apt-get install bubblewrap) or "
            "pass --trusted to grade submissions you trust in the process sandbox")
    chosen = _read_json(course / GRADING_DIR / "variants.json")
    _import_judges()
    files = _package_files(root)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dnet-packages-") as tmp:
        tmp = Path(tmp)
        packages = _write_packages(files, tmp / "packages")
        libs = _libraries(packages, tmp / "libs", chosen)
        for sub_dir in sorted((course / "submitted").glob("*/*")):
            st, ex = sub_dir.parent.name, sub_dir.name
            if (student and st != student) or (exercise and ex != exercise) or not sub_dir.is_dir():
                continue
            if ex not in chosen:
                raise ValueError(f"submitted/{st}/{ex}: exercise {ex!r} was not built in this course")
            try:
                row = _grade_one(course, ex, st, chosen[ex], timeout, question_timeout, packages,
                                 libs, isolation)
            except Exception as e:      # noqa: BLE001 - one submission never ends the class's run
                row = {"student": st, "exercise": ex, "variant": chosen[ex], "tampered": [], "questions": {},
                       "auto_score": 0.0, "auto_points": 0.0, "manual": [], "kernel_log": "",
                       "error": f"{INTERNAL} ({type(e).__name__}: {e}); nothing was written for it"}
            row["isolation"] = isolation
            row["repo_changed"] = _repo_changes(files, root)
            rows.append(row)
    return rows


def _import_judges() -> None:
    """Import what the judges use before any student code runs (a later edit on disk is ignored)."""
    import torchvision  # noqa: F401
    from dnet_lib import memory, models  # noqa: F401
    from nbgrader import utils  # noqa: F401
    from nbgrader.api import Gradebook  # noqa: F401


def _grade_one(course: Path, ex: str, st: str, variant: str, timeout: float, question_timeout: float,
               packages: Path, libs: dict, isolation: str) -> dict:
    from nbgrader.api import Gradebook, MissingEntry
    source_nb = nbformat.read(course / "source" / ex / f"{ex}.ipynb", as_version=4)
    submission_path = course / "submitted" / st / ex / f"{ex}.ipynb"
    snap = _snapshot(course)
    try:
        submission_nb = nbformat.read(submission_path, as_version=4)
    except Exception:       # noqa: BLE001 - an unreadable submission earns nothing
        submission_nb = nbformat.v4.new_notebook()
    with ThreadPoolExecutor(max_workers=2) as pool:     # the kernel run and the sandboxes overlap
        kernel = pool.submit(_kernel_run, course, ex, st, timeout, packages, isolation)
        verdicts = pool.submit(_verdicts, source_nb, submission_nb, ex, variant, libs, isolation,
                               question_timeout).result()
        graded_nb, log, stopped = kernel.result()
    tampered = _restore(snap, course)
    kernel_cells = {nbgrader_meta(c).get("grade_id"): c for c in (graded_nb.cells if graded_nb else [])}
    submitted_cells = {nbgrader_meta(c).get("grade_id"): c for c in submission_nb.cells}
    scores, manual = {}, []
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        kcell = kernel_cells.get(gid)
        if meta.get("grade") and cell.cell_type == "code":
            passed, why = verdicts.get(question_of(cell), (False, "no hidden tests for this cell"))
            kernel = _kernel_score(kcell) if kcell is not None else 0.0
            ok = passed and kernel == meta["points"] and not tampered
            if stopped:
                why = f"{INTERNAL}: {STOPPED.format(timeout=timeout)}"
            elif kernel != meta["points"]:
                why += "; the test cell failed in the notebook"
            if kcell is not None:           # the verdict, for the formgrader and the feedback
                kcell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"[grader] {'passed' if ok else 'FAILED'}: {why}\n"))
            scores[gid] = (meta["points"] if ok else 0.0, meta["points"], why)
        elif meta.get("grade") or meta.get("task"):
            # a written answer left as the stub scores 0 at once; any other waits for a person,
            # even when the notebook's run failed (the answer is read, not run)
            written = kcell if kcell is not None else submitted_cells.get(gid)
            auto = None if meta.get("task") or written is None else _kernel_score(written)
            manual.append(gid)
            scores[gid] = (0.0 if tampered else auto, meta["points"], "graded by hand")
    dest = course / "autograded" / st / ex
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    nbformat.write(graded_nb or submission_nb, dest / f"{ex}.ipynb")
    stamp = course / "submitted" / st / ex / "timestamp.txt"
    if stamp.is_file():
        shutil.copy(stamp, dest)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_student(st)
        with contextlib.suppress(MissingEntry):
            gb.remove_submission(ex, st)
        gb.add_submission(ex, st)
        for gid, (score, _, _) in scores.items():
            grade = gb.find_grade(gid, ex, ex, st)
            grade.auto_score = score
            grade.needs_manual_grade = score is None
        gb.db.commit()
    auto = {gid: s for gid, s in scores.items() if gid not in manual}
    return {"student": st, "exercise": ex, "variant": variant, "tampered": tampered,
            "questions": {question_of_id(gid): {"score": s[0], "points": s[1], "message": s[2]}
                          for gid, s in auto.items()},
            "auto_score": sum(s[0] for s in auto.values()), "auto_points": sum(s[1] for s in auto.values()),
            "manual": manual, "kernel_log": log[-2000:],
            "internal_errors": [question_of_id(gid) for gid, s in auto.items() if s[2].startswith(INTERNAL)]}


def question_of_id(grade_id: str) -> str:
    return grade_id.split("-", 1)[0]


def feedback(course: str | Path) -> str:
    return _run_ok(["generate_feedback", "*", "--force", "--log-level=WARN"], Path(course).resolve())


def export(course: str | Path) -> Path:
    course = Path(course).resolve()
    _run_ok(["export", "--log-level=WARN"], course)
    return course / "grades.csv"


# --------------------------------------------------------------------------- students/
def _student_copies(root: Path) -> dict[Path, str]:
    """students/<name>.ipynb -> text: nbgrader's release of the book variant of every master."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        chosen = build(tmp, root=root)
        for master in master_paths(root):
            ex = exercise_of(master)
            assert chosen[ex] == "book"
            nb = nbformat.read(Path(tmp) / "release" / ex / f"{ex}.ipynb", as_version=4)
            nb.metadata.pop("dnet_variant", None)
            text = nbformat.writes(nb)
            out[STUDENT_DIR / master.name] = text if text.endswith("\n") else text + "\n"
    return out


def students(root: Path = ROOT) -> list[Path]:
    """Write students/*.ipynb (nbgrader release of the book's exercises); drop orphans."""
    expected = _student_copies(root)
    for rel, text in expected.items():
        atomic_write_text(root / rel, text)
    for old in (root / STUDENT_DIR).glob("*.ipynb"):
        if old.relative_to(root) not in expected:
            old.unlink()
    return sorted(expected)


def _normalised(text: str):
    nb = json.loads(text)
    nb.pop("nbformat_minor", None)
    return nb


def check(root: Path = ROOT) -> list[str]:
    """Problems with the committed student notebooks (empty list = current)."""
    problems = []
    expected = _student_copies(root)
    for rel, text in expected.items():
        path = root / rel
        if not path.exists():
            problems.append(f"{rel.as_posix()}: missing")
        elif _normalised(path.read_text(encoding="utf-8")) != _normalised(text):
            problems.append(f"{rel.as_posix()}: stale (differs from what `students` writes)")
    for extra in sorted((root / STUDENT_DIR).glob("*.ipynb")):
        if extra.relative_to(root) not in expected:
            problems.append(f"{extra.relative_to(root).as_posix()}: has no master notebook")
    return problems


# --------------------------------------------------------------------------- CLI
def format_rows(rows: list[dict]) -> str:
    lines = [f"{'student':<12} {'exercise':<8} {'variant':<8} {'auto':>9}  per question"]
    kinds = sorted({r.get("isolation", "bwrap") for r in rows})
    if "process" in kinds:
        lines.insert(0, "TRUSTED MODE: answers ran in the process sandbox (no bubblewrap), which does "
                        "not hide the filesystem")
    for r in rows:
        per = "  ".join(f"{q} {v['score']:g}/{v['points']:g}" for q, v in r["questions"].items())
        flag = "  TAMPERING UNDONE" if r["tampered"] else ""
        if r.get("error"):
            flag += f"  {r['error'].upper()}"
        elif r.get("internal_errors"):
            flag += f"  {INTERNAL.upper()} in {', '.join(r['internal_errors'])}: regrade"
        lines.append(f"{r['student']:<12} {r['exercise']:<8} {r['variant']:<8} "
                     f"{r['auto_score']:>4g}/{r['auto_points']:<4g}  {per}{flag}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnet_tools.course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="lay out COURSE and release the exercises")
    b.add_argument("course")
    b.add_argument("--variant-seed", type=int, default=None, help="graded variants for a class")
    b.add_argument("--exercise", action="append", default=None, help="only these (repeatable)")
    b.add_argument("--cell-timeout", type=int, default=120)
    s = sub.add_parser("submit", help="file NOTEBOOK as STUDENT's submission")
    s.add_argument("course"), s.add_argument("student"), s.add_argument("notebook")
    s.add_argument("--exercise", default=None)
    a = sub.add_parser("autograde", help="grade submitted notebooks")
    a.add_argument("course")
    a.add_argument("--exercise", default=None)
    a.add_argument("--student", default=None)
    a.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    a.add_argument("--question-timeout", type=float, default=60, help="CPU seconds per question's sandbox")
    a.add_argument("--json", default=None, help="also write the rows as JSON here")
    a.add_argument("--trusted", action="store_true",
                   help="without bubblewrap, grade in the process sandbox (only submissions you trust)")
    for name in ("feedback", "export"):
        sub.add_parser(name).add_argument("course")
    sub.add_parser("students", help="write students/ from the masters")
    sub.add_parser("check", help="fail if students/ is stale")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            chosen = build(args.course, variant_seed=args.variant_seed, exercises=args.exercise,
                           cell_timeout=args.cell_timeout)
            print("released: " + ", ".join(f"{ex} ({v})" for ex, v in chosen.items()))
        elif args.command == "submit":
            print(submit(args.course, args.student, args.notebook, args.exercise))
        elif args.command == "autograde":
            rows = autograde(args.course, args.exercise, args.student, timeout=args.timeout,
                             question_timeout=args.question_timeout, trusted=args.trusted)
            print(format_rows(rows))
            if args.json:
                atomic_write_text(Path(args.json), json.dumps(rows, indent=1) + "\n")
            if any(r.get("error") or r.get("internal_errors") for r in rows):
                return 1
        elif args.command == "feedback":
            feedback(args.course)
            print(f"feedback in {Path(args.course) / 'feedback'}")
        elif args.command == "export":
            print(export(args.course))
        elif args.command == "students":
            for p in students():
                print(f"wrote {p.as_posix()}")
        elif args.command == "check":
            problems = check()
            if problems:
                print("students/ is out of date; run `python -m dnet_tools.course students`:", file=sys.stderr)
                for p in problems:
                    print(f"  {p}", file=sys.stderr)
                return 1
            print(f"ok: {len(master_paths())} student notebooks match their masters")
    except (ValueError, sandbox.SandboxUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
