"""Train the reference runs that chapters 6, 8 and 9 load (``dnet_lib.reference``).

``python -m dnet_tools.reference_runs [--smoke] [--runs densenet-s0,...] [--jobs N]
[--shared-machine]`` trains them on the CPU (README: what, how long); each finished run is merged
at once into ``book/results/reference_cpu.json`` (atomic, file-locked; a restart skips finished
runs), weights into ``weights/reference_<run>.pt``.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from dnet_lib import reference, results, runtime, validate

from . import machine

__all__ = ["NOTES", "SHARED_NOTE", "MIXED_NOTE", "TARGET_ACCURACY", "SHARED_ENV", "main"]

NOTES = [
    "All three networks use the same stem (3x3 convolution, BatchNorm-ReLU, 2x2 max pool), the "
    "same data order per seed and the same optimiser, schedule and number of steps. The DenseNet "
    "and the ResNet are matched in parameters; the DenseNet needs about 1.8x the ResNet's FLOPs "
    "per image.",
    "The dual-path net was trained once (seed 0) on all 60,000 images, like seed 0 of its parents.",
    "Less-data runs train both networks on the same class-balanced subset for 10 passes over "
    "it (the full-data runs make 8 passes over 60,000 images): at each size and seed the two "
    "networks get identical data and steps; each seed draws its own subset; smaller subsets get "
    "fewer steps in total.",
    f"The L=40 DenseNet (Figure 5 at the paper's shape) makes {reference.FIGURE5_EPOCHS} pass(es) "
    "over the 60,000 images with the same optimiser and schedule (squeezed into those steps), not "
    "8: at 7.5x the small DenseNet's FLOPs per image it is trained for its weight pattern, not "
    "for the best accuracy.",
    "Test accuracy averages the logits of each test image and its mirror image (the training "
    "data were flipped at random too); the test set was used only for reporting.",
    "The runs were made one at a time, each using every core of an otherwise idle machine "
    "(threads under 'device_info'; each run records the load average before and after it), so "
    "examples per second compare the networks with each other; other machines will differ.",
]
SHARED_NOTE = ("The runs shared the CPU with other processes or with each other (--shared-machine "
               "or --jobs > 1): examples per second and training times are too low and vary "
               "between runs.")
MIXED_NOTE = ("Runs without 'shared_machine': true were made one at a time on an otherwise idle "
              "machine, so their examples per second compare the networks with each other; runs "
              "with it shared the CPU with other processes (--shared-machine or --jobs > 1): their "
              "examples per second and training times are too low and vary between runs.")
TARGET_ACCURACY = 0.92         # every full-data run should reach it (the file's last note)
SHARED_ENV = "DNET_REFERENCE_SHARED"     # tells worker processes that the machine was shared
PROG = "python -m dnet_tools.reference_runs"
ROOT = Path(__file__).resolve().parents[1]      # workers run from here: dnet_tools is not installed


def _shared() -> bool:
    return os.environ.get(SHARED_ENV) == "1"


def _scratch(path: Path, suffix: str) -> Path:
    """A temp file tied to the result file's full path (lock, claims)."""
    digest = hashlib.md5(str(path.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dnet_reference_{digest}.{suffix}"


@contextlib.contextmanager
def _locked(path: Path):
    with open(_scratch(path, "lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)        # released when the file closes
        yield


def _notes(smoke: bool, runs: dict | None = None) -> list[str]:
    """The file's notes; the last says which runs had the machine to themselves."""
    notes = list(NOTES)
    shared = [bool(r.get("shared_machine")) for r in (runs or {}).values()] or [_shared()]
    if all(shared):
        notes[-1] = SHARED_NOTE
    elif any(shared):
        notes[-1] = MIXED_NOTE
    return notes + [reference.SMOKE_NOTE] * smoke


def _code(network: dict) -> str:
    """The code that builds a reference network, as the file shows it."""
    def shown(value):
        return ("POOLED_STEM" if value is reference.POOLED_STEM else f"models.{value.__name__}"
                if isinstance(value, type) else repr(value))
    args = [*map(shown, network["args"]),
            *(f"{k}={shown(v)}" for k, v in network["kwargs"].items())]
    return f"models.{network['factory'].__name__}({', '.join(args)})"


def _header(command: str, smoke: bool) -> dict:
    mode = "smoke" if smoke else "cpu"
    record = {**machine.environment("cpu"), **reference.header(command, mode),
              "notes": _notes(smoke)}
    for name, shown in record["networks"].items():
        shown["code"] = _code(reference.NETWORKS[name])
    return record


def _target_note(runs: dict) -> str:
    """Which full-data runs reached the target test accuracy."""
    full = [r for r in runs.values() if r["group"] == "main"]
    missed = [f"{r['run']} ({r['final_test_acc']:.4f})" for r in full
              if r["final_test_acc"] < TARGET_ACCURACY]
    text = (f"Target: every full-data run reaches {TARGET_ACCURACY} test accuracy; "
            f"{len(full) - len(missed)} of {len(full)} did.")
    return text + (f" Below it: {', '.join(missed)}." if missed else "")


def _check_same_recipe(path: Path, current: dict, fresh: dict) -> None:
    if current.get("recipe") != fresh["recipe"]:
        raise ValueError(f"{path} holds runs of another recipe; move it away to start over "
                         f"(finished runs are only skipped when the recipe is the same)")


def _merge(path: Path, record: dict, command: str, smoke: bool) -> None:
    with _locked(path):
        fresh = _header(command, smoke)
        current = json.loads(path.read_text()) if path.is_file() else fresh
        _check_same_recipe(path, current, fresh)
        record.setdefault("shared_machine", _shared())
        current["runs"][record["run"]] = record
        current["runs"] = {rid: current["runs"][rid] for rid in reference.RUNS
                           if rid in current["runs"]}
        current["networks"] = fresh["networks"]
        current["notes"] = _notes(smoke, current["runs"]) + [_target_note(current["runs"])]
        current["updated"] = results.now()
        machine.write_record(path, current)


def _claim(path: Path, run_id: str) -> bool:
    """True if ``run_id`` is neither finished nor taken by another worker."""
    with _locked(path):
        done = json.loads(path.read_text())["runs"] if path.is_file() else {}
        claim = _scratch(path, f"{run_id}.claim")
        free = run_id not in done and not claim.exists()
        if free:
            claim.write_text(str(os.getpid()))
        return free


def _release_claims(path: Path, ids) -> None:
    for run_id in ids:
        _scratch(path, f"{run_id}.claim").unlink(missing_ok=True)


def _log_epoch(run_id: str):
    return lambda epoch, h: print(f"[{os.getpid()}] {run_id} epoch {epoch}: loss "
                                  f"{h.train_loss[-1]:.4f}, test acc {h.test_acc[-1]}", flush=True)


def _worker(path: Path, ids: list[str], command: str, smoke: bool, weights_folder) -> None:
    for run_id in filter(lambda r: _claim(path, r), ids):
        print(f"[{os.getpid()}] {run_id}: training", flush=True)
        load_before = machine.load_average()
        record = reference.train_run(run_id, smoke=smoke, weights_folder=weights_folder,
                                     on_epoch_end=_log_epoch(run_id))
        stamp = results.stamp("cpu")        # each run's own: runs added later keep theirs
        record.update(threads=torch.get_num_threads(), load_average_before=load_before,
                      load_average_after=machine.load_average(), shared_machine=_shared(),
                      device=stamp["device"], versions=stamp["versions"], command=command)
        if "epochs" in reference.RUNS[run_id] and not smoke:
            record["recipe_changes"] = {"epochs": record["epochs"]}
        _merge(path, record, command, smoke)
        print(f"[{os.getpid()}] {run_id}: test acc {record['final_test_acc']:.4f}, "
              f"{record['wall_seconds']:.0f} s, {record['epochs']} epochs", flush=True)


def main(argv=None) -> Path:
    """Train the runs (``--runs``, default all) and return the result file's path."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    for flag, kw in (("--smoke", dict(action="store_true", help="tiny subsets, temp output")),
                     ("--runs", dict(help="comma-separated run ids (default: "
                                          f"{', '.join(reference.RUNS)})")),
                     ("--jobs", dict(type=int, default=1, help="worker processes (default 1)")),
                     ("--out", dict(help="result folder (default book/results; smoke: temp)")),
                     ("--shared-machine", dict(action="store_true",
                                               help="run on a busy CPU (the file says so)")),
                     ("--worker", dict(action="store_true", help=argparse.SUPPRESS))):
        p.add_argument(flag, **kw)
    args = p.parse_args(argv)
    smoke = args.smoke or runtime.smoke()
    validate.check_int("--jobs", args.jobs, 1, 8)
    ids = (reference.run_ids() if args.runs is None else
           [validate.check_choice("--runs", r.strip(), reference.RUNS)
            for r in args.runs.split(",") if r.strip()])
    out = Path(args.out) if args.out else (
        Path(tempfile.gettempdir()) / "dnet_reference_smoke" if smoke else results.results_dir())
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("reference_cpu.json" if not smoke else "reference_smoke.json")
    weights_folder = out / "weights"
    if smoke and not args.worker:
        path.unlink(missing_ok=True)           # smoke runs always start from scratch
    flags = [" --smoke" * smoke, f" --runs {args.runs}" if args.runs else "",
             f" --jobs {args.jobs}" if args.jobs > 1 else "",
             " --shared-machine" * args.shared_machine]
    command = PROG + "".join(flags)
    if args.worker:
        command = os.environ.get("DNET_COMMAND", command)
    elif args.shared_machine or args.jobs > 1:
        os.environ[SHARED_ENV] = "1"
    elif not smoke:
        machine.require_quiet_cpu(command, "--shared-machine")
    if path.is_file():                         # fail now, not after the first run
        _check_same_recipe(path, json.loads(path.read_text()), _header(command, smoke))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)   # oversubscribed cores crawl
    if args.worker:                            # the parent chose the workers' share
        threads = int(os.environ.get("OMP_NUM_THREADS") or threads)
    torch.set_num_threads(threads)
    if args.worker:
        _worker(path, ids, command, smoke, weights_folder)
        return path
    _release_claims(path, ids)                 # left behind by a killed earlier run
    try:
        if args.jobs == 1:
            _worker(path, ids, command, smoke, weights_folder)
        else:
            base = [sys.executable, "-m", "dnet_tools.reference_runs", "--worker", "--out",
                    str(out.resolve()), "--runs", ",".join(ids)] + ["--smoke"] * smoke
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), DNET_COMMAND=command)
            workers = [subprocess.Popen(base, env=env, cwd=ROOT) for _ in range(args.jobs)]
            codes = [w.wait() for w in workers]
            if any(codes):
                raise SystemExit(f"a worker failed (exit codes {codes}); finished runs: {path}")
    finally:
        _release_claims(path, ids)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
