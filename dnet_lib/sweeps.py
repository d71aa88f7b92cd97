"""Chapter 7's measurements: memory and time against depth and resolution, and what autograd
stores per dense layer.

* :data:`SWEEP` -- the sizes of the sweeps per mode ("smoke", "cpu", "gpu").
* :func:`measure` -- saved-for-backward bytes and step time of the DenseNet-BC variants of
  ``memory.densenet_variants`` at one depth and input size; :func:`sweep` runs a whole sweep.
* :func:`plot_sweep` -- saved bytes (left) and step time (right) against one swept variable.
* :func:`fit_error`, :func:`depth_fits` -- how well a straight line / a parabola in the number
  of layers per block fits each variant's saved bytes.
* :func:`saved_by_layer` -- every tensor autograd keeps for one dense block, layer by layer:
  which module saved it, how many channels it has, and whether it is one of the block's
  feature maps (kept anyway) or a new wide tensor;
* :func:`plot_saved_by_layer` -- those tensors drawn as bars, plain against memory-efficient,
  in the manner of Pleiss et al.'s (2017) Figure 2;
* :func:`d2l_resolution` -- d2l's DenseNet and ResNet-18 at 96 and 224 px (d2l's exercise).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import memory, models, validate

__all__ = ["SWEEP", "measure", "sweep", "plot_sweep", "fit_error", "depth_fits",
           "SavedTensor", "saved_by_layer", "wide_tensors_per_layer", "plot_saved_by_layer",
           "d2l_resolution",
           "KIND_COLOURS"]

SWEEP = {
    "smoke": dict(depths=(10, 16, 22), sizes=(8, 16), size_depth=16, batch=2, repeats=1),
    "cpu": dict(depths=(22, 40, 58, 76, 100), sizes=(16, 32, 48, 64), size_depth=40,
                batch=4, repeats=3),
    "gpu": dict(depths=(40, 100, 160, 250), sizes=(32, 64, 96, 128), size_depth=100,
                batch=64, repeats=10),
}
SKIPPED = ("torchvision class plain",)   # the same computation as "ours plain"


def measure(depth: int, size: int, *, batch: int, repeats: int, timed: bool = True,
            device: torch.device | str = "cpu") -> list[dict]:
    """One row per variant of the CIFAR DenseNet-BC (k=12) of ``depth`` at ``size`` px:
    saved MiB, median step seconds (NaN when not ``timed``) and CUDA peak MiB (NaN off CUDA)."""
    validate.check_int("batch", batch, 1)
    validate.check_int("size", size, 8)
    variants = memory.densenet_variants("densenet_bc", depth=depth)
    variants = {name: m.to(device) for name, m in variants.items() if name not in SKIPPED}
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    rows = memory.compare_memory(variants, x, y, repeats=repeats, warmup=int(timed),
                                 time_steps=timed)
    return [dict(depth=depth, size=size, variant=r.name, saved_MiB=r.saved_bytes / 2**20,
                 step_s=r.step_seconds if timed else float("nan"),
                 cuda_peak_MiB=(r.cuda_peak_bytes or float("nan")) / 2**20) for r in rows]


def sweep(mode: str, device: torch.device | str = "cpu"):
    """``(by_depth, by_size)`` DataFrames for the mode's :data:`SWEEP` (32 px for the depth
    sweep); smoke mode does not time (single unwarmed steps would be noise)."""
    import pandas as pd
    spec = SWEEP[validate.check_choice("mode", mode, SWEEP)]
    kw = dict(batch=spec["batch"], repeats=spec["repeats"], timed=mode != "smoke",
              device=device)
    by_depth = pd.DataFrame([r for d in spec["depths"] for r in measure(d, 32, **kw)])
    by_size = pd.DataFrame([r for s in spec["sizes"]
                            for r in measure(spec["size_depth"], s, **kw)])
    return by_depth, by_size


def plot_sweep(table, x: str, xlabel: str, title: str = ""):
    """Saved MiB (left) and step seconds (right) against column ``x``, one line per variant."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, part in table.groupby("variant", sort=False):
        axes[0].plot(part[x], part.saved_MiB, "-o", label=name)
        axes[1].plot(part[x], part.step_s, "-o", label=name)
    axes[0].set(xlabel=xlabel, ylabel="saved for backward (MiB)")
    axes[1].set(xlabel=xlabel, ylabel="training step (s)")
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def fit_error(n, values, degree: int) -> float:
    """Largest relative error of a least-squares polynomial of ``degree`` through the points."""
    n, values = np.asarray(n, float), np.asarray(values, float)
    coeffs = np.polyfit(n, values, degree)
    return float(np.max(np.abs(np.polyval(coeffs, n) - values) / values))


