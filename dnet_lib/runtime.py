"""Where and how a chapter runs: smoke mode, device choice, the page's run note, glue.

Smoke mode (``DNET_SMOKE=1``) makes every heavy cell run a tiny version in seconds;
CI executes the chapters that way. Heavy cells call ``mode()`` and print it.
"""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

def smoke() -> bool:
    """True when ``DNET_SMOKE`` is set to 1/true/yes."""
    return os.environ.get("DNET_SMOKE", "").strip().lower() in ("1", "true", "yes")


def pick_device(prefer: str | None = None) -> torch.device:
    """The GPU when there is one (CUDA, then Apple MPS), else the CPU. ``prefer`` overrides."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else
                        "mps" if torch.backends.mps.is_available() else "cpu")


def mode(device: torch.device | None = None) -> str:
    """'smoke', 'gpu' or 'cpu': which recipe a heavy cell should run."""
    if smoke():
        return "smoke"
    device = device or pick_device()
    return "gpu" if device.type in ("cuda", "mps") else "cpu"


def cpuinfo_field(field: str) -> str | None:
    """The first ``field : value`` of Linux's /proc/cpuinfo (None where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    match = re.search(rf"^{re.escape(field)}[ \t]*:[ \t]*(.*)$", text, re.MULTILINE)
    return match[1].strip() if match else None


def device_name(device: torch.device | str = "cpu") -> str:
    """The GPU's name for CUDA, else the CPU's model string (e.g. 'AMD EPYC'; MPS: the chip)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def describe(device: torch.device | None = None) -> str:
    """One line for a heavy cell to print: the mode it ran in and the device it used."""
    device = device or pick_device()
    return f"mode={mode(device)} device={device} ({device_name(device)})"


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a wall-clock timing measures the work itself."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def mode_note(device: torch.device | None = None) -> str:
    """Markdown for the page's one note on how it ran (``{glue:md}`` in an admonition)."""
    device = device or pick_device()
    meaning = {"smoke": "tiny runs that only prove every cell works; their numbers are not results",
               "cpu": "the CPU set-up, sized to run in minutes",
               "gpu": "the full set-up on an accelerator"}[mode(device)]
    return (f"This page ran in **{mode(device)} mode**: {meaning}. Device `{device}`, "
            f"torch {torch.__version__}, Python {platform.python_version()} "
            f"(`{describe(device)}`).")


def glue(name: str, value, display: bool = False) -> None:
    """Hand ``value`` to the page's prose as ``{glue:text}`name``` (MyST-NB's glue). Where
    myst_nb is not installed (Colab, a plain Jupyter) this does nothing: the chapter still runs."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()     # numpy/torch scalar -> float or int: {glue:text} parses its repr
    myst_glue(name, value, display=display)
