"""Which machine a measurement ran on, and whether it had the CPU to itself.

What the benchmarks (``benchmarks/_common.py``), the reference runs
(``dnet_tools.reference_runs``) and the ONNX export write into their records beside the
provenance that ``dnet_lib.results.stamp`` gives: the CPU's model and instruction-set
features, its load, and the checks that keep one machine's timings from passing for
another's; ``write_record`` writes the record.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import torch

from dnet_lib import results, runtime
from dnet_lib.files import atomic_write_text

__all__ = ["CPU_FEATURES", "cpu_features", "environment", "machine_name", "machine_slug",
           "same_machine", "write_record", "load_average", "cpu_busy_fraction", "require_quiet_cpu"]

# The instruction-set features that decide a CPU's matmul and convolution speed: what a CPU
# result records besides the model string, so two machines sold under one name are told apart.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
_FEATURE_NAMES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16",
                  "amx_bf16": "AMX"}
_GPU = ("cuda", "mps")


def cpu_features() -> list[str]:
    """Which of ``CPU_FEATURES`` this CPU has (empty where /proc/cpuinfo is missing)."""
    flags = set((runtime.cpuinfo_field("flags") or "").split())
    return [f for f in CPU_FEATURES if f in flags]


def environment(device: torch.device | str) -> dict:
    """``results.stamp(device)`` plus ``device_info``: the device, and always the host CPU's
    model and features, since CPU timings depend on them."""
    device = torch.device(device)
    stamp = results.stamp(device)
    info = {"type": device.type, "name": runtime.device_name(device),
            "cpu_model": runtime.device_name("cpu"),
            "cpu_features": cpu_features(), "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count()}
    return dict(device=stamp.pop("device"), device_info=info, **stamp)


def _device_text(record: dict) -> str:
    """The record's device as one line ('cpu (AMD EPYC)')."""
    return str(record.get("device", "unknown device"))


def _info(record: dict) -> dict:
    info = record.get("device_info")
    return info if isinstance(info, dict) else {}


def machine_name(record: dict) -> str:
    """The machine a record was measured on, e.g. 'AMD EPYC, 2 cores, AVX2'; a GPU record
    names its GPU, a record older than the CPU features its model only."""
    info = _info(record)
    if "name" not in info:
        return _device_text(record)
    if info.get("type") in _GPU:
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
    """A file-name part naming the machine, e.g. 'amd-epyc-2c-avx2' or 'intel-xeon-2c-amx'."""
    info = _info(record)
    model = str(info.get("cpu_model") or info.get("name") or _device_text(record))
    parts = [str(info["name"]) if info.get("type") in _GPU else model]
    if info.get("cpu_count") and info.get("type") not in _GPU:
        features = info.get("cpu_features") or []
        best = next((label for f, label in (("amx_bf16", "amx"), ("avx512f", "avx512"),
                                            ("avx2", "avx2")) if f in features), "")
        parts += [f"{info['cpu_count']}c", best]
    text = re.sub(r"\((r|tm)\)|\b(processor|cpu)\b", "", " ".join(parts), flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def same_machine(a: dict, b: dict) -> bool:
    """Whether two records come from the same kind of machine: device type and name, core
    count, and the CPU model and features where both record them."""
    ia, ib = a.get("device_info"), b.get("device_info")
    if not (isinstance(ia, dict) and isinstance(ib, dict)):
        return _device_text(a) == _device_text(b)
    for key in ("type", "name", "cpu_count", "cpu_model", "cpu_features"):
        if key in ia and key in ib and ia[key] != ib[key]:
            return False
    return ia.get("type") == ib.get("type") and ia.get("name") == ib.get("name")


def write_record(path: str | os.PathLike, record: dict) -> Path:
    """Write ``record`` as indented JSON with a final newline, atomically; returns the path."""
    return atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_busy_fraction(seconds: float = 2.0) -> float | None:
    """Share of all cores' time spent busy during the next ``seconds`` (0 idle .. 1 saturated),
    from Linux's /proc/stat; None where there is none. Before a timed run it measures what
    *other* processes are doing."""
    def snapshot():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return values[3] + values[4], sum(values[:8])      # idle + iowait, total (no guest)

    try:
        idle0, total0 = snapshot()
        time.sleep(seconds)
        idle1, total1 = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else round(max(0.0, 1.0 - (idle1 - idle0) / total), 3)


def require_quiet_cpu(what: str, override: str, max_busy: float = 0.25,
                      seconds: float = 2.0) -> float | None:
    """Refuse to time ``what`` while other processes keep more than ``max_busy`` of the CPU
    busy: such timings are wrong, not just noisy. Returns the measured fraction (None where
    it cannot be measured); the error names ``override``."""
    busy = cpu_busy_fraction(seconds)
    if busy is not None and busy > max_busy:
        raise RuntimeError(
            f"{what}: other processes kept {busy:.0%} of the CPU busy just before the run "
            f"(allowed: {max_busy:.0%}); its timings would be wrong. Stop them and run again, or "
            f"pass {override} to record a run on a shared machine anyway.")
    return busy
