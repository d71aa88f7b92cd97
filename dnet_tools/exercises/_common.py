"""What the graders' part of every exercise shares: plain data, questions, rules, the judge.

Each question has two halves:

* ``probe(ns, params)`` calls the student's function (found in the namespace ``ns``) on fixed
  inputs and returns **plain data** (ints, floats, strings, lists, dicts) built by :func:`plain`,
  which accepts only exact built-in types and exact ``torch.Tensor`` objects. It runs wherever
  the student's code runs: inline in the book build, or in a sandboxed process when grading.
* ``judge(data, params)`` runs in the grader's own process. It receives the probe's output as
  JSON, recomputes every expected value itself from a pristine ``dnet_lib``/PyTorch, and raises
  ``AssertionError`` on a mismatch. Nothing the student's code returns is ever compared by its
  own ``__eq__``.

``forbidden`` names library functions that implement the asked function (``"module.name"`` in
``dnet_lib``, their one home): the sandbox replaces them by stubs that raise. ``rules`` are what
the question's text forbids or requires of the answer's source, checked on its syntax tree.
"""
from __future__ import annotations

import ast
import json
import math
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

__all__ = ["PlainDataError", "plain", "call", "seq", "show", "as_float", "as_int", "as_tensor", "close",
           "raised", "count", "shapes", "Rules", "Question", "parse", "rule_violation", "judge",
           "inline_checker"]


class PlainDataError(TypeError):
    """A student's value is not of the exact type the question asks for."""


def plain(x: Any, what: str = "value") -> Any:
    """``x`` as JSON-ready data, accepting exact types only (no subclasses, no look-alikes)."""
    t = type(x)
    if x is None or t is bool or t is str or t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else repr(x)
    if t is torch.Tensor or t is nn.Parameter:
        return {"tensor": x.detach().cpu().to(torch.float64).tolist(), "shape": list(x.shape),
                "dtype": str(x.dtype).replace("torch.", "")}
    if t is torch.Size:
        return [int(n) for n in x]
    if t in (list, tuple):
        return {"list" if t is list else "tuple": [plain(v, what) for v in x]}
    if t is dict:
        out = {}
        for k, v in x.items():
            if type(k) is not str:
                raise PlainDataError(f"{what}: dict keys must be str, got {type(k).__name__}")
            out[k] = plain(v, what)
        return {"dict": out}
    raise PlainDataError(f"{what}: expected a plain Python/PyTorch value, got {t.__module__}.{t.__qualname__}")


def call(fn: Callable, *args, what: str, **kwargs) -> Any:
    """Plain data of ``fn(*args)``, or ``{"error": ...}`` when it raises."""
    try:
        return plain(fn(*args, **kwargs), what)
    except BaseException as e:      # noqa: BLE001 - a student's error is data here
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return {"error": type(e).__name__, "message": str(e)[:200]}


def seq(data, what: str) -> list:
    """The list inside plain data of a list or tuple."""
    assert isinstance(data, dict) and ("list" in data or "tuple" in data), \
        f"{what}: expected a list or tuple, got {show(data)}"
    return data.get("list", data.get("tuple"))


def show(data) -> str:
    if isinstance(data, dict) and "error" in data:
        return f"an error ({data['error']}: {data.get('message', '')})"
    text = json.dumps(data)
    return text if len(text) < 120 else text[:117] + "..."


def as_float(data, what: str) -> float:
    assert type(data) is float, f"{what} must be a Python float, got {show(data)}"
    return data


def as_int(data, what: str) -> int:
    assert type(data) is int, f"{what} must be a Python int, got {show(data)}"
    return data


def as_tensor(data, what: str) -> torch.Tensor:
    assert isinstance(data, dict) and "tensor" in data, f"{what} must be a torch.Tensor, got {show(data)}"
    return torch.tensor(data["tensor"], dtype=torch.float64).reshape(data["shape"])


def close(got: float, want: float, what: str, tol: float = 1e-9) -> None:
    assert abs(got - want) <= tol * max(1.0, abs(want)), f"{what}: expected {want:.6g}, got {got:.6g}"


def raised(data, error: str, what: str) -> None:
    assert isinstance(data, dict) and data.get("error") == error, f"{what} should raise {error}, got {show(data)}"


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def shapes(module: nn.Module) -> dict:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- rules
# Names that reach any object by a string or through the interpreter, e.g.
# `getattr(globals()["mod" + "els"], ...)`.
REFLECTION = ("getattr", "globals", "locals", "vars", "eval", "exec", "compile", "__import__",
              "__builtins__", "importlib", "sys", "builtins", "gc", "inspect")


