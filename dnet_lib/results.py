"""Committed result files: find them, say where they come from, show them as tables and figures.

Every number a chapter prints comes from code in the build or from a file in ``book/results/``
that names its device, date, command and versions. This module is the one place that reads
those files:

* :func:`results_dir`, :func:`find`, :func:`load` -- locate and read them;
* :func:`provenance` -- "trained on <device> on <date> by <command>";
* :func:`is_gpu`, :func:`gpu_sentence` -- GPU results only when a file says so;
* :func:`benchmark_tables` -- the ``rows`` of a benchmark file as DataFrames, lists dropped;
* for ``reference_*.json`` (``python -m dnet_lib.reference``): :func:`select_runs`,
  :func:`runs_table`, :func:`summary_table`, :func:`curves`, :func:`plot_learning_curves`,
  :func:`less_data_table`, :func:`plot_less_data`.

It also writes the provenance header of new files (:func:`environment`, :func:`now`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Iterable

import torch

from . import runtime

__all__ = ["results_dir", "network_label", "installed_results_dir", "find", "load", "now", "environment",
           "device_name", "machine_name", "machine_slug", "same_machine", "provenance", "is_gpu",
           "gpu_sentence", "benchmark_tables",
           "select_runs", "runs_table", "summary_table", "mean_std", "curves",
           "plot_learning_curves", "less_data_table", "plot_less_data"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- files
def results_dir(start: str | os.PathLike | None = None) -> Path:
    """``book/results`` of the repository: ``$DNET_RESULTS_DIR`` when set (another set of result
    files, e.g. a retrained one), else searched upwards from ``start`` (default: the current
    folder), then beside this package. Raises FileNotFoundError when there is none."""
    override = os.environ.get("DNET_RESULTS_DIR")
    if override:
        if not Path(override).is_dir():
            raise FileNotFoundError(f"DNET_RESULTS_DIR={override!r} is not a folder")
        return Path(override)
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.resolve().parents, _PACKAGE_ROOT):
        candidate = folder / "book" / "results"
        if candidate.is_dir():
            return candidate
    installed = installed_results_dir()
    if installed is not None:
        return installed
    raise FileNotFoundError("no book/results folder above the current folder or beside dnet_lib, "
                            "and none installed with dnet_lib; run from a clone of the book's "
                            "repository or install dnet_lib from it")


def installed_results_dir() -> Path | None:
    """``share/dnet_lib/results`` installed beside a non-editable ``dnet_lib`` (pyproject's
    data-files: how Colab, which installs from git without a clone, gets the reference runs)."""
    from importlib import metadata

    try:
        files = metadata.distribution("dnet_lib").files or []
    except metadata.PackageNotFoundError:
        return None
    for entry in files:
        folder = entry.parent.as_posix()
        if entry.name.endswith(".json") and folder.endswith("share/dnet_lib/results"):
            folder = Path(entry.locate()).resolve().parent
            if folder.is_dir():
                return folder
    return None


def find(pattern: str, folder: str | os.PathLike | None = None) -> list[Path]:
    """Result files matching a glob ``pattern`` (sorted; empty if there is no results folder)."""
    try:
        root = Path(folder) if folder is not None else results_dir()
    except FileNotFoundError:
        return []
    return sorted(root.glob(pattern))


def load(name: str | os.PathLike) -> dict:
    """A result file by path or by name inside ``book/results`` (e.g. "reference_cpu.json")."""
    path = Path(name)
    if not path.is_file():
        path = results_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no result file {str(name)!r} (looked in {path.parent})")
    record = json.loads(path.read_text())
    record.setdefault("_path", str(path))
    return record


# --------------------------------------------------------------------------- provenance
def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _hardware_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else runtime.cpu_model()


def device_name(device: torch.device | str) -> str:
    """One line naming a device: 'cpu (AMD EPYC)' or 'cuda (NVIDIA H100 80GB HBM3)'."""
    device = torch.device(device)
    return f"{device.type} ({_hardware_name(device)})"


def environment(device: torch.device | str) -> dict:
    """The provenance header of a new result file: device, date, versions. ``device_info``
    names the machine: the device, and always the host CPU's model string and its
    instruction-set features (``runtime.CPU_FEATURES``), since CPU timings depend on them."""
    import torchvision
    device = torch.device(device)
    return {"device": device_name(device),
            "device_info": {"type": device.type, "name": _hardware_name(device),
                            "cpu_model": runtime.cpu_model(),
                            "cpu_features": runtime.cpu_features(),
                            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()},
            "date": now(),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__}}


_FEATURE_NAMES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16",
                  "amx_bf16": "AMX"}


def machine_name(record: dict) -> str:
    """The machine a record was measured on, for a sentence beside a CPU figure:
    'AMD EPYC, 2 cores, AVX2' or 'Intel(R) Xeon(R) Processor, 2 cores, AVX-512, AMX'; a GPU
    record names its GPU. Records older than the CPU features name the model only."""
    info = record.get("device_info") or {}
    if not isinstance(info, dict) or "name" not in info:
        return _device_text(record)
    if info.get("type") in ("cuda", "mps"):
        return str(info["name"])
    parts = [str(info.get("cpu_model") or info["name"])]
    if info.get("cpu_count"):
        parts.append(f"{info['cpu_count']} cores")
    features = info.get("cpu_features") or []
    # the widest vector unit and the matrix unit: what sets the matmul peak
    widest = "avx512f" if "avx512f" in features else "avx2" if "avx2" in features else None
    parts += [_FEATURE_NAMES[f] for f in (widest, "avx512_bf16", "amx_bf16") if f in features]
    return ", ".join(parts)


def machine_slug(record: dict) -> str:
    """A file-name part naming the machine: model, cores and its best matrix/vector unit, e.g.
    'amd-epyc-2c-avx2' or 'intel-xeon-2c-amx' (``--out`` names per machine)."""
    import re
    info = record.get("device_info") or {}
    if not isinstance(info, dict):
        info = {}
    model = str(info.get("cpu_model") or info.get("name") or _device_text(record))
    if info.get("type") in ("cuda", "mps"):
        model = str(info["name"])
    model = re.sub(r"\((r|tm)\)|\b(processor|cpu)\b", "", model, flags=re.IGNORECASE)
    parts = [model]
    if info.get("cpu_count") and info.get("type") not in ("cuda", "mps"):
        parts.append(f"{info['cpu_count']}c")
        features = info.get("cpu_features") or []
        parts += [next((label for f, label in (("amx_bf16", "amx"), ("avx512f", "avx512"),
                                                ("avx2", "avx2")) if f in features), "")]
    return re.sub(r"[^a-z0-9]+", "-", " ".join(parts).lower()).strip("-")


def same_machine(a: dict, b: dict) -> bool:
    """Whether two records (or ``environment()`` headers) come from the same kind of machine:
    device type and name, core count, and the CPU model and features where both record them."""
    ia, ib = a.get("device_info") or {}, b.get("device_info") or {}
    if not (isinstance(ia, dict) and isinstance(ib, dict)):
        return _device_text(a) == _device_text(b)
    for key in ("type", "name", "cpu_count", "cpu_model", "cpu_features"):
        if key in ia and key in ib and ia[key] != ib[key]:
            return False
    return ia.get("type") == ib.get("type") and ia.get("name") == ib.get("name")


def _device_text(record: dict) -> str:
    device = record.get("device", "unknown device")
    if isinstance(device, dict):
        device = f"{device.get('type', '?')} ({device.get('name', '?')})"
    return str(device)


def provenance(record: dict, verb: str = "trained") -> str:
    """'trained on cpu (AMD EPYC) on 2026-11-27 by `python -m dnet_lib.reference`, torch ...'."""
    date = str(record.get("date", "an unknown date"))[:10]
    versions = record.get("versions", {})
    torch_version = f" (torch {versions['torch']})" if "torch" in versions else ""
    return (f"{verb} on {_device_text(record)} on {date} by `{record.get('command', '?')}`"
            f"{torch_version}")


def is_gpu(record: dict) -> bool:
    """True when the file's device is a GPU (CUDA or Apple MPS)."""
    text = _device_text(record).lower()
    return text.startswith(("cuda", "mps", "gpu"))


