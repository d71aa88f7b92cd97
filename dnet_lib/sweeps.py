"""Chapter 7's measurements: saved bytes and step time of ``memory.densenet_variants`` against
depth and input size (:func:`sweep`, and :func:`depth_fits` of them), every tensor a dense block
keeps, layer by layer (:func:`saved_by_layer`), and d2l's exercise at 96 and 224 px."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import memory, models, validate

__all__ = ["SWEEP", "measure", "sweep", "fit_error", "depth_fits", "SavedTensor",
           "saved_by_layer", "wide_tensors_per_layer", "d2l_resolution"]

SWEEP = {
    "smoke": dict(depths=(10, 16, 22), sizes=(8, 16), size_depth=16, batch=2, repeats=1),
    "cpu": dict(depths=(22, 40, 58, 76, 100), sizes=(16, 32, 48, 64), size_depth=40,
                batch=4, repeats=3),
    "gpu": dict(depths=(40, 100, 160, 250), sizes=(32, 64, 96, 128), size_depth=100,
                batch=64, repeats=10),
}


def measure(depth: int, size: int, *, batch: int, repeats: int, timed: bool = True,
            device: torch.device | str = "cpu") -> list[dict]:
    """One row per variant of the CIFAR DenseNet-BC (k=12) of ``depth`` at ``size`` px:
    saved MiB, median step seconds (NaN when not ``timed``) and CUDA peak MiB (NaN off CUDA)."""
    validate.check_int("batch", batch, 1)
    validate.check_int("size", size, 8)
    variants = {name: m.to(device) for name, m in memory.densenet_variants(depth=depth).items()
                if name != "torchvision class plain"}     # the same computation as ours
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    rows = memory.compare_memory(variants, x, y, repeats=repeats, warmup=int(timed),
                                 time_steps=timed)
    return [dict(depth=depth, size=size, variant=r.name, saved_MiB=r.saved_bytes / 2**20,
                 step_s=r.step_seconds,
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


def fit_error(n, values, degree: int) -> float:
    """Largest relative error of a least-squares polynomial of ``degree`` through the points."""
    n, values = np.asarray(n, float), np.asarray(values, float)
    return float(np.max(np.abs(np.polyval(np.polyfit(n, values, degree), n) / values - 1)))


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
    module: str         # the innermost module in the layer ("norm1", ...; "" the layer itself)
    channels: int       # size of dimension 1 (0 for per-channel statistics and scalars)
    nbytes: int
    shared: bool        # the storage of the block input or of a layer's output (kept anyway)

    @property
    def kind(self) -> str:
        """What the storage is, by the module that saved it ("" our layer's own Function)."""
        if self.shared:
            return "feature maps (kept anyway)"
        if self.channels == 0:
            return "statistics"
        if self.module in ("", "norm1"):
            return WIDE[0]
        if self.module.startswith("relu1"):
            return WIDE[1]
        if self.module.startswith(("norm2", "relu2", "conv2")):
            return "bottleneck (4k maps)"
        return "other"


WIDE = ("concatenation (BatchNorm's input)", "BN-ReLU output (the conv's input)")


def saved_by_layer(block: nn.Module, x: torch.Tensor) -> list[SavedTensor]:
    """Every storage a dense block's layers save for backward during ``block(x)`` (training
    mode), de-duplicated within each layer, not across layers: a feature map saved by three
    layers appears three times, each marked ``shared``. Parameters and buffers are left out."""
    if not isinstance(block, models.DenseBlock):
        raise ValueError(f"block must be a dnet_lib DenseBlock, got {type(block).__name__}")
    outputs = [x]
    handles = [layer.register_forward_hook(lambda m, a, out: outputs.append(out))
               for layer in block.values()]
    try:
        saved = memory.saved_for_backward(block.train(), x)
    finally:
        for h in handles:
            h.remove()
    shared = {memory.storage_key(t) for t in outputs}
    rows, seen = [], set()
    for path, t in saved:
        layer_name, _, module = path.partition(".")
        key = (layer_name, memory.storage_key(t))
        if layer_name and key not in seen:       # "": saved by the block itself
            seen.add(key)
            rows.append(SavedTensor(int(layer_name.removeprefix("denselayer")), module,
                                    t.shape[1] if t.dim() >= 2 else 0,
                                    t.untyped_storage().nbytes(), key[1] in shared))
    return rows


def wide_tensors_per_layer(tensors: list[SavedTensor]) -> dict[int, int]:
    """Per layer: how many saved storages are new tensors as wide as the layer's input (not
    feature maps that exist anyway, not statistics, not bottleneck maps)."""
    counts = {t.layer: 0 for t in tensors}
    for t in tensors:
        counts[t.layer] += t.kind in WIDE
    return counts


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
