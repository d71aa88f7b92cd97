"""How long an instructor waits: one class graded end to end with ``dnet_tools.course``.

Builds a course folder for one exercise (default ex05), files ``--students`` submissions the way
an instructor would (``submit``): the answered master, the untouched student copy and a copy
with one answer left as the stub, in turn, then runs ``autograde`` over the class under
bubblewrap and times it. Goals: every submission graded with no crash and no internal error,
each kind scored as it must be (master full marks, untouched 0, one-stub loses exactly that
question). The time is a per-machine report (a CPU figure holds for the machine it names).

    python benchmarks/grade_class.py                # 20 students -> book/results/grade_class_cpu.json
    python benchmarks/grade_class.py --smoke        # 2 students, temporary output
"""
from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))     # dnet_tools: not installed

import nbformat  # noqa: E402

import _common  # noqa: E402
from dnet_tools import course  # noqa: E402

KINDS = ("master", "untouched", "one_stub")


def _nb(where: Path, exercise: str, kind: str):
    return nbformat.read(where / kind / exercise / f"{exercise}.ipynb", as_version=4)


def submissions(release, source) -> dict[str, tuple[nbformat.NotebookNode, str | None]]:
    """kind -> (notebook, the question left as the stub, "all", or None)."""
    answered = course.answered(release, source)
    stub_id = [course.nbgrader_meta(c)["grade_id"] for c in answered.cells
               if course.nbgrader_meta(c).get("solution") and c.cell_type == "code"][-1]
    stubbed = copy.deepcopy(answered)
    for cell, original in zip(stubbed.cells, release.cells):
        if course.nbgrader_meta(cell).get("grade_id") == stub_id:
            cell.source = original.source
    return {"master": (answered, None), "untouched": (release, "all"),
            "one_stub": (stubbed, course.question_of_id(stub_id))}


def expected_score(row: dict, stub: str | None) -> bool:
    points = {q: v["points"] for q, v in row["questions"].items()}
    if stub is None:
        return row["auto_score"] == row["auto_points"]
    if stub == "all":
        return row["auto_score"] == 0
    return row["auto_score"] == row["auto_points"] - points[stub] and row["questions"][stub]["score"] == 0


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=None, help="class size (default 20, smoke 2)")
    p.add_argument("--exercise", default="ex05", help="which exercise the class hands in")
    args = p.parse_args(argv)
    device, smoke = _common.setup(args, "grade_class")
    n = args.students or (2 if smoke else 20)
    if not 1 <= n <= 200:
        raise SystemExit(f"--students must be between 1 and 200, got {n}")
    load_before = _common.load_average()
    with tempfile.TemporaryDirectory(prefix="dnet-class-") as tmp:
        where = Path(tmp) / "course"
        t0 = time.perf_counter()
        course.build(where, exercises=[args.exercise])
        build_s = time.perf_counter() - t0
        kinds = submissions(_nb(where, args.exercise, "release"), _nb(where, args.exercise, "source"))
        stubs = {}
        for i in range(n):
            kind = KINDS[i % len(KINDS)]
            student = f"s{i + 1:02d}_{kind}"
            nb, stubs[student] = kinds[kind]
            path = Path(tmp) / f"{student}.ipynb"
            nbformat.write(nb, path)
            course.submit(where, student, path, args.exercise)
        t0 = time.perf_counter()
        rows = course.autograde(where, exercise=args.exercise)
        grade_s = time.perf_counter() - t0
    print(course.format_rows(rows))
    wrong = [r["student"] for r in rows if not expected_score(r, stubs[r["student"]])]
    failed = [r["student"] for r in rows if r.get("error") or r.get("internal_errors")]
    results = {"exercise": args.exercise, "students": n, "graded": len(rows),
               "build_s": round(build_s, 1), "autograde_s": round(grade_s, 1),
               "per_submission_s": round(grade_s / max(len(rows), 1), 1),
               "isolation": sorted({r["isolation"] for r in rows}),
               "wrongly_scored": wrong, "errors": failed}
    print(f"\n{n} submissions of {args.exercise} graded in {grade_s:.0f} s "
          f"({results['per_submission_s']:.1f} s each; course build {build_s:.0f} s)")
    goals = [_common.goal("every submission graded, no crash, no internal error",
                          f"{len(rows)} of {n} graded, {len(failed)} with errors", "all, none",
                          len(rows) == n and not failed),
             _common.goal("each kind scored as it must be (master full, untouched 0, one stub "
                          "loses that question)", f"{n - len(wrong)} of {n}", "all", not wrong)]
    _common.finish("grade_class", args, device, smoke, results, goals,
                   ["the time holds for the machine in device_info only"], load_before)
    return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())