def gpu_sentence(pattern: str = "*_gpu.json", folder=None) -> str:
    """One sentence: which GPU result files exist, or that none has been measured yet."""
    files = [p for p in find(pattern, folder) if is_gpu(json.loads(p.read_text()))]
    if not files:
        return ("GPU results: not yet measured. No result file from a GPU run is committed in "
                "book/results/, and the book does not fill in GPU numbers by hand.")
    return "GPU results: " + "; ".join(f"{p.name}, {provenance(load(p), 'measured')}" for p in files)


# --------------------------------------------------------------------------- benchmark files
def benchmark_tables(record: dict) -> dict:
    """``{section title: DataFrame}`` for every ``results`` section that has ``rows``.

    Columns holding lists or dicts (per-round raw values) are dropped; ``saved_bytes`` gains a
    ``saved_MiB`` column. Sections without rows are skipped: show them as prose, not dumps.
    """
    import pandas as pd
    sections = record.get("results", {})
    if isinstance(sections, list):
        sections = {"results": {"rows": sections}}
    elif isinstance(sections, dict) and isinstance(sections.get("rows"), list):
        sections = {record.get("benchmark", "results"): sections}     # one section, no names
    tables = {}
    for name, section in sections.items():
        if not (isinstance(section, dict) and isinstance(section.get("rows"), list)
                and section["rows"]):
            continue
        table = pd.DataFrame(section["rows"])
        keep = [c for c in table.columns
                if not any(isinstance(v, (list, dict)) for v in table[c])]
        table = table[keep]
        if "saved_bytes" in table:
            table.insert(table.columns.get_loc("saved_bytes") + 1, "saved_MiB",
                         table["saved_bytes"] / 2**20)
        tables[section.get("title", name)] = table
    return tables


