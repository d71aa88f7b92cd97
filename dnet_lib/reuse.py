"""Feature reuse in a trained DenseNet (Huang et al. 2017, Figure 5), and verdicts on the paper's
observations about it (chapter 8): the mean |weight| of each source's input slice (the paper's
L1 norm over input maps, a row rescaled), optionally folded with the BatchNorm in front."""
from __future__ import annotations

import numpy as np
import torch

from .arith import dense_block_channels
from .models import DenseBlock, DenseNet, Transition
from .validate import check_choice

__all__ = ["feature_reuse", "RULES", "USED_FRACTION", "FRACTIONS", "FIGURE5_OBSERVATIONS",
           "figure5_observations", "verdict_table", "cutoff_curves", "break_even"]


def feature_reuse(model: DenseNet, normalize: str = "none",
                  fold_bn: bool = False) -> list[np.ndarray]:
    """Per dense block of L layers, ``M[t, s]``: the mean |weight| from source s (0: block input)
    to target t (layers 1..L, then the transition or classifier), NaN where s > t."""
    if not isinstance(model, DenseNet):
        raise ValueError(f"model must be a dnet_lib DenseNet, got {type(model).__name__}")
    check_choice("normalize", normalize, ("none", "row"))
    modules = list(model.features.children())
    matrices = []
    for block, after in zip(modules, modules[1:]):      # the last block is followed by norm5
        if not isinstance(block, DenseBlock):
            continue
        readers = [(layer.conv1.weight, layer.norm1) for layer in block.values()]
        # then the transition, or (final BatchNorm, ReLU and pooling in between) the classifier
        readers.append((after.conv.weight, after.norm) if isinstance(after, Transition)
                       else (model.classifier.weight, after))
        edges = dense_block_channels(block.in_channels, block.num_layers, block.growth_rate)
        slices = list(zip([0, *edges[:-1]], edges))     # input channels [start, stop) per source
        matrix = np.full((len(slices), len(slices)), np.nan)
        for t, (weight, norm) in enumerate(readers):
            w = weight.detach().float().abs()
            if fold_bn:     # the BatchNorm in front scales channel c by |gamma_c| / std_c
                scale = norm.weight.detach().abs() / torch.sqrt(norm.running_var + norm.eps)
                w = w * scale.view(1, -1, *([1] * (w.dim() - 2)))
            matrix[t, :t + 1] = [w[:, a:b].mean().item() for a, b in slices[:t + 1]]
        if normalize == "row":
            matrix = matrix / np.nanmax(matrix, axis=1, keepdims=True)
        matrices.append(matrix)
    return matrices


# --------------------------------------------------------------------------- Figure 5's verdicts
# The paper's four observations about its Figure 5, in our words, each with the statistic we
# compute and the rule that decides whether it holds (RULES: the threshold; 4 must exceed it).
# verdict_table, cutoff_curves and break_even (chapter 8) show how the verdicts depend on them.
RULES = {1: 0.8, 2: 0.8, 3: 0.75, 4: 1.0}
USED_FRACTION = 1 / 3                         # a source is used at this share of the row's max
FRACTIONS = np.round(np.linspace(0.05, 0.95, 19), 2)     # the "used" fractions cutoff_curves tries
FIGURE5_OBSERVATIONS = (
    ("1. Layers spread their weight over many inputs of their block",
     "share of (layer, earlier source) pairs weighted >= 1/3 of the row's strongest source"),
    ("2. Transition layers spread their weight across the whole preceding block",
     "share of (transition, source) pairs weighted >= 1/3 of the row's strongest source"),
    ("3. In blocks 2 and later, layers weight the block input (the transition's output) least",
     "share of those layers (reading >= 2 sources) whose weakest source is the block input"),
    ("4. The classifier concentrates on the last maps of the last block",
     "classifier weight on the last layer's maps / its mean weight on the other sources"),
)


