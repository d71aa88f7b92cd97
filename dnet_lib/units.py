"""How the book writes sizes and counts: one format everywhere."""
from __future__ import annotations

__all__ = ["BYTES_PER_FLOAT32", "format_bytes"]

BYTES_PER_FLOAT32 = 4


def format_bytes(n: int | float | None) -> str:
    """Binary units: 1536 -> '1.5 KiB', 3 * 2**20 -> '3.0 MiB'; None -> 'n/a'."""
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
