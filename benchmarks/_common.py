"""Shared plumbing for the benchmark scripts: arguments, paired timing statistics, the JSON record.

Every benchmark writes one JSON file with the keys ``benchmark, device (one line: type and name),
device_info, date, versions, command, mode, machine, notes, goals, results``. Full runs go to
``book/results/NAME_{cpu,gpu}.json`` (the committed reference files); smoke runs (``--smoke`` or
``DNET_SMOKE=1``) go to a temporary folder unless ``--out`` says otherwise, so a smoke run can never
overwrite a reference result. ``--out`` may contain ``{machine}`` (``machine.machine_slug``, e.g.
``amd-epyc-2c-avx2``), so records from different machines get different names; a run never
replaces a record from another machine (``machine.same_machine``) unless ``--force`` is given,
and it checks that before it starts timing.

Timing ratios are *paired*: every round measures each contender once (in a rotating order), the
ratio is formed inside each round, and the reported figure is the median of those per-round
ratios with its interquartile range (IQR). A slow spell on a shared machine hits both sides of a
round alike, so it widens the IQR instead of biasing the median. ``interleaved_rounds`` keeps
adding rounds until every ratio's IQR is under 5% of its median (or a round/time limit is hit,
which the output then says).
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from dnet_lib import runtime

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))     # dnet_tools: run from the checkout, not installed
from dnet_tools import machine  # noqa: E402
from dnet_tools.machine import load_average  # noqa: E402  (the benchmarks use it too)

RESULTS_DIR = REPO_ROOT / "book" / "results"
SMOKE_DIR = Path(tempfile.gettempdir()) / "dnet_bench_smoke"
REQUIRED_KEYS = ("benchmark", "device", "device_info", "date", "versions", "command", "mode", "results", "goals")
PRECISION = 0.05          # a ratio is "precise" when its IQR is under 5% of its median
SHARED_MACHINE_NOTE = ("machine shared with other processes during the run (2 CPU cores, several "
                       "agents working at once): timings are noisy and on the slow side")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny run in seconds (also DNET_SMOKE=1); "
                   "writes to a temporary folder, never to book/results")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--out", default=None, help="JSON path (default: book/results/NAME_{cpu,gpu}.json, "
                   f"or {SMOKE_DIR}/NAME.json in smoke mode); '{{machine}}' in it becomes the "
                   "machine's name, e.g. amd-epyc-2c-avx2")
    p.add_argument("--force", action="store_true",
                   help="replace an existing record even if it was measured on another machine")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--shared-machine", action="store_true",
                   help="record that other processes were using the machine during the run")
    return p


def setup(args: argparse.Namespace, name: str | None = None) -> tuple[torch.device, bool]:
    """(device, smoke) from the parsed arguments and the environment. With the benchmark's
    ``name``, it also refuses at once (not after the run) to replace another machine's record."""
    smoke = args.smoke or runtime.smoke()
    if smoke:
        os.environ["DNET_SMOKE"] = "1"
    device = runtime.pick_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    args.cpu_busy_before = None
    if not smoke and args.out is None and not args.shared_machine:
        # a reference result in book/results needs the machine to itself
        args.cpu_busy_before = machine.require_quiet_cpu(
            " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "--shared-machine (or --out)")
    if name is not None:
        check_replaceable(output_path(name, args, device, smoke), device, args)
    return device, smoke


def environment(device: torch.device) -> dict:
    """Device, date and versions (``dnet_tools.machine.environment``), plus d2l's version where
    d2l is installed."""
    env = machine.environment(device)
    try:
        import d2l
        env["versions"]["d2l"] = d2l.__version__
    except ImportError:      # optional: only the d2l reference rows need it
        pass
    return env


def command() -> str:
    """The command that produced the file, as a reader would type it."""
    argv = list(sys.argv)
    script = Path(argv[0]).resolve()
    try:
        argv[0] = str(script.relative_to(REPO_ROOT))
    except ValueError:
        pass
    prefix = "DNET_SMOKE=1 " if os.environ.get("DNET_SMOKE") and "--smoke" not in argv else ""
    return prefix + "python " + shlex.join(argv)


def output_path(name: str, args: argparse.Namespace, device: torch.device, smoke: bool) -> Path:
    if args.out:
        if "{machine}" in args.out:
            return Path(args.out.replace("{machine}", machine.machine_slug(environment(device))))
        return Path(args.out)
    if smoke:
        return SMOKE_DIR / f"{name}.json"
    kind = "gpu" if device.type in ("cuda", "mps") else "cpu"
    return RESULTS_DIR / f"{name}_{kind}.json"


def check_replaceable(path: Path, device: torch.device, args: argparse.Namespace) -> None:
    """Refuse to replace a record measured on another machine (``machine.same_machine``),
    unless ``--force``: a figure from one CPU must never pass for another's."""
    from dnet_lib import results
    if getattr(args, "force", False) or not path.is_file():
        return
    try:
        old = results.load(path)
    except ValueError:          # not JSON: not a record of any machine
        return
    if not machine.same_machine(old, environment(device)):
        raise RuntimeError(
            f"{path} holds a record measured on {machine.machine_name(old)}, not on this "
            f"machine ({machine.machine_name(environment(device))}); pass --out with another "
            "name (e.g. --out book/results/NAME_cpu_{machine}.json) or --force to replace it")


def write_json(path: Path, payload: dict) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise ValueError(f"payload is missing keys {missing}")
    machine.write_record(path, payload)


def record(name: str, args: argparse.Namespace, device: torch.device, smoke: bool, results: dict,
           goals: list[dict], notes: list[str], load_before: list[float] | None) -> Path:
    """Assemble the JSON record, write it, and return its path."""
    load = {"load_average_before": load_before, "load_average_after": load_average(),
            "cpu_busy_before": getattr(args, "cpu_busy_before", None)}
    if args.shared_machine:
        notes = [SHARED_MACHINE_NOTE] + list(notes)
    payload = {
        "benchmark": name,
        **environment(device),
        "command": command(),
        "mode": "smoke" if smoke else runtime.mode(device),
        "machine": load,
        "notes": notes,
        "goals": goals,
        "results": results,
    }
    path = output_path(name, args, device, smoke)
    check_replaceable(path, device, args)
    write_json(path, payload)
    return path


def goal(description: str, measured, target: str, met: bool | None) -> dict:
    """One goal line; ``met`` is None when it was not measured."""
    return {"goal": description, "measured": measured, "target": target,
            "met": None if met is None else bool(met)}


def print_goals(goals: list[dict]) -> None:
    for g in goals:
        verdict = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[g["met"]]
        print(f"  [{verdict}] {g['goal']}: measured {g['measured']} (target {g['target']})")


def finish(name: str, args: argparse.Namespace, device: torch.device, smoke: bool, results: dict,
           goals: list[dict], notes: list[str], load_before: list[float] | None) -> Path:
    """The ending every benchmark shares: standard notes, write the record, print the goals."""
    notes = list(notes)
    if device.type != "cuda":
        notes.append("GPU figures: not yet measured (no GPU for this run)")
    if smoke:
        notes.append("smoke run: tiny sizes, numbers mean nothing")
    path = record(name, args, device, smoke, results, goals, notes, load_before)
    print("\nGoals:")
    print_goals(goals)
    print(f"\nwrote {path}")
    return path


# --------------------------------------------------------------------------- paired statistics
def paired_ratio(numerator: list[float], denominator: list[float]) -> dict:
    """Median and IQR of the per-round ratios ``numerator[i] / denominator[i]``."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"need the same number (>= 1) of rounds on both sides, got "
                         f"{len(numerator)} and {len(denominator)}")
    ratios = [a / b for a, b in zip(numerator, denominator)]
    if len(ratios) > 1:
        q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    else:
        q1 = median = q3 = ratios[0]
    iqr = q3 - q1
    return {"median": median, "iqr": iqr, "q1": q1, "q3": q3, "rounds": len(ratios),
            "relative_iqr": iqr / median, "precise": iqr / median < PRECISION,
            "per_round": ratios}


def format_ratio(ratio: dict) -> str:
    """'1.043x (IQR 0.021 = 2.0% of median, 12 paired rounds)', flagged when not precise."""
    text = (f"{ratio['median']:.3f}x (IQR {ratio['iqr']:.3f} = {ratio['relative_iqr']:.1%} of "
            f"median, {ratio['rounds']} paired rounds)")
    if not ratio["precise"]:
        text += f" -- spread NOT under {PRECISION:.0%} of the median: not precise to 5%"
    return text


def ratio_goal(description: str, ratio: dict, target: str, met: bool) -> dict:
    """A goal whose measured value is a paired ratio: median, IQR and rounds side by side."""
    measured = {"median": round(ratio["median"], 4), "iqr": round(ratio["iqr"], 4),
                "rounds": ratio["rounds"], "iqr_under_5pct_of_median": ratio["precise"]}
    return goal(description, measured, target, met)


def interleaved_rounds(measure: dict[str, Callable[[], float]], pairs: list[tuple[str, str]], *,
                       min_rounds: int, max_rounds: int, max_seconds: float) -> dict[str, list[float]]:
    """Call every ``measure[name]()`` once per round, rotating the order between rounds.

    Stops after ``min_rounds`` once every ``(a, b)`` pair's paired ratio is precise (IQR under 5%
    of the median), or after ``max_rounds`` rounds or ``max_seconds`` seconds, whichever comes
    first. Returns each contender's values, one per round, in round order.
    """
    names = list(measure)
    values: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    for r in range(max_rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            values[name].append(measure[name]())
        if r + 1 < min_rounds:
            continue
        if all(paired_ratio(values[a], values[b])["precise"] for a, b in pairs):
            break
        if time.perf_counter() - start > max_seconds:
            break
    return values
