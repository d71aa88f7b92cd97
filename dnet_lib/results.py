"""Committed result files (``book/results/``): find and read them, say where they come from,
show them as tables and figures. Every number a chapter prints comes from code in the build or
from such a file, which names its device, date, command and versions (:func:`provenance`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import statistics
from itertools import accumulate
from pathlib import Path
from typing import Iterable

import torch

from . import runtime

__all__ = ["results_dir", "load", "now", "stamp", "provenance", "gpu_sentence", "benchmark_tables",
           "network_label", "select_runs", "runs_table", "summary_table", "mean_std", "curves"]


# --------------------------------------------------------------------------- files
def results_dir() -> Path:
    """``book/results``: ``$DNET_RESULTS_DIR``, else the first above the current folder, beside
    this package or installed with it; FileNotFoundError if none."""
    if override := os.environ.get("DNET_RESULTS_DIR"):
        if not Path(override).is_dir():
            raise FileNotFoundError(f"DNET_RESULTS_DIR={override!r} is not a folder")
        return Path(override)
    for folder in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[1]):
        if (folder / "book" / "results").is_dir():
            return folder / "book" / "results"
    # a non-editable install (how Colab, with no clone, gets them): pyproject's data-files
    from importlib import metadata
    with contextlib.suppress(metadata.PackageNotFoundError):
        for f in metadata.files("dnet_lib") or []:
            if f.parent.as_posix().endswith("share/dnet_lib/results"):
                return Path(f.locate()).resolve().parent
    raise FileNotFoundError("no book/results folder above the current folder or beside "
                            "dnet_lib, and none installed with dnet_lib; run from a clone "
                            "of the book's repository or install dnet_lib from it")


def load(name: str | os.PathLike) -> dict:
    """A result file by path or by name inside ``book/results`` (e.g. "reference_cpu.json")."""
    path = Path(name)
    if not path.is_file():
        path = results_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no result file {str(name)!r} (looked in {path.parent})")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- provenance
def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def stamp(device: torch.device | str) -> dict:
    """The provenance of a new record: device ('cpu (AMD EPYC)'), date and versions."""
    import torchvision
    device = torch.device(device)
    return {"device": f"{device.type} ({runtime.device_name(device)})", "date": now(),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__}}


def provenance(record: dict, verb: str = "trained") -> str:
    """'trained on cpu (AMD EPYC) on 2026-11-27 by `COMMAND` (torch 2.x)'."""
    return (f"{verb} on {record['device']} on {record['date'][:10]} by `{record['command']}` "
            f"(torch {record['versions']['torch']})")


def gpu_sentence(pattern: str = "*_gpu.json") -> str:
    """One sentence: the GPU (CUDA, MPS) result files, or that none has been measured yet."""
    records = [(p, load(p)) for p in sorted(results_dir().glob(pattern))]
    measured = [f"{p.name}, {provenance(r, 'measured')}" for p, r in records
                if r.get("device", "").lower().startswith(("cuda", "mps", "gpu"))]
    if not measured:
        return ("GPU results: not yet measured. No result file from a GPU run is committed in "
                "book/results/, and the book does not fill in GPU numbers by hand.")
    return "GPU results: " + "; ".join(measured)


# --------------------------------------------------------------------------- benchmark files
def benchmark_tables(record: dict) -> dict:
    """``{section title: DataFrame}`` for every ``results`` section that has ``rows``: columns
    holding lists or dicts (per-round raw values) dropped, ``saved_MiB`` added beside
    ``saved_bytes``. Sections without rows are left to the prose."""
    import pandas as pd
    tables = {}
    for name, section in record["results"].items():
        if not (isinstance(section, dict) and section.get("rows")):
            continue
        table = pd.DataFrame(section["rows"])
        table = table[[c for c in table if not any(isinstance(v, (list, dict)) for v in table[c])]]
        if "saved_bytes" in table:
            table["saved_MiB"] = table["saved_bytes"] / 2**20
        tables[section.get("title", name)] = table
    return tables


# --------------------------------------------------------------------------- reference runs
def network_label(record: dict, network: str) -> str:
    """The record's label for ``network`` (the name itself when it has none)."""
    return record.get("networks", {}).get(network, {}).get("label", network)


def select_runs(record: dict, run_ids: Iterable[str]) -> dict:
    """A copy of ``record`` holding only ``run_ids`` (in that order), e.g. to plot seed 0 of
    several networks together. Raises KeyError naming the runs the record lacks."""
    run_ids, runs = list(run_ids), record["runs"]
    if missing := [r for r in run_ids if r not in runs]:
        raise KeyError(f"run_ids not in this result file: {missing}; it has {sorted(runs)}")
    return {**record, "runs": {r: runs[r] for r in run_ids}}


def _frame(record: dict, group: str | None, rows):
    """A DataFrame of ``rows(run, history)`` for each run of ``group`` (None: every run), each
    row led by the run's network label, seed and training-set size."""
    import pandas as pd
    return pd.DataFrame([dict(network=network_label(record, r["network"]), seed=r["seed"],
                              train_examples=r["train_examples"], **row)
                         for r in record.get("runs", {}).values()
                         if group in (None, r.get("group")) for row in rows(r, r["history"])])


def runs_table(record: dict, group: str | None = "main"):
    """One row per run: network, seed, examples, parameters, FLOPs, examples/s, accuracies, time."""
    def row(r, h):
        return [dict(parameters=r["parameters"], flops_per_image=r["flops_per_image"],
                     epochs=r["epochs"], steps=r["steps"],
                     examples_per_s=statistics.median(h["examples_per_s"]),
                     train_seconds=sum(h["train_time"]),
                     train_acc=r["final_train_acc"], test_acc=r["final_test_acc"])]
    return _frame(record, group, row)


def mean_std(values: Iterable[float], digits: int = 3) -> str:
    """'0.921 ± 0.002 (3 seeds)'; one value prints as '0.921 (1 seed)'."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    return (f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} "
            f"({len(values)} seeds)")


def summary_table(record: dict, groups: Iterable[str] = ("main",)):
    """One row per network: parameters, FLOPs, examples/s, training time, test accuracy
    (mean ± std over seeds). A pandas DataFrame indexed by network."""
    import pandas as pd
    table = pd.concat([runs_table(record, g) for g in groups], ignore_index=True)
    return pd.DataFrame([
        {"network": network, "parameters": f"{int(part.parameters.iloc[0]):,}",
         "MFLOPs / image": f"{part.flops_per_image.iloc[0] / 1e6:.1f}",
         "examples/s (train)": f"{part.examples_per_s.median():,.0f}",
         "training time (s)": mean_std(part.train_seconds, 0).split(" (")[0],
         "test accuracy": mean_std(part.test_acc)}
        for network, part in table.groupby("network", sort=False)]).set_index("network")


def curves(record: dict, group: str | None = "main"):
    """Tidy per-epoch histories: network, seed, train_examples, epoch, train_loss, train_acc,
    test_acc (NaN where not evaluated), train_seconds (cumulative)."""
    def rows(r, h):
        history = zip(h["train_loss"], h["train_acc"], h["test_acc"], accumulate(h["train_time"]))
        return [dict(epoch=epoch, train_loss=loss, train_acc=acc,
                     test_acc=float("nan") if test is None else test, train_seconds=seconds)
                for epoch, (loss, acc, test, seconds) in enumerate(history, 1)]
    return _frame(record, group, rows)
