"""Run a student's answer to one question in a throwaway process and get back plain data only.

The grader (``dnet_tools.course``) never runs student code in its own process. For each autograded
question it calls :func:`evaluate`, which

* copies ``dnet_lib`` and the probe module into a fresh temporary folder, with the library
  functions that already implement the asked function replaced by stubs that raise;
* starts ``python -I -S`` there (no site hooks, so the installed ``dnet_lib`` is not importable),
  in its own session, with a scrubbed environment, a CPU-time limit and a wall-clock timeout,
  and as the unprivileged ``nobody`` user when the grader runs as root and ``nobody`` can start
  this Python (otherwise as the grader's user: ``dnet_tools.course`` then detects and undoes
  changes to grading files, but cannot stop a process from signalling its own user's processes);
* runs the notebook's setup cell and the student's answer cells for that question, then the
  probe, and reads the probe's JSON from a file in that folder.

Whatever happens inside (an exception swallowed by a hook, ``sys.exit``, a killed process, an
endless loop, forged output) the grader gets either JSON that it judges itself, or nothing.
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534

# Runs inside the sandbox: argv = [job.json]. Kept small; the probe module does the work.
_HARNESS = r'''
import json, sys, traceback
job = json.load(open(sys.argv[-1]))
sys.path[:0] = [job["lib"]]
sys.argv = ["student"]
result = {"error": "the answer cells did not finish"}
try:
    import hidden_tests_probe as _probes
    ns = {"__name__": "__main__"}
    for i, src in enumerate(job["cells"]):
        exec(compile(src, f"<cell {i}>", "exec"), ns)
    probe = _probes.QUESTIONS[job["exercise"]][job["question"]].probe
    result = {"data": probe(ns, job["params"])}
except BaseException as e:
    result = {"error": type(e).__name__, "message": str(e)[:300]}
text = json.dumps(result)
with open(job["out"], "w") as f:
    f.write(text)
'''


def _module_file(lib: Path, module: str) -> Path:
    rel = Path(*module.split("."))
    return lib / (str(rel) + ".py") if (lib / (str(rel) + ".py")).exists() else lib / rel / "__init__.py"


def _stub(name: str, dotted: str) -> str:
    return textwrap.dedent(f"""

        def {name}(*args, **kwargs):  # replaced while grading: this question asks you to write it
            raise RuntimeError("{dotted} is not available while this question is graded: "
                               "write the function yourself")
        """)


def forbidden_bindings(forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Module -> names to stub: every ``dnet_lib`` module that binds a forbidden object.

    ``forbidden`` entries are ``"module.name"`` relative to ``dnet_lib``; the object is found in
    the grader's pristine library and stubbed wherever it is bound (its defining module and
    every re-export), so a refactor that moves it cannot reopen the door.
    """
    import dnet_lib
    targets = []
    for entry in forbidden:
        module, name = entry.rsplit(".", 1)
        targets.append(getattr(importlib.import_module(f"dnet_lib.{module}"), name))
    out: dict[str, list[str]] = {}
    names = ["dnet_lib"] + [m.name for m in pkgutil.walk_packages(dnet_lib.__path__, "dnet_lib.")]
    for modname in names:
        try:
            mod = importlib.import_module(modname)
        except Exception:       # noqa: BLE001 - an optional module that does not import is not a door
            continue
        for attr, value in vars(mod).items():
            if any(value is t for t in targets):
                out.setdefault(modname, []).append(attr)
    return out


