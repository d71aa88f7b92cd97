"""Seed-to-seed statistics of the reference runs (chapter 6): Welch's t-test of two networks'
accuracies, and the less-data runs, paired (each size and seed gave both the same data)."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

__all__ = ["Welch", "welch", "paired_t", "less_data_gaps"]


@dataclass(frozen=True)
class Welch:
    """Result of :func:`welch`: the gap of the means (a - b), t, degrees of freedom, p."""
    mean_a: float
    mean_b: float
    gap: float
    t: float
    df: float
    p: float


def _check(name: str, values: Sequence[float]) -> list[float]:
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError(f"{name} needs at least 2 values (one per seed), got {len(values)}")
    return values


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t-test of mean(a) - mean(b) (unequal variances), two-sided p."""
    from scipy import stats
    a, b = _check("a", a), _check("b", b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        raise ValueError("a and b have no spread at all; a t-test is undefined")
    # Welch-Satterthwaite degrees of freedom (scipy's ttest_ind returns them only from 1.11 on)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    mean_a, mean_b = statistics.mean(a), statistics.mean(b)
    t = (mean_a - mean_b) / math.sqrt(va + vb)
    return Welch(mean_a, mean_b, mean_a - mean_b, t, df, float(2 * stats.t.sf(abs(t), df)))


def paired_t(differences: Sequence[float]) -> tuple[float, float]:
    """t and two-sided p of a one-sample t-test of paired differences against zero (t = +-inf,
    p = 0 for identical non-zero differences; t = 0, p = 1 for all zeros)."""
    from scipy import stats
    d = _check("differences", differences)
    mean = statistics.mean(d)
    if statistics.stdev(d) == 0:
        return (math.copysign(math.inf, mean), 0.0) if mean else (0.0, 1.0)
    test = stats.ttest_1samp(d, 0.0)
    return float(test.statistic), float(test.pvalue)


def less_data_gaps(record: dict, first: str = "densenet", second: str = "resnet"):
    """A DataFrame by ``train_examples``: seeds, each network's mean and std test accuracy, the
    paired gaps (first - second), their mean and std, and the paired t-test's t and p."""
    import pandas as pd
    runs = pd.DataFrame([r for r in record.get("runs", {}).values()
                         if r.get("group") in ("main", "less_data")],
                        columns=["train_examples", "seed", "network", "final_test_acc"])
    acc = runs.pivot_table("final_test_acc", ["train_examples", "seed"], "network")
    pairs = acc.reindex(columns=[first, second]).dropna()    # a missing network: all NaN
    if pairs.empty:
        raise ValueError(f"no runs of both {first!r} and {second!r} in this result file")
    pairs["gap"] = pairs[first] - pairs[second]
    by_size = pairs.groupby(level=0)
    spread = {f"{net}_{stat}": (net, stat) for net in (first, second) for stat in ("mean", "std")}
    table = by_size.agg(seeds=("gap", "size"), **spread, gaps=("gap", list),
                        gap_mean=("gap", "mean"), gap_std=("gap", "std"))  # std of one value: NaN
    table["t"], table["p"] = zip(*(paired_t(g) if len(g) > 1 else (math.nan, math.nan)
                                   for g in table.gaps))
    return table
