"""Run a student's answer to one question in a throwaway sandbox and get back plain data only.

The grader (``dnet_tools.course``) never runs student code in its own process. Once per run it
calls :func:`prepare`, which writes private copies of ``dnet_lib`` and of the exercises' probes
(``dnet_tools/exercises`` without the variants' answer keys), one per set of forbidden library
functions, those replaced by stubs that raise. Then, for each autograded question, it calls
:func:`evaluate`, which starts the interpreter on the notebook's setup cell, the student's answer
cells for that question and the probe, with a CPU-time limit and a wall-clock timeout, and reads
the probe's JSON back. Two kinds of isolation:

* ``"bwrap"`` (the default; bubblewrap, a maintained unprivileged container tool): new user,
  PID, network, IPC and UTS namespaces (no network at all), ``nobody`` inside, and a filesystem
  holding only read-only binds of the system libraries (``/usr``), the interpreter's prefix, its
  site-packages, the private library copy and the job, plus a private tmpfs home and ``/tmp``.
  Nothing of the course, the repository or the grader's home is visible. ``--die-with-parent``
  ends it with the grader.
  nbgrader's own run of the notebook (:func:`kernel_command`) is boxed the same way, with only
  its scratch course folder, this Python's environment and the data visible.
* ``"process"`` (only when the instructor passes ``--trusted``): ``python -I -S`` in its own
  session with a scrubbed environment, as ``nobody`` when the grader is root and ``nobody`` can
  start this Python. It sees whatever the filesystem lets that user see.

Whatever happens inside (an exception swallowed by a hook, ``sys.exit``, a killed process, an
endless loop, forged output) the grader gets either JSON that it judges itself, or nothing.
"""
from __future__ import annotations

import ast
import compileall
import importlib
import json
import os
import pkgutil
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534
ISOLATIONS = ("bwrap", "process")
BOX = Path("/sandbox")              # where the job's files appear inside bubblewrap
BOX_HOME = Path("/home/student")

__all__ = ["ISOLATIONS", "SandboxUnavailable", "bwrap_available", "prepare", "evaluate",
           "forbidden_bindings", "can_drop_privileges", "isolate"]

# Runs inside the sandbox: argv = [job.json]. Kept small; the probe module does the work.
_HARNESS = r'''
import importlib, json, sys
job = json.load(open(sys.argv[-1]))
sys.path[:0] = [job["lib"]]
sys.argv = ["student"]
result = {"error": "the answer cells did not finish"}
try:
    probes = importlib.import_module("grader." + job["module"])
    ns = {"__name__": "__main__"}
    for i, src in enumerate(job["cells"]):
        exec(compile(src, f"<cell {i}>", "exec"), ns)
    probe = probes.QUESTIONS[job["question"]].probe
    result = {"data": probe(ns, job["params"])}
except BaseException as e:
    result = {"error": type(e).__name__, "message": str(e)[:300]}
text = json.dumps(result)
with open(job["out"], "w") as f:
    f.write(text)
'''


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start here."""


# --------------------------------------------------------------------------- the private library
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


def probe_source(text: str) -> str:
    """An exercise module's source without ``variants()``: the variants' answer keys stay out."""
    lines = text.splitlines(keepends=True)
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == "variants":
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            lines[start:node.end_lineno] = ["\n"] * (node.end_lineno - start)
    return "".join(lines)


def prepare(packages: Path, dest: Path, forbidden_sets) -> dict[tuple, Path]:
    """One private library per forbidden set, under ``dest``: ``dnet_lib`` (stubs appended) and
    ``grader`` (the probes). Called once per grading run, from one thread: it parses sources."""
    probes = {}
    for path in sorted((packages / "dnet_tools" / "exercises").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        probes[path.name] = "" if path.name == "__init__.py" else probe_source(text)
    libs = {}
    for i, forbidden in enumerate(sorted(set(map(tuple, forbidden_sets)))):
        lib = dest / f"lib{i}"
        shutil.copytree(packages / "dnet_lib", lib / "dnet_lib", ignore=shutil.ignore_patterns("__pycache__"))
        (lib / "grader").mkdir()
        for name, text in probes.items():
            (lib / "grader" / name).write_text(text, encoding="utf-8")
        for modname, names in forbidden_bindings(forbidden).items():
            path = _module_file(lib, modname)
            text = path.read_text(encoding="utf-8")
            ast.parse(text)     # the copy is the library's own source: it must parse
            path.write_text(text + "".join(_stub(n, f"{modname}.{n}") for n in sorted(set(names))),
                            encoding="utf-8")
        # compiled once here: the sandboxes see the library read-only, and each would compile it
        compileall.compile_dir(lib, quiet=1)
        for path in [lib, *lib.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        libs[forbidden] = lib
    return libs


# --------------------------------------------------------------------------- isolation
def _real(path) -> str:
    return os.path.realpath(path)


def _site_dirs() -> list[str]:
    dirs = [p for p in site.getsitepackages() if Path(p).is_dir()]
    return [_real(d) for d in dirs if Path(d).resolve() != ROOT.resolve()]


def _interpreter_dirs() -> list[str]:
    """What the interpreter needs, as real paths: its prefix (binary and standard library) and
    the site-packages; never a folder above them."""
    dirs = {_real(sys.base_prefix), _real(sysconfig.get_paths()["stdlib"]), *_site_dirs()}
    keep = []
    for d in sorted(dirs, key=len):         # a folder inside one already bound is covered
        if not any(d == k or d.startswith(k + os.sep) for k in keep):
            keep.append(d)
    return keep


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _bwrap_args(binds: list[tuple[str, str, bool]], chdir: Path = BOX_HOME) -> list[str]:
    """bubblewrap's command line: system libraries and interpreter read-only, ``binds``
    (source, destination, writable) and nothing else of the host's filesystem."""
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL", *_system_binds()]
    for d in _interpreter_dirs():
        args += ["--ro-bind", d, d]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", str(BOX_HOME),
             "--dir", str(BOX)]
    for src, dst, writable in binds:
        args += ["--bind" if writable else "--ro-bind", str(src), str(dst)]
    return args + ["--chdir", str(chdir), "--"]