def _prepare(work: Path, forbidden: tuple[str, ...], packages: Path) -> Path:
    lib = work / "lib"
    shutil.copytree(packages / "dnet_lib", lib / "dnet_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(packages / "dnet_tools" / "hidden_tests.py", lib / "hidden_tests_probe.py")
    for modname, names in forbidden_bindings(forbidden).items():
        path = _module_file(lib, modname)
        text = path.read_text(encoding="utf-8")
        ast.parse(text)     # the copy is the library's own source: it must parse
        path.write_text(text + "".join(_stub(n, f"{modname}.{n}") for n in sorted(set(names))),
                        encoding="utf-8")
    return lib


def _site_dirs() -> list[str]:
    dirs = [p for p in site.getsitepackages() if Path(p).is_dir()]
    return [d for d in dirs if Path(d).resolve() != ROOT.resolve()]


_CAN_DROP: list[bool] = []


def can_drop_privileges() -> bool:
    """True when we run as root and ``nobody`` can start this Python (then untrusted code runs
    as ``nobody`` and cannot write our files or signal our processes)."""
    if not _CAN_DROP:
        ok = False
        if os.geteuid() == 0:
            try:
                ok = subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], preexec_fn=_become_nobody,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    timeout=60).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
        _CAN_DROP.append(ok)
    return _CAN_DROP[0]


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def isolate(drop: bool) -> None:
    """In the child between fork and exec: own session, and ``nobody`` when ``drop``."""
    os.setsid()
    if drop:
        _become_nobody()


def _cpu_limit(seconds: int, drop: bool):
    def apply():
        import resource
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        isolate(drop)
    return apply


def evaluate(cells: list[str], exercise: str, question: str, params: dict, *,
             forbidden: tuple[str, ...] = (), timeout: float = 60.0, packages: Path = ROOT) -> dict:
    """``{"data": ...}`` (the probe's plain output) or ``{"error": ..., "message": ...}``.

    ``timeout`` is the CPU time the answer may use (seconds); a wall-clock limit of three times
    that plus 30 s catches answers that sleep.

    ``packages`` is the folder holding the ``dnet_lib`` and ``dnet_tools`` to copy (the grader
    passes its private snapshot, so a change to the checkout during grading cannot leak in).
    """
    work = Path(tempfile.mkdtemp(prefix="dnet-sandbox-"))
    try:
        lib = _prepare(work, forbidden, packages)
        home = work / "home"
        home.mkdir()
        out = work / "home" / "result.json"
        job = work / "job.json"
        job.write_text(json.dumps({"lib": str(lib), "cells": cells, "exercise": exercise,
                                   "question": question, "params": params, "out": str(out)}))
        (work / "harness.py").write_text(_HARNESS)
        drop = can_drop_privileges()
        if drop:
            for path in [work, *work.rglob("*")]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        code = ("import sys; sys.path[:0] = " + repr(_site_dirs()) +
                "; exec(compile(open(sys.argv[1]).read(), 'harness', 'exec'))")
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "MPLBACKEND": "Agg", "DNET_SMOKE": "1",
               "MPLCONFIGDIR": str(home), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
               "TMPDIR": str(home), "XDG_CACHE_HOME": str(home)}
        # a shell in between: an answer that kills its parent kills the shell, not the grader
        python = [sys.executable, "-I", "-S", "-c", code, str(work / "harness.py"), str(job)]
        proc = subprocess.Popen(["/bin/sh", "-c", '"$@"; exit $?', "sandbox", *python],
                                cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=_cpu_limit(int(timeout) + 1, drop))
        try:   # CPU time is limited to `timeout`; the wall clock only backs it up (a sleeping answer)
            _, err = proc.communicate(timeout=3 * timeout + 30)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return {"error": "Timeout", "message": f"the answer did not finish within {3 * timeout + 30:g} s"}
        finally:
            _kill_group(proc)           # anything the answer left running in its session
        if proc.returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU) and not out.is_file():
            return {"error": "Timeout", "message": f"the answer used more than {timeout:g} s of CPU time"}
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            return {"error": "Crashed", "message": f"the process ended with code {proc.returncode} {tail}"}
        if not out.is_file():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            return {"error": "NoResult", "message": f"the process ended with code {proc.returncode} "
                                                    f"before reporting {tail}"}
        try:
            result = json.loads(out.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return {"error": "BadResult", "message": "the result file is not JSON"}
        if not isinstance(result, dict) or not ({"data"} == set(result) or "error" in result):
            return {"error": "BadResult", "message": "the result has an unexpected layout"}
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
