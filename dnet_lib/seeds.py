"""Seed-to-seed statistics of the reference runs (chapter 6).

* :func:`welch` -- Welch's two-sample t-test of two networks' final test accuracies (unequal
  variances; the honest test when each network has only a few seeds).
* :func:`less_data_gaps` -- the less-data experiment with every seed: at each training-set size
  and seed both networks saw the same subset and steps, so the DenseNet-minus-ResNet difference
  is *paired*; the table gives each network's mean and std and the paired gap with its t-test.
* :func:`plot_less_data_gaps` -- the gap against training-set size, one dot per seed.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from . import results

__all__ = ["Welch", "welch", "paired_t", "less_data_gaps", "plot_less_data_gaps"]


@dataclass(frozen=True)
class Welch:
    """Result of :func:`welch`: the gap of the means (a - b), t, degrees of freedom, p."""
    mean_a: float
    mean_b: float
    gap: float
    t: float
    df: float
    p: float

    def significant(self, level: float = 0.05) -> bool:
        return self.p < level


def _check(name: str, values: Sequence[float], least: int = 2) -> list[float]:
    values = [float(v) for v in values]
    if len(values) < least:
        raise ValueError(f"{name} needs at least {least} values (one per seed), got "
                         f"{len(values)}")
    return values


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t-test of mean(a) - mean(b), two-sided p from the t distribution."""
    from scipy import stats
    a, b = _check("a", a), _check("b", b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    gap = statistics.mean(a) - statistics.mean(b)
    if va + vb == 0:
        raise ValueError("a and b have no spread at all; a t-test is undefined")
    t = gap / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    p = float(2 * stats.t.sf(abs(t), df))
    return Welch(statistics.mean(a), statistics.mean(b), gap, t, df, p)


def paired_t(differences: Sequence[float]) -> tuple[float, float]:
    """t and two-sided p of a one-sample t-test of paired differences against zero."""
    from scipy import stats
    d = _check("differences", differences)
    sd = statistics.stdev(d)
    if sd == 0:
        return (math.copysign(math.inf, statistics.mean(d)) if statistics.mean(d) else 0.0,
                0.0 if statistics.mean(d) else 1.0)
    t = statistics.mean(d) / (sd / math.sqrt(len(d)))
    return t, float(2 * stats.t.sf(abs(t), len(d) - 1))


def less_data_gaps(record: dict, first: str = "densenet", second: str = "resnet"):
    """One row per training-set size (the full set from the main runs): seeds, each network's
    mean and std test accuracy, the paired gap (first - second) per seed, its mean and std,
    and the paired t-test's t and p. A pandas DataFrame indexed by ``train_examples``."""
    import pandas as pd
    runs = [r for r in record.get("runs", {}).values()
            if r.get("group") in ("main", "less_data") and r["network"] in (first, second)]
    acc = {}
    for r in runs:
        acc[(r["train_examples"], r["network"], r["seed"])] = r["final_test_acc"]
    rows = []
    for size in sorted({key[0] for key in acc}):
        seeds = sorted(s for (n, net, s) in acc if n == size and net == first
                       and (n, second, s) in acc)
        if not seeds:
            continue
        a = [acc[(size, first, s)] for s in seeds]
        b = [acc[(size, second, s)] for s in seeds]
        gaps = [x - y for x, y in zip(a, b)]
        t, p = paired_t(gaps) if len(gaps) > 1 else (math.nan, math.nan)
        rows.append(dict(train_examples=size, seeds=len(seeds),
                         **{f"{first}_mean": statistics.mean(a),
                            f"{first}_std": statistics.stdev(a) if len(a) > 1 else math.nan,
                            f"{second}_mean": statistics.mean(b),
                            f"{second}_std": statistics.stdev(b) if len(b) > 1 else math.nan},
                         gaps=gaps, gap_mean=statistics.mean(gaps),
                         gap_std=statistics.stdev(gaps) if len(gaps) > 1 else math.nan,
                         t=t, p=p))
    if not rows:
        raise ValueError(f"no runs of both {first!r} and {second!r} in this result file")
    return pd.DataFrame(rows).set_index("train_examples")


def plot_less_data_gaps(record: dict, ax=None, first: str = "densenet",
                        second: str = "resnet"):
    """DenseNet minus ResNet test accuracy against training images (log scale): one dot per
    seed, a line through the means, zero marked. Returns the figure."""
    import matplotlib.pyplot as plt
    table = less_data_gaps(record, first, second)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for size, row in table.iterrows():
        ax.semilogx([size] * len(row.gaps), [100 * g for g in row.gaps], "o",
                    color="C0", alpha=0.6, ms=5)
    ax.semilogx(table.index, 100 * table.gap_mean, "-", color="C0", label="mean over seeds")
    ax.axhline(0, color="0.5", lw=0.8)
    names = [results.network_label(record, n).split(" ")[0] for n in (first, second)]
    ax.set(xlabel="training images (log scale)",
           ylabel=f"{names[0]} - {names[1]} (points)")
    ax.set_xticks(list(table.index), [f"{int(n):,}" for n in table.index])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize="small")
    if ax.figure.get_layout_engine() is None:
        ax.figure.tight_layout()
    return ax.figure
