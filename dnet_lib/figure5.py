"""Chapter 8's Figure 5 verdicts and how they depend on their cut-offs.

``reuse.figure5_observations`` decides the paper's four observations about its Figure 5 with
fixed cut-offs: a source counts as *used* when its weight is at least 1/3 of the row's
strongest (observations 1 and 2), and an observation holds when the share of such cases is at
least 0.8 (1 and 2) or 0.75 (3), or when a ratio exceeds 1 (4). Those numbers are choices. Here:

* :func:`verdict_table` -- the four verdicts for several models side by side;
* :func:`cutoff_curves` -- each observation's statistic as its cut-off moves: for 1 and 2 the
  share of used pairs against the "used" fraction; for 3 and 4 the statistic itself, which
  holds for every required share or ratio below it;
* :func:`break_even` -- per observation and model, the cut-off at which the verdict flips;
* :func:`plot_cutoffs` -- verdict against cut-off, one line per model, today's cut-off marked.
"""
from __future__ import annotations

import numpy as np

from . import reuse

__all__ = ["USED_FRACTION", "RULES", "verdict_table", "cutoff_curves", "break_even",
           "plot_cutoffs"]

USED_FRACTION = 1 / 3
RULES = {1: 0.8, 2: 0.8, 3: 0.75, 4: 1.0}     # the rule each statistic is compared with
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


def _values(matrices, fraction: float) -> list[float]:
    return list(reuse.figure5_observations(matrices, fraction).value)


def cutoff_curves(matrices_by_model: dict, fractions=FRACTIONS):
    """Tidy DataFrame: model, observation, cutoff, statistic. Observations 1 and 2 vary the
    "used" fraction (their statistic changes with it); 3 and 4 have one statistic each, stored
    once with cutoff NaN."""
    import pandas as pd
    rows = []
    for name, matrices in matrices_by_model.items():
        for fraction in fractions:
            values = _values(matrices, float(fraction))
            for obs in (1, 2):
                if values[obs - 1] is not None:
                    rows.append(dict(model=name, observation=obs, cutoff=float(fraction),
                                     statistic=values[obs - 1]))
        values = _values(matrices, USED_FRACTION)
        for obs in (3, 4):
            if values[obs - 1] is not None:
                rows.append(dict(model=name, observation=obs, cutoff=np.nan,
                                 statistic=values[obs - 1]))
    return pd.DataFrame(rows)


def break_even(matrices_by_model: dict, fractions=FRACTIONS):
    """Per model and observation, the cut-off where the verdict flips.

    1 and 2: the largest "used" fraction on the grid at which the share still reaches 0.8
    (NaN if it never does); 3: the largest required share that still holds (the statistic);
    4: the largest required ratio (the statistic). Today's cut-offs are 1/3, 1/3, 0.75, 1."""
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


def plot_cutoffs(matrices_by_model: dict, fractions=FRACTIONS):
    """Four panels, one per observation: 1 if it holds, 0 if not, against its cut-off (the
    "used" fraction for 1 and 2, the required share for 3, the required ratio for 4), one line
    per model, today's cut-off dashed. Returns the figure."""
    import matplotlib.pyplot as plt
    curves = cutoff_curves(matrices_by_model, fractions)
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6), sharey=True)
    names = list(matrices_by_model)
    for i, name in enumerate(names):
        part = curves[curves.model == name]
        offset = 0.04 * (i - (len(names) - 1) / 2)
        for obs in (1, 2):
            p = part[part.observation == obs]
            axes[obs - 1].step(p.cutoff, (p.statistic >= RULES[obs]) + offset, where="mid",
                               color=f"C{i}", label=name)
        for obs, grid in ((3, np.linspace(0, 1, 101)), (4, np.linspace(0, 3, 121))):
            p = part[part.observation == obs]
            if len(p):
                value = p.statistic.iloc[0]
                axes[obs - 1].step(grid, (value >= grid) + offset, where="post",
                                   color=f"C{i}")
    cutoffs = (USED_FRACTION, USED_FRACTION, RULES[3], RULES[4])
    xlabels = ("'used' fraction of row max", "'used' fraction of row max",
               "required share", "required ratio")
    for obs, ax in enumerate(axes, start=1):
        ax.axvline(cutoffs[obs - 1], color="0.4", ls="--", lw=0.8)
        ax.set(title=f"observation {obs}", xlabel=xlabels[obs - 1])
        ax.set_yticks([0, 1], ["fails", "holds"])
    axes[0].legend(fontsize="x-small", loc="lower left")
    return fig