# --------------------------------------------------------------------------- reference runs
def _runs(record: dict, group: str | None = None) -> list[dict]:
    runs = record.get("runs", {})
    return [r for r in runs.values() if group is None or r.get("group") == group]


def network_label(record: dict, network: str) -> str:
    return record.get("networks", {}).get(network, {}).get("label", network)


def select_runs(record: dict, run_ids: Iterable[str]) -> dict:
    """A copy of ``record`` holding only ``run_ids`` (in that order), e.g. to plot seed 0 of
    several networks together. Raises KeyError naming the runs the record lacks."""
    run_ids = list(run_ids)
    missing = [r for r in run_ids if r not in record.get("runs", {})]
    if missing:
        raise KeyError(f"run_ids not in this result file: {missing}; it has "
                       f"{sorted(record.get('runs', {}))}")
    return {**record, "runs": {r: record["runs"][r] for r in run_ids}}


def runs_table(record: dict, group: str | None = "main"):
    """One row per run: network, seed, examples, parameters, FLOPs, examples/s, accuracies, time."""
    import pandas as pd
    rows = []
    for r in _runs(record, group):
        h = r["history"]
        train_time = [t for t in h.get("train_time", []) if t is not None]
        rows.append(dict(network=network_label(record, r["network"]), seed=r["seed"],
                         train_examples=r["train_examples"], parameters=r["parameters"],
                         flops_per_image=r["flops_per_image"], epochs=r["epochs"],
                         steps=r["steps"],
                         examples_per_s=statistics.median(h["examples_per_s"]),
                         train_seconds=sum(train_time) if train_time else float("nan"),
                         train_acc=r["final_train_acc"], test_acc=r["final_test_acc"]))
    return pd.DataFrame(rows)


def mean_std(values: Iterable[float], digits: int = 3) -> str:
    """'0.921 ± 0.002 (3 seeds)'; one value prints as '0.921 (1 seed)'."""
    values = [float(v) for v in values]
    if not values:
        return "not measured"
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    return (f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} "
            f"({len(values)} seeds)")


def summary_table(record: dict, groups: Iterable[str] = ("main",)):
    """One row per network: parameters, FLOPs, examples/s, training time, test accuracy
    (mean ± std over seeds). A pandas DataFrame indexed by network."""
    import pandas as pd
    parts = [runs_table(record, g) for g in groups]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if table.empty:
        return table
    rows = []
    for network, part in table.groupby("network", sort=False):
        rows.append({"network": network, "parameters": f"{int(part.parameters.iloc[0]):,}",
                     "MFLOPs / image": f"{part.flops_per_image.iloc[0] / 1e6:.1f}",
                     "examples/s (train)": f"{part.examples_per_s.median():,.0f}",
                     "training time (s)": mean_std(part.train_seconds, 0).split(" (")[0],
                     "test accuracy": mean_std(part.test_acc)})
    return pd.DataFrame(rows).set_index("network")