def depth_fits(by_depth):
    """Per variant: growth of saved bytes from the smallest to the largest depth, and the
    largest relative error of a linear and a quadratic fit in layers per block, (L - 4) / 6
    for DenseNet-BC (NaN where there are too few depths for the fit to mean anything)."""
    import pandas as pd
    rows = []
    for name, part in by_depth.groupby("variant", sort=False):
        n = (part.depth.to_numpy(float) - 4) / 6
        mib = part.saved_MiB.to_numpy()
        rows.append(dict(variant=name, growth=mib[-1] / mib[0],
                         linear_fit_error=fit_error(n, mib, 1) if len(n) >= 3 else np.nan,
                         quadratic_fit_error=fit_error(n, mib, 2) if len(n) >= 4
                         else np.nan))
    return pd.DataFrame(rows).set_index("variant")


# --------------------------------------------------------------------------- per layer
@dataclass(frozen=True)
class SavedTensor:
    """One storage autograd keeps, as seen from the dense layer whose forward saved it."""
    layer: int          # 1..L
    module: str         # the innermost module inside the layer ("norm1", "relu1", ...; "" the layer)
    channels: int       # size of dimension 1 (0 for per-channel statistics and scalars)
    nbytes: int
    shared: bool        # the storage of the block input or of a layer's output (kept anyway)

    @property
    def kind(self) -> str:
        if self.shared:
            return "feature maps (kept anyway)"
        if self.channels == 0:
            return "statistics"
        if self.module in ("", "norm1"):       # "": saved by the layer's own autograd Function
            return "concatenation (BatchNorm's input)"
        if self.module.startswith("relu1"):
            return "BN-ReLU output (the conv's input)"
        if self.module.startswith(("norm2", "relu2", "conv2")):
            return "bottleneck (4k maps)"
        return "other"


KIND_COLOURS = {"feature maps (kept anyway)": "#9ecae1",
                "concatenation (BatchNorm's input)": "#fd8d3c",
                "BN-ReLU output (the conv's input)": "#e6550d",
                "bottleneck (4k maps)": "#756bb1", "other": "#bdbdbd", "statistics": "#636363"}


def _key(t: torch.Tensor):
    try:
        return (str(t.device), t.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):
        return None


def saved_by_layer(block: nn.Module, x: torch.Tensor) -> list[SavedTensor]:
    """Every storage a dense block's layers save for backward during ``block(x)`` (training
    mode, gradients on), de-duplicated within each layer, not across layers: a feature map
    saved by three layers appears three times, each marked ``shared``. Parameters and buffers
    are left out."""
    if not isinstance(block, models.DenseBlock):
        raise ValueError(f"block must be a dnet_lib DenseBlock, got {type(block).__name__}")
    excluded = {_key(p) for p in block.parameters()} | {_key(b) for b in block.buffers()}
    names = {m: n for n, m in block.named_modules()}
    stack: list[str] = []
    saved: list[tuple[str, torch.Tensor]] = []   # (module path, tensor): kept alive to the end
    outputs = [x]
    handles = []
    def enter(module, args) -> None:
        stack.append(names[module])

    def leave(module, args, out) -> None:      # None: a returned value would replace `out`
        stack.pop()

    def keep_output(module, args, out) -> None:
        outputs.append(out)

    for module in names:
        if module is not block:
            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(leave))
    for layer in block.values():
        handles.append(layer.register_forward_hook(keep_output))

    def pack(t: torch.Tensor) -> torch.Tensor:
        if stack and _key(t) not in excluded:
            saved.append((stack[-1], t))
        return t

    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            block.train()(x)
    finally:
        for h in handles:
            h.remove()
    shared = {_key(t) for t in outputs}
    rows, seen = [], set()
    for path, t in saved:
        layer_name, _, module = path.partition(".")
        layer = int(layer_name.removeprefix("denselayer"))
        key = (layer, _key(t))
        if key in seen:
            continue
        seen.add(key)
        channels = t.shape[1] if t.dim() >= 2 else 0
        rows.append(SavedTensor(layer, module, channels, t.untyped_storage().nbytes(),
                                _key(t) in shared))
    return rows


