"""Chapter 8's Figure 5 verdicts and how they depend on their cut-offs.

``reuse.figure5_observations`` decides the paper's four observations with fixed cut-offs: a
source is *used* at 1/3 of its row's maximum (observations 1 and 2), and an observation holds at
a share of 0.8 (1, 2) or 0.75 (3), or a ratio above 1 (4). Those numbers are choices; here the
verdicts for several models (:func:`verdict_table`), each statistic as its cut-off moves
(:func:`cutoff_curves`) and the cut-off at which each verdict flips (:func:`break_even`).
"""
from __future__ import annotations

import numpy as np

from . import reuse

__all__ = ["USED_FRACTION", "RULES", "FRACTIONS", "verdict_table", "cutoff_curves",
           "break_even"]

USED_FRACTION = 1 / 3
RULES = reuse.RULES                          # the rule each statistic is compared with
FRACTIONS = np.round(np.linspace(0.05, 0.95, 19), 2)


def verdict_table(matrices_by_model: dict, used_fraction: float = USED_FRACTION):
    """One row per observation, one column per model: "value (holds)" or "value (fails)",
    and a last column counting the models for which it holds."""
    import pandas as pd
    tables = {name: reuse.figure5_observations(m, used_fraction)
              for name, m in matrices_by_model.items()}
    first = next(iter(tables.values()))
    out = pd.DataFrame(index=pd.Index(first.observation, name="observation"))
    for name, t in tables.items():
        out[name] = [f"{v:.3f} ({'holds' if h else 'fails'})" if h is not None else "n/a"
                     for v, h in zip(t.value, t.holds)]
    out["holds for"] = [sum(bool(t.holds[i]) for t in tables.values())
                        for i in range(len(first))]
    return out


def cutoff_curves(matrices_by_model: dict, fractions=FRACTIONS):
    """Tidy DataFrame of model, observation, cutoff, statistic: observations 1 and 2 at every
    "used" fraction, 3 and 4 (whose statistic does not depend on it) once, with cutoff NaN."""
    import pandas as pd
    rows = []
    for name, matrices in matrices_by_model.items():
        for cutoff, observations in [(float(f), (1, 2)) for f in fractions] + [(np.nan, (3, 4))]:
            fraction = USED_FRACTION if np.isnan(cutoff) else cutoff
            values = list(reuse.figure5_observations(matrices, fraction).value)
            rows += [dict(model=name, observation=obs, cutoff=cutoff, statistic=values[obs - 1])
                     for obs in observations if values[obs - 1] is not None]
    return pd.DataFrame(rows)


def break_even(matrices_by_model: dict, fractions=FRACTIONS):
    """A DataFrame of the cut-off where each verdict flips, per observation and model: for 1 and
    2 the largest "used" fraction on the grid whose share still reaches 0.8 (NaN if none), for 3
    and 4 the largest required share or ratio that holds (the statistic itself)."""
    import pandas as pd
    curves = cutoff_curves(matrices_by_model, fractions)
    out = {}
    for name, part in curves.groupby("model", sort=False):
        row = {}
        for obs in (1, 2):
            p = part[(part.observation == obs) & (part.statistic >= RULES[obs])]
            row[obs] = float(p.cutoff.max()) if len(p) else np.nan
        for obs in (3, 4):
            p = part[part.observation == obs]
            row[obs] = float(p.statistic.iloc[0]) if len(p) else np.nan
        out[name] = row
    table = pd.DataFrame(out)
    table.index = pd.Index([1, 2, 3, 4], name="observation")
    table.insert(0, "today's cut-off", [USED_FRACTION, USED_FRACTION, RULES[3], RULES[4]])
    return table