def curves(record: dict, group: str | None = "main"):
    """Tidy per-epoch histories: network, seed, train_examples, epoch, train_loss, train_acc,
    test_acc (NaN where not evaluated), train_seconds (cumulative)."""
    import pandas as pd
    rows = []
    for r in _runs(record, group):
        h = r["history"]
        times = h.get("train_time") or [None] * len(h["train_loss"])
        elapsed = 0.0
        for i in range(len(h["train_loss"])):
            elapsed += times[i] or 0.0
            test = h["test_acc"][i]
            rows.append(dict(network=network_label(record, r["network"]), seed=r["seed"],
                             train_examples=r["train_examples"], epoch=i + 1,
                             train_loss=h["train_loss"][i], train_acc=h["train_acc"][i],
                             test_acc=float("nan") if test is None else test,
                             train_seconds=elapsed))
    return pd.DataFrame(rows)


def plot_learning_curves(record: dict, group: str | None = "main", axes=None):
    """Training loss and test accuracy against epoch, every network and every seed in one
    figure (one colour per network, one line per seed); ``group=None``: every run of the
    record. Returns the figure."""
    import matplotlib.pyplot as plt
    table = curves(record, group)
    if table.empty:
        raise ValueError(f"no runs of group {group!r} in this result file")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    fig = axes[0].figure
    for i, (network, part) in enumerate(table.groupby("network", sort=False)):
        colour = _network_colour(network, i)
        for j, (_, run) in enumerate(part.groupby("seed")):
            label = network if j == 0 else None
            axes[0].plot(run.epoch, run.train_loss, "-o", color=colour, alpha=0.8, ms=3,
                         label=label)
            tested = run.dropna(subset=["test_acc"])
            axes[1].plot(tested.epoch, tested.test_acc, "-o", color=colour, alpha=0.8, ms=3,
                         label=label)
    axes[0].set(xlabel="epoch", ylabel="training loss", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="test accuracy")
    axes[1].legend(fontsize="small", loc="lower right")
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    if fig.get_layout_engine() is None:        # the book's style uses constrained layout
        fig.tight_layout()
    return fig


def _network_colour(network: str, index: int) -> str:
    """The book's colour for DenseNet/ResNet when dnet_lib.style has one, else matplotlib's."""
    try:
        from . import style
        colours = style.COLORS
    except (ImportError, AttributeError):
        colours = {}
    for key in ("densenet", "resnet"):
        if network.lower().startswith(key) and key in colours:
            return colours[key]
    return f"C{index}"


def less_data_table(record: dict, full_group: str = "main"):
    """Final test accuracy by training-set size (rows) and network (columns), seed 0, with the
    full-data point taken from the main runs, and the difference of the first two columns."""
    import pandas as pd
    table = pd.concat([runs_table(record, "less_data"), runs_table(record, full_group)])
    if table.empty:
        return table
    table = table[table.seed == 0]
    pivot = table.pivot_table(index="train_examples", columns="network", values="test_acc",
                              aggfunc="mean", sort=False).sort_index()
    pivot.columns.name = None
    if pivot.shape[1] == 2:
        first, second = pivot.columns
        pivot[f"{first.split(' ')[0]} - {second.split(' ')[0]}"] = pivot[first] - pivot[second]
    return pivot


def plot_less_data(record: dict, ax=None):
    """Test accuracy against training-set size (log scale), one line per network."""
    import matplotlib.pyplot as plt
    pivot = less_data_table(record)
    if pivot.empty:
        raise ValueError("no less-data runs in this result file")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    networks = [c for c in pivot.columns if " - " not in c]
    for i, column in enumerate(networks):
        ax.semilogx(pivot.index, pivot[column], "-o", color=_network_colour(column, i),
                    label=column)
    ax.set(xlabel="training images (log scale)", ylabel="test accuracy")
    # one labelled tick per measured size; the log axis' minor labels would overlap
    ax.set_xticks(list(pivot.index), [f"{int(n):,}" for n in pivot.index])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize="small", loc="lower right")
    if ax.figure.get_layout_engine() is None:
        ax.figure.tight_layout()
    return ax.figure