def figure5_observations(matrices, used_fraction: float = USED_FRACTION):
    """A DataFrame of the four observations tested on ``feature_reuse`` matrices: statistic, value,
    criterion, ``holds`` (None with no row to test); *used*: ``used_fraction`` of the row's max."""
    import pandas as pd
    matrices = [np.asarray(m, dtype=float) for m in matrices]
    if not matrices or any(m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2
                           for m in matrices):
        raise ValueError("matrices must be a non-empty list of square (L + 1, L + 1) arrays "
                         "with L >= 1, as returned by feature_reuse")
    rows = [m / np.nanmax(m, axis=1, keepdims=True) for m in matrices]
    layer_cells = np.array([v for m in rows for r in m[1:-1] for v in r[~np.isnan(r)]])
    transition_cells = np.array([v for m in rows[:-1] for v in m[-1]])
    weakest_is_input = np.array([np.nanargmin(r) == 0 for m in rows[1:] for r in m[1:-1]])
    shares = (layer_cells >= used_fraction, transition_cells >= used_fraction, weakest_is_input)
    cls = matrices[-1][-1]
    values = [float(np.mean(s)) if s.size else None for s in shares]      # None: no row to test
    values.append(float(cls[-1] / np.mean(cls[:-1])))
    holds = [None if v is None else bool(v > RULES[i] if i == 4 else v >= RULES[i])
             for i, v in enumerate(values, 1)]
    rules = [f"{'>' if i == 4 else '>='} {RULES[i]:g}" for i in RULES]
    return pd.DataFrame([dict(observation=o, statistic=st, value=v, criterion=c, holds=h)
                         for (o, st), v, c, h in zip(FIGURE5_OBSERVATIONS, values, rules, holds)])


def verdict_table(matrices_by_model: dict):
    """One row per observation, one column per model: "value (holds)" or "value (fails)",
    and a last column counting the models for which it holds."""
    import pandas as pd
    tables = {name: figure5_observations(m).set_index("observation")
              for name, m in matrices_by_model.items()}
    out = pd.DataFrame({name: [f"{v:.3f} ({'holds' if h else 'fails'})" if h is not None
                               else "n/a" for v, h in zip(t.value, t.holds)]
                        for name, t in tables.items()}, index=next(iter(tables.values())).index)
    out["holds for"] = sum(t.holds.eq(True).astype(int) for t in tables.values())   # None: n/a
    return out


def cutoff_curves(matrices_by_model: dict):
    """Tidy DataFrame of model, observation, cutoff, statistic: observations 1 and 2 at every
    "used" fraction, 3 and 4 (whose statistic does not depend on it) once, with cutoff NaN."""
    import pandas as pd
    rows = []
    for name, matrices in matrices_by_model.items():
        for cutoff, observations in [(float(f), (1, 2)) for f in FRACTIONS] + [(np.nan, (3, 4))]:
            fraction = USED_FRACTION if np.isnan(cutoff) else cutoff
            values = list(figure5_observations(matrices, fraction).value)
            rows += [dict(model=name, observation=obs, cutoff=cutoff, statistic=values[obs - 1])
                     for obs in observations if values[obs - 1] is not None]
    return pd.DataFrame(rows)


def break_even(matrices_by_model: dict):
    """A DataFrame of the cut-off where each verdict flips, per observation and model: the largest
    "used" fraction that still holds (1, 2; NaN if none), the statistic itself (3, 4)."""
    import pandas as pd
    out = {}
    for name, part in cutoff_curves(matrices_by_model).groupby("model", sort=False):
        holds = part[part.statistic >= part.observation.map(RULES)]
        out[name] = {**{obs: holds[holds.observation == obs].cutoff.max() for obs in (1, 2)},
                     **part[part.observation >= 3].set_index("observation").statistic}
    table = pd.DataFrame(out).reindex(pd.Index([1, 2, 3, 4], name="observation"))
    table.insert(0, "today's cut-off", [USED_FRACTION, USED_FRACTION, RULES[3], RULES[4]])
    return table
