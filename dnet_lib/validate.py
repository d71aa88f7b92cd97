"""Argument checks shared by the whole library: one place, one wording.

Each raises ``ValueError`` naming the argument and the allowed range, so bad input fails at the
call that made it, never deep inside a forward pass.
"""
from __future__ import annotations

import math
from typing import Iterable

__all__ = ["check_int", "check_ints", "check_number", "check_compression", "check_block_config",
           "check_choice"]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` must be an int in [low, high] (no upper bound when ``high`` is None)."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return value


def check_ints(low: int = 1, /, **values) -> None:
    """Each keyword argument must be an int >= ``low``; returns None."""
    for name, value in values.items():
        check_int(name, value, low)


def check_number(name: str, value, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    """``value`` must be a finite real number in the interval; ``*_open`` excludes an end."""
    if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value) or not (
            (low < value if low_open else low <= value)
            and (value < high if high_open else value <= high)):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return value


def check_compression(compression) -> float:
    """θ, the transition's compression factor: a number in (0, 1]."""
    return check_number("compression", compression, 0, 1, low_open=True)


def check_block_config(block_config, name: str = "block_config", length: int | None = None
                       ) -> tuple[int, ...]:
    """Layers per dense block (or ``length`` per-stage widths, ``name``): a non-empty sequence
    of positive ints, returned as a tuple."""
    config = tuple(block_config) if isinstance(block_config, Iterable) else ()
    if (not config or not all(_is_int(n) and n >= 1 for n in config)
            or length is not None and len(config) != length):
        many = "a non-empty sequence of" if length is None else f"{length} (one per stage)"
        raise ValueError(f"{name} must be {many} positive integers, got {block_config!r}")
    return config


def check_choice(name: str, value, choices: Iterable) -> object:
    """``value`` must be one of ``choices``; returns it."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