@dataclass(frozen=True)
class Rules:
    """What a question's text forbids or requires of its answer's source.

    ``asks`` opens the feedback ("Q2 asks for the formula"); ``names`` are forbidden names and
    attributes (``"models"`` forbids ``models.DenseLayer(...)``); ``imports`` (when not None) the
    only modules the answer may import; ``require`` calls the answer must make (by last name;
    ``"no_grad|inference_mode"``: one of them).
    ``reflection=False`` also forbids reaching objects by strings or through the interpreter
    (``getattr``, ``globals``, ``__import__``..., dunder attributes), which would walk around
    ``names``.
    """
    asks: str
    names: tuple[str, ...] = ()
    imports: tuple[str, ...] | None = None
    require: tuple[str, ...] = ()
    reflection: bool = True


_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse`` under one lock: CPython 3.11's AST conversion is not safe across threads."""
    with _PARSE_LOCK:
        return ast.parse(source)


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def rule_violation(sources: list[str], rules: Rules | None) -> str | None:
    """The feedback for the first rule the answer breaks, or None."""
    if rules is None:
        return None
    try:
        tree = parse("\n\n".join(sources))
    except SyntaxError as e:
        return f"{rules.asks}: the answer does not parse ({e.msg}, line {e.lineno})"
    forbidden = set(rules.names) | (set() if rules.reflection else set(REFLECTION))
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and rules.imports is not None:
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or "."]
            for mod in mods:
                if mod.split(".")[0] not in rules.imports:
                    return f"{rules.asks}: the answer imports `{mod}`"
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is not None:
                called.add(name.rsplit(".", 1)[-1])
                parts = name.split(".")
                if forbidden & set(parts):
                    verb = "builds" if parts[-1][:1].isupper() else "calls"
                    return f"{rules.asks}: the answer {verb} `{name}`"
        if isinstance(node, ast.Name) and node.id in forbidden:
            return f"{rules.asks}: the answer uses `{node.id}`"
        if isinstance(node, ast.Attribute) and (node.attr in forbidden or
                                                (not rules.reflection and node.attr.startswith("__"))):
            return f"{rules.asks}: the answer uses `.{node.attr}`"
        if isinstance(node, ast.alias) and (node.asname in forbidden or node.name in forbidden):
            return f"{rules.asks}: the answer imports `{node.name}`"
    missing = [r for r in rules.require if not called & set(r.split("|"))]
    if missing:
        return f"{rules.asks}: the answer never calls `{missing[0].replace('|', '` or `')}`"
    return None


# --------------------------------------------------------------------------- questions
@dataclass(frozen=True)
class Question:
    probe: Callable
    judge: Callable
    forbidden: tuple = ()       # "module.name" in dnet_lib: the asked function, already written
    depends: tuple = ()         # questions whose answer cells this one's answer uses
    rules: Rules | None = None  # what the question's text forbids or requires of the source
    timeout: float = 60.0


def judge(question: Question, name: str, data: Any, params: dict) -> None:
    """Raise AssertionError unless ``data`` (the probe's plain output) answers the question."""
    assert not (isinstance(data, dict) and "error" in data and len(data) <= 2), \
        f"{name}: the answer raised {data.get('error')}: {data.get('message', '')}"
    try:
        question.judge(data, params)
    except AssertionError:
        raise
    except Exception as e:      # malformed data is a wrong answer, never a grader crash
        raise AssertionError(f"{name}: unexpected answer ({type(e).__name__}: {e})") from None


def inline_checker(module: str) -> Callable:
    """``check_inline(question, namespace, variant="book")`` for the exercise module ``module``."""
    def check_inline(question: str, namespace: dict, variant: str = "book") -> None:
        _check_inline(sys.modules[module], question, namespace, variant)
    return check_inline


def _check_inline(exercise, question: str, namespace: dict, variant: str = "book") -> None:
    """Probe and judge ``question`` of the exercise module ``exercise`` in this process.

    The masters' hidden tests in the book build and nbgrader's kernel; when grading, the same
    probe runs in a sandbox instead and only its JSON reaches the judge.
    """
    spec = exercise.QUESTIONS[question]
    params = exercise.variants()[variant]["params"]
    data = json.loads(json.dumps(spec.probe(namespace, params)))
    judge(spec, f"{exercise.EXERCISE} {question}", data, params)
    print(f"ok: hidden tests of {exercise.EXERCISE} {question} ({variant})")