def kernel_command(folder: Path, readable: list[Path], argv: list[str], cwd: Path) -> list[str]:
    """``argv`` (nbgrader and the kernel it starts) under bubblewrap, run in ``cwd``, with
    ``folder`` writable (the scratch course with this one submission) and ``readable`` (this
    Python's environment, the data) read-only: no network but its own loopback, nothing else
    of the host's files."""
    binds = [(folder, folder, True)] + [(d, d, False) for d in readable]
    return _bwrap_args(binds, chdir=cwd) + argv


def _starts(argv: list[str], preexec=None) -> bool:
    try:
        return subprocess.run(argv, preexec_fn=preexec, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_BWRAP_OK: list[bool] = []


def bwrap_available() -> bool:
    """True when ``bwrap`` is installed and can start this interpreter in a sandbox here."""
    if not _BWRAP_OK:
        _BWRAP_OK.append(shutil.which("bwrap") is not None and
                         _starts(_bwrap_args([]) + [_real(sys.executable), "-I", "-S", "-c", "pass"]))
    return _BWRAP_OK[0]


_CAN_DROP: list[bool] = []


def can_drop_privileges() -> bool:
    """True when we run as root and ``nobody`` can start this Python (then untrusted code in the
    process sandbox and nbgrader's kernel runs as ``nobody``)."""
    if not _CAN_DROP:
        _CAN_DROP.append(os.geteuid() == 0 and _starts([sys.executable, "-I", "-S", "-c", "pass"], _become_nobody))
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


# --------------------------------------------------------------------------- one question
def evaluate(cells: list[str], exercise: str, question: str, params: dict, *, lib: Path,
             isolation: str = "bwrap", timeout: float = 60.0) -> dict:
    """``{"data": ...}`` (the probe's plain output) or ``{"error": ..., "message": ...}``.

    ``exercise`` is the exercise module's name (``"ex05_concat_vs_add"``), ``lib`` a library
    written by :func:`prepare`. ``timeout`` is the CPU time the answer may use (seconds); a
    wall-clock limit of three times that plus 30 s catches answers that sleep.
    """
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
    if isolation == "bwrap" and not bwrap_available():
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed or cannot start here")
    work = Path(tempfile.mkdtemp(prefix="dnet-sandbox-"))
    try:
        (work / "out").mkdir()
        (work / "harness.py").write_text(_HARNESS)
        env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "DNET_SMOKE": "1", "OMP_NUM_THREADS": "1",
               "PYTHONHASHSEED": "0"}
        python = [_real(sys.executable), "-I", "-S", "-c",
                  "import sys; sys.path[:0] = " + repr(_site_dirs()) +
                  "; exec(compile(open(sys.argv[1]).read(), 'harness', 'exec'))"]
        if isolation == "bwrap":
            job = {"lib": str(BOX / "lib"), "out": str(BOX / "out" / "result.json")}
            home, drop = BOX_HOME, False
            argv = _bwrap_args([(lib, BOX / "lib", False), (work / "job.json", BOX / "job.json", False),
                                (work / "harness.py", BOX / "harness.py", False), (work / "out", BOX / "out", True)])
            argv += [*python, str(BOX / "harness.py"), str(BOX / "job.json")]
            cwd = work
        else:
            shutil.copytree(lib, work / "lib")      # the answer may write to its own copy only
            (work / "home").mkdir()
            job = {"lib": str(work / "lib"), "out": str(work / "out" / "result.json")}
            home, drop = work / "home", can_drop_privileges()
            # a shell in between: an answer that kills its parent kills the shell, not the grader
            argv = ["/bin/sh", "-c", '"$@"; exit $?', "sandbox", *python, str(work / "harness.py"),
                    str(work / "job.json")]
            cwd = home
        env.update({"HOME": str(home), "MPLCONFIGDIR": str(home), "TMPDIR": "/tmp" if isolation == "bwrap"
                    else str(home), "XDG_CACHE_HOME": str(home)})
        (work / "job.json").write_text(json.dumps({**job, "cells": cells, "module": exercise,
                                                   "question": question, "params": params}))
        if drop:
            for path in [work, *work.rglob("*")]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        out = work / "out" / "result.json"
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=_cpu_limit(int(timeout) + 1, drop))
        try:   # CPU time is limited to `timeout`; the wall clock only backs it up (a sleeping answer)
            _, err = proc.communicate(timeout=3 * timeout + 30)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return {"error": "Timeout", "message": f"the answer did not finish within {3 * timeout + 30:g} s"}
        finally:
            _kill_group(proc)           # anything the answer left running in its session
        return _result(proc.returncode, err, out, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _result(code: int, err: bytes, out: Path, timeout: float) -> dict:
    tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU) and not out.is_file():
        return {"error": "Timeout", "message": f"the answer used more than {timeout:g} s of CPU time"}
    if code != 0:
        return {"error": "Crashed", "message": f"the process ended with code {code} {tail}"}
    if not out.is_file():
        return {"error": "NoResult", "message": f"the process ended with code {code} before reporting {tail}"}
    try:
        result = json.loads(out.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {"error": "BadResult", "message": "the result file is not JSON"}
    if not isinstance(result, dict) or not ({"data"} == set(result) or "error" in result):
        return {"error": "BadResult", "message": "the result has an unexpected layout"}
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