def wide_tensors_per_layer(tensors: list[SavedTensor]) -> dict[int, int]:
    """Per layer: how many saved storages are new tensors as wide as the layer's input (not
    feature maps that exist anyway, not statistics, not bottleneck maps)."""
    counts: dict[int, int] = {}
    for t in tensors:
        counts.setdefault(t.layer, 0)
        if t.kind in ("concatenation (BatchNorm's input)", "BN-ReLU output (the conv's input)"):
            counts[t.layer] += 1
    return counts


def plot_saved_by_layer(panels: dict[str, list[SavedTensor]], title: str = ""):
    """One panel per entry of ``panels`` (e.g. plain, memory-efficient): a row per layer, a bar
    per saved storage with its width in channels, coloured by what it is; statistics are too
    small to draw. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.2), sharex=True,
                             squeeze=False)
    used = set()
    widest = 1
    for ax, (name, tensors) in zip(axes[0], panels.items()):
        layers = sorted({t.layer for t in tensors})
        for layer in layers:
            left = 0
            for t in (t for t in tensors if t.layer == layer and t.channels):
                ax.barh(layer, t.channels, left=left, height=0.7,
                        color=KIND_COLOURS[t.kind], edgecolor="white", linewidth=0.8)
                used.add(t.kind)
                left += t.channels
            widest = max(widest, left)
            ax.text(left + 1, layer, f"{left}", va="center", fontsize=7)
        ax.set(title=name, xlabel="channels stored for backward", ylabel="dense layer")
        ax.set_yticks(layers)
        ax.invert_yaxis()
    axes[0][0].set_xlim(0, widest * 1.15)
    handles = [Patch(color=KIND_COLOURS[k], label=k) for k in KIND_COLOURS if k in used]
    if title:
        fig.suptitle(title, fontsize=10)
    if fig.get_layout_engine() is not None:        # the book's style: constrained layout
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize="small",
                   frameon=False)
    else:
        fig.tight_layout(rect=(0, 0.14, 1, 1))
        fig.legend(handles=handles, loc="lower center", ncol=2, fontsize="small",
                   frameon=False)
    return fig


def d2l_resolution(batch: int, sizes=(96, 224), device: torch.device | str = "cpu"):
    """Saved-for-backward MiB of d2l's DenseNet (plain and memory-efficient) and ResNet-18 on
    one training-mode batch per input size: one row per model, one column per size, then the
    parameters and the ratio of the last size to the first."""
    import pandas as pd
    validate.check_int("batch", batch, 1)
    rows, params = {}, {}
    for size in sizes:
        torch.manual_seed(0)
        nets = {"d2l DenseNet": models.d2l_densenet(),
                "d2l DenseNet, memory-efficient": models.d2l_densenet(memory_efficient=True),
                "d2l ResNet-18": models.d2l_resnet18()}
        x = torch.randn(batch, 1, size, size, device=device)
        for name, net in nets.items():
            saved = memory.saved_activation_bytes(net.to(device).train(), x, by_module=False)
            rows.setdefault(name, {})[size] = saved.total_bytes / 2**20
            params[name] = sum(p.numel() for p in net.parameters())
    table = pd.DataFrame(rows).T
    table[f"{sizes[-1]} / {sizes[0]}"] = table[sizes[-1]] / table[sizes[0]]
    table.insert(0, "parameters", pd.Series(params))
    return table
