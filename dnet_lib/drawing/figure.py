"""What every drawing returns, a matplotlib figure plus the parts it shows, and shared helpers."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from itertools import accumulate

from .. import style


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
    """A figure and the parts drawn on it (for tests and for readers who want the numbers)."""
    figure: object
    title: str = ""
    parts: list[Part] = field(default_factory=list, repr=False)

    def add(self, artist, kind: str, label: str, value=None, **meta):
        """Record ``artist`` (or a list of artists) as one part, tagged with its gid."""
        gid = f"{kind}-{len(self.parts)}"
        for a in artist if isinstance(artist, (list, tuple)) else [artist]:
            a.set_gid(gid)
        self.parts.append(Part(kind, label, value, gid, meta))

    def find(self, kind: str, **meta) -> list[Part]:
        """Parts of this ``kind`` whose ``meta`` has all the given items."""
        return [p for p in self.parts
                if p.kind == kind and all(p.meta.get(k) == v for k, v in meta.items())]

    def texts(self) -> list[str]:
        """Every text drawn on the figure (labels, titles, annotations)."""
        from matplotlib.text import Text
        return [t.get_text() for t in self.figure.findobj(Text) if t.get_text()]

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with style.context():
            self.figure.savefig(buf, format="png")
        return buf.getvalue()


def new_figure(width: float, height: float, title: str) -> Drawing:
    """An empty Drawing on a constrained-layout figure that pyplot does not hold on to."""
    from matplotlib.figure import Figure
    return Drawing(Figure(figsize=(width, height), layout="constrained"), title)


def subplots(*args, **kwargs):
    """``plt.subplots`` with constrained layout: the (figure, axes) of the charts chapters show."""
    import matplotlib.pyplot as plt
    return plt.subplots(*args, layout="constrained", **kwargs)


def pyplot_axes(ax=None, figsize=None):
    """``ax``, or the axes of a new pyplot figure of ``figsize``."""
    return subplots(figsize=figsize)[1] if ax is None else ax


def stacked_bar(ax, at: float, widths, colours, thick: float, start: float = 0,
                vertical: bool = False):
    """One bar of ``widths`` end to end from ``start`` (upwards if ``vertical``, else to the
    right), a colour each: returns its rectangles and where it ends."""
    ends = list(accumulate(widths, initial=start))
    return (ax.bar if vertical else ax.barh)(at, widths, thick, ends[:-1], color=colours,
                                             edgecolor="white"), ends[-1]

