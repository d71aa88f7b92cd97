"""What every drawing returns: a matplotlib figure plus the list of parts it shows."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .. import style

__all__ = ["Part", "Drawing", "Canvas", "new_figure", "pyplot_axes", "tight", "shades",
           "scaled", "COUNT_UNITS", "BYTE_UNITS"]

# (divisor, unit name) from the largest down: an axis shows values in the first that fits
COUNT_UNITS = [(1e6, "millions"), (1e3, "thousands"), (1, "")]
BYTE_UNITS = [(2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "B")]


@dataclass
class Part:
    """One thing a drawing shows: ``kind`` (e.g. "slice"), a ``label`` and its real ``value``."""
    kind: str
    label: str
    value: float | int | None = None
    gid: str = ""
    meta: dict = field(default_factory=dict)


@dataclass
class Drawing:
    """A figure and the list of parts drawn on it (for tests and for readers who want numbers)."""
    figure: object
    parts: list[Part] = field(default_factory=list)
    title: str = ""

    def find(self, kind: str, **meta) -> list[Part]:
        """Parts of this ``kind`` whose ``meta`` has all the given items."""
        return [p for p in self.parts
                if p.kind == kind and all(p.meta.get(k) == v for k, v in meta.items())]

    def texts(self) -> list[str]:
        """Every text drawn on the figure (labels, titles, annotations)."""
        return [t.get_text() for t in self.figure.findobj(
            lambda a: hasattr(a, "get_text") and callable(a.get_text)) if t.get_text()]

    def to_bytes(self, fmt: str = "png") -> bytes:
        buf = io.BytesIO()
        with style.context():
            self.figure.savefig(buf, format=fmt)
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the figure (format from the suffix: .png, .svg, .pdf) atomically."""
        from ..files import atomic_write
        path = Path(path)
        data = self.to_bytes(path.suffix.lstrip(".") or "png")
        atomic_write(path, lambda f: f.write(data))
        return path

    def _repr_png_(self) -> bytes:
        return self.to_bytes("png")

    def __repr__(self) -> str:
        return f"Drawing({self.title!r}, {len(self.parts)} parts)"


class Canvas:
    """A figure plus the parts list; ``add`` tags an artist with a gid and records what it shows."""

    def __init__(self, fig, title: str):
        self.fig, self.parts, self.title = fig, [], title

    def add(self, artist, kind: str, label: str, value=None, **meta):
        gid = f"{kind}-{len(self.parts)}"
        for a in (artist if isinstance(artist, (list, tuple)) else [artist]):
            a.set_gid(gid)
        self.parts.append(Part(kind, label, value, gid, meta))
        return artist

    def done(self) -> Drawing:
        return Drawing(self.fig, self.parts, self.title)


def new_figure(width: float, height: float, title: str):
    """A constrained-layout figure (not registered with pyplot) and its ``Canvas``."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, Canvas(fig, title)


def pyplot_axes(ax=None, figsize=None):
    """``ax``, or the axes of a new pyplot figure of ``figsize`` (charts the chapters show)."""
    if ax is None:
        import matplotlib.pyplot as plt
        ax = plt.subplots(figsize=figsize)[1]
    return ax


def tight(fig):
    """``fig`` laid out tightly unless it has a layout engine (the book's style: constrained)."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    return fig


def shades(colour: str, n: int) -> list[tuple[float, float, float]]:
    """n alternating shades of one colour so neighbouring slices stay distinguishable."""
    from matplotlib.colors import to_rgb
    rgb = to_rgb(colour)
    return [tuple(v + (1 - v) * (0.35 if i % 2 else 0.0) for v in rgb) for i in range(n)]


def scaled(values: Sequence[float], units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The first (divisor, unit) of ``units`` that the largest value reaches."""
    top = max(values) if values else 0
    return next(((div, name) for div, name in units if top >= div), units[-1])
