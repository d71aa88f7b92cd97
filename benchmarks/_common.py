"""Shared plumbing for the benchmark scripts: arguments, environment record, atomic JSON output.

Every benchmark writes one JSON file with the keys ``benchmark, device (one line: type and name),
device_info, date, versions, command, mode, machine, notes, goals, results``. Full runs go to ``book/results/NAME_{cpu,gpu}.json`` (the
committed reference files); smoke runs (``--smoke`` or ``DNET_SMOKE=1``) go to a temporary folder
unless ``--out`` says otherwise, so a smoke run can never overwrite a reference result.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import torch

from dnet_lib.files import atomic_write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "book" / "results"
SMOKE_DIR = Path(tempfile.gettempdir()) / "dnet_bench_smoke"
REQUIRED_KEYS = ("benchmark", "device", "device_info", "date", "versions", "command", "mode", "results", "goals")
SHARED_MACHINE_NOTE = ("machine shared with other processes during the run (2 CPU cores, several "
                       "agents working at once): timings are noisy and on the slow side")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny run in seconds (also DNET_SMOKE=1); "
                   "writes to a temporary folder, never to book/results")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--out", default=None, help="JSON path (default: book/results/NAME_{cpu,gpu}.json, "
                   f"or {SMOKE_DIR}/NAME.json in smoke mode)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--shared-machine", action="store_true",
                   help="record that other processes were using the machine during the run")
    return p


def setup(args: argparse.Namespace) -> tuple[torch.device, bool]:
    """(device, smoke) from the parsed arguments and the environment."""
    from dnet_lib import runtime
    smoke = args.smoke or runtime.smoke()
    if smoke:
        os.environ["DNET_SMOKE"] = "1"
    device = runtime.pick_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    return device, smoke


def device_name(device: torch.device) -> str:
    """One line naming the device, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (AMD EPYC)'."""
    return f"{device.type} ({device_info(device)['name']})"


def device_info(device: torch.device) -> dict:
    info = {"type": device.type, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["name"] = _cpu_name()
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    import torchvision
    out = {"python": platform.python_version(), "torch": torch.__version__,
           "torchvision": torchvision.__version__}
    try:
        import d2l
        out["d2l"] = d2l.__version__
    except Exception:        # optional: only the d2l reference rows need it
        pass
    return out


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


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def output_path(name: str, args: argparse.Namespace, device: torch.device, smoke: bool) -> Path:
    if args.out:
        return Path(args.out)
    if smoke:
        return SMOKE_DIR / f"{name}.json"
    kind = "gpu" if device.type in ("cuda", "mps") else "cpu"
    return RESULTS_DIR / f"{name}_{kind}.json"


def write_json(path: Path, payload: dict) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise ValueError(f"payload is missing keys {missing}")
    atomic_write_json(path, payload)


def record(name: str, args: argparse.Namespace, device: torch.device, smoke: bool, results: dict,
           goals: list[dict], notes: list[str], load_before: list[float] | None) -> Path:
    """Assemble the JSON record, write it, and return its path."""
    from dnet_lib import runtime
    machine = {"load_average_before": load_before, "load_average_after": load_average()}
    if args.shared_machine:
        notes = [SHARED_MACHINE_NOTE] + list(notes)
    payload = {
        "benchmark": name,
        "device": device_name(device),
        "device_info": device_info(device),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "command": command(),
        "mode": "smoke" if smoke else runtime.mode(device),
        "machine": machine,
        "notes": notes,
        "goals": goals,
        "results": results,
    }
    path = output_path(name, args, device, smoke)
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
