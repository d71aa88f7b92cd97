"""Where and how a chapter runs: smoke mode, device choice, Colab detection.

Smoke mode (``DNET_SMOKE=1``) makes every heavy cell run a tiny version in seconds;
CI executes the chapters that way. Heavy cells call ``mode()`` and print it.
"""
from __future__ import annotations

import os
import sys

import torch

# The repository this book is published from: the one setting behind every chapter's Colab setup
# cell (pip install git+REPO_URL), the built book's Colab launch and repository buttons (the
# build puts it into its _config.yml) and the student notebooks' Colab badges. After changing it,
# run `python -m dnet_tools.book sync`; tests/test_book.py checks that every place agrees.
REPO_URL = "https://github.com/densenet-book/dnet-book"


def smoke() -> bool:
    """True when ``DNET_SMOKE`` is set to 1/true/yes."""
    return os.environ.get("DNET_SMOKE", "").strip().lower() in ("1", "true", "yes")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def pick_device(prefer: str | None = None) -> torch.device:
    """The GPU when there is one (CUDA, then Apple MPS), else the CPU. ``prefer`` overrides."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def mode(device: torch.device | None = None) -> str:
    """'smoke', 'gpu' or 'cpu': which recipe a heavy cell should run."""
    if smoke():
        return "smoke"
    device = device or pick_device()
    return "gpu" if device.type in ("cuda", "mps") else "cpu"


def describe(device: torch.device | None = None) -> str:
    """One line for a heavy cell to print: the mode it ran in and the device it used."""
    device = device or pick_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return f"mode={mode(device)} device={device} ({name})"


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a wall-clock timing measures the work itself."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, recorded beside timings (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_busy_fraction(seconds: float = 2.0) -> float | None:
    """Share of all cores' time spent busy during the next ``seconds`` (0 idle .. 1 saturated),
    read from Linux's /proc/stat; None where there is none. Called before a timed run, it
    measures what *other* processes are doing."""
    import time

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
    """Refuse to time ``what`` while other processes keep the CPU busy (more than ``max_busy``
    of it over ``seconds``): such timings are wrong, not just noisy. Returns the measured
    fraction (None where it cannot be measured); the error names ``override``."""
    busy = cpu_busy_fraction(seconds)
    if busy is not None and busy > max_busy:
        raise RuntimeError(
            f"{what}: other processes kept {busy:.0%} of the CPU busy just before the run "
            f"(allowed: {max_busy:.0%}); its timings would be wrong. Stop them and run again, or "
            f"pass {override} to record a run on a shared machine anyway.")
    return busy


def mode_note(device: torch.device | None = None) -> str:
    """Markdown for the one note per page that says how the page ran (``{glue:md}`` in an
    admonition): the mode, what it means for the numbers, the device and the versions."""
    device = device or pick_device()
    meaning = {"smoke": "tiny runs that only prove every cell works; their numbers are "
                        "not results",
               "cpu": "the CPU set-up, sized to run in minutes",
               "gpu": "the full set-up on an accelerator"}[mode(device)]
    return (f"This page ran in **{mode(device)} mode**: {meaning}. Device `{device}`, "
            f"torch {torch.__version__}, Python {sys.version.split()[0]} "
            f"(`{describe(device)}`).")


def glue(name: str, value, display: bool = False) -> None:
    """Hand ``value`` to the page's prose as ``{glue:text}`name``` (MyST-NB's glue). Where
    myst_nb is not installed (Colab, a plain Jupyter) this does nothing: the chapter still runs."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
