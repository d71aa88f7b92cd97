"""What training a network costs in memory (chapter 7): the bytes autograd keeps for backward,
per module and per dense layer, and a training step's seconds and CUDA peak, against depth and
input size. ``saved_tensors_hooks`` see exactly what is kept, so a memory-efficient layer (whose
backward recomputes its BN-ReLU from the stored maps, ``models/efficient.py``) is counted as it
really is."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import models, runtime
from .arith import count_params
from .validate import check_choice, check_int

__all__ = ["SavedActivations", "saved_activation_bytes", "train_step", "cuda_peak_bytes",
           "MemoryRow", "compare_memory", "densenet_variants", "SWEEP", "sweep",
           "fit_error", "depth_fits", "SavedTensor", "saved_by_layer", "wide_tensors_per_layer",
           "d2l_resolution"]


@dataclass
class SavedActivations:
    """What one forward pass leaves for backward: bytes and count of distinct storages
    (parameters and buffers excluded), and bytes per innermost module name ("" the model)."""
    total_bytes: int
    num_tensors: int
    by_module: dict[str, int]


def _storage_key(t: torch.Tensor) -> tuple[torch.device, int]:
    """Where ``t``'s storage lives: every view of one tensor has the same key."""
    return t.device, t.untyped_storage().data_ptr()


def _saved_for_backward(model: nn.Module, args: tuple) -> tuple[object, dict]:
    """``model(*args)`` (grad on, the model's mode, on copies of its buffers) and what autograd
    saves for backward during it: {storage key: (innermost module name, first tensor saved)},
    parameters and buffers left out."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    buffers = {name: b.clone() for name, b in model.named_buffers()}   # what BatchNorm updates
    excluded = {_storage_key(t) for t in (*model.parameters(), *buffers.values())}
    stack, saved, handles = [""], {}, []

    def leave(module, args, output) -> None:    # None: a returned value would replace the output
        stack.pop()

    for name, module in model.named_modules():
        if module is not model:
            handles += [module.register_forward_pre_hook(lambda m, a, n=name: stack.append(n)),
                        module.register_forward_hook(leave)]

    def pack(t: torch.Tensor) -> torch.Tensor:      # keeping t: no storage address is reused
        key = _storage_key(t)
        if key not in excluded:
            saved.setdefault(key, (stack[-1], t))
        return t

    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            output = torch.func.functional_call(model, buffers, args)
    finally:
        for h in handles:
            h.remove()
    return output, saved


def saved_activation_bytes(model: nn.Module, x: torch.Tensor | tuple) -> SavedActivations:
    """Bytes autograd saves for backward during ``model(x)`` (``x``: a tensor or a tuple of
    arguments), each storage once and whole (what stays alive), by the module that saved it."""
    _, saved = _saved_for_backward(model, x if isinstance(x, tuple) else (x,))
    by_module = {}
    for name, t in saved.values():
        by_module[name] = by_module.get(name, 0) + t.untyped_storage().nbytes()
    return SavedActivations(sum(by_module.values()), len(saved), by_module)


# --------------------------------------------------------------------------- timing
def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds of one forward and backward (cross-entropy, gradients reset), device synchronised."""
    runtime.synchronize(x.device)
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    runtime.synchronize(x.device)
    return time.perf_counter() - start


def cuda_peak_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int | None:
    """``torch.cuda.max_memory_allocated`` over one training step on ``x``'s GPU; None off CUDA."""
    if x.device.type != "cuda":
        return None
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    train_step(model, x, y)
    return int(torch.cuda.max_memory_allocated(x.device))


# --------------------------------------------------------------------------- comparison
@dataclass
class MemoryRow:
    """One model in a ``compare_memory`` table; ``saved_ratio`` is relative to the first model."""
    name: str
    saved_bytes: int
    saved_tensors: int
    saved_ratio: float
    step_seconds: float           # the median; NaN when not timed
    cuda_peak_bytes: int | None


def compare_memory(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *,
                   repeats: int = 5, warmup: int = 1, time_steps: bool = True) -> list[MemoryRow]:
    """Saved bytes, median step time and CUDA peak of each model (training mode, no optimizer) on
    one batch, timed in interleaved rounds (A, B, A, B, ...) so a slow spell hits all alike."""
    if not models:
        raise ValueError("models must name at least one model, got an empty mapping")
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    saved = {n: saved_activation_bytes(m.train(), x) for n, m in models.items()}
    peaks = {n: cuda_peak_bytes(m, x, y) for n, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range((warmup + repeats) if time_steps else 0):
        for name, model in models.items():
            times[name].append(train_step(model, x, y))
    base = saved[next(iter(models))].total_bytes
    return [MemoryRow(n, s.total_bytes, s.num_tensors, s.total_bytes / base,
                      statistics.median(times[n][warmup:]) if time_steps else math.nan, peaks[n])
            for n, s in saved.items()]


def densenet_variants(arch: str = "densenet_bc", depth: int = 100, fast_cpu: bool = False
                      ) -> dict[str, nn.Module]:
    """Our and torchvision's DenseNet-BC of ``depth`` (CIFAR stem, 10 classes) or DenseNet-121,
    plain and memory-efficient, one set of weights (seed 0); ``fast_cpu``: for ours."""
    import torchvision
    check_choice("arch", arch, ("densenet_bc", "densenet121"))
    torch.manual_seed(0)
    if arch == "densenet_bc":
        config = models.cifar_config(depth)
        prefix, theirs = "torchvision class", partial(models.torchvision_densenet_cifar, depth)
    else:
        config, prefix, theirs = models.DENSENET121, "torchvision", torchvision.models.densenet121
    flags = (("plain", False), ("memory_efficient", True))
    variants = {f"ours {kind}": models.DenseNet(config, memory_efficient=on, fast_cpu=fast_cpu)
                for kind, on in flags}
    variants.update({f"{prefix} {kind}": theirs(num_classes=config.num_classes,
                                                memory_efficient=on) for kind, on in flags})
    reference = variants["ours plain"].state_dict()
    for model in variants.values():
        model.load_state_dict(reference)
    return variants


# --------------------------------------------------------------------------- sweeps
SWEEP = {
    "smoke": dict(depths=(10, 16, 22), sizes=(8, 16), size_depth=16, batch=2, repeats=1),
    "cpu": dict(depths=(22, 40, 58, 76, 100), sizes=(16, 32, 48, 64), size_depth=40,
                batch=4, repeats=3),
    "gpu": dict(depths=(40, 100, 160, 250), sizes=(32, 64, 96, 128), size_depth=100,
                batch=64, repeats=10),
}


def _measure(depth: int, size: int, spec: dict, timed: bool, device) -> list[dict]:
    """One row per variant of the CIFAR DenseNet-BC (k=12) of ``depth`` at ``size`` px:
    saved MiB, median step seconds (NaN when not ``timed``) and CUDA peak MiB (NaN off CUDA)."""
    variants = {name: m.to(device) for name, m in densenet_variants(depth=depth).items()
                if name != "torchvision class plain"}     # the same computation as ours
    x = torch.randn(spec["batch"], 3, size, size, device=device)
    y = torch.randint(0, 10, (spec["batch"],), device=device)
    rows = compare_memory(variants, x, y, repeats=spec["repeats"], warmup=int(timed),
                          time_steps=timed)
    return [dict(depth=depth, size=size, variant=r.name, saved_MiB=r.saved_bytes / 2**20,
                 step_s=r.step_seconds, cuda_peak_MiB=(r.cuda_peak_bytes or math.nan) / 2**20)
            for r in rows]


def sweep(mode: str, device: torch.device | str = "cpu"):
    """``(by_depth, by_size)`` DataFrames for the mode's :data:`SWEEP` (32 px for the depth
    sweep); smoke mode does not time (single unwarmed steps would be noise)."""
    import pandas as pd
    spec = SWEEP[check_choice("mode", mode, SWEEP)]
    run = partial(_measure, spec=spec, timed=mode != "smoke", device=device)
    by_depth = pd.DataFrame([r for d in spec["depths"] for r in run(d, 32)])
    by_size = pd.DataFrame([r for s in spec["sizes"] for r in run(spec["size_depth"], s)])
    return by_depth, by_size


def fit_error(n, values, degree: int) -> float:
    """Largest relative error of a least-squares polynomial of ``degree`` through the points."""
    n, values = np.asarray(n, float), np.asarray(values, float)
    return float(np.max(np.abs(np.polyval(np.polyfit(n, values, degree), n) / values - 1)))


def depth_fits(by_depth):
    """Per variant: the growth of saved bytes over the depths, and the largest relative error of
    a linear and a quadratic fit in layers per block, (L - 4) / 6 (NaN with too few depths)."""
    import pandas as pd
    rows = []
    for name, part in by_depth.groupby("variant", sort=False):
        n = (part.depth.to_numpy(float) - 4) / 6
        mib = part.saved_MiB.to_numpy()
        rows.append(dict(variant=name, growth=mib[-1] / mib[0], **{
            f"{fit}_fit_error": fit_error(n, mib, degree) if len(n) >= degree + 2 else np.nan
            for degree, fit in ((1, "linear"), (2, "quadratic"))}))
    return pd.DataFrame(rows).set_index("variant")


# --------------------------------------------------------------------------- per layer
@dataclass(frozen=True)
class SavedTensor:
    """One storage autograd keeps, as seen from the dense layer whose forward saved it."""
    layer: int          # 1..L
    module: str         # the innermost module in the layer ("norm1", ...; "" the layer itself)
    channels: int       # size of dimension 1 (0 for per-channel statistics and scalars)
    shared: bool        # the storage of the block input or of a layer's output (kept anyway)

    @property
    def kind(self) -> str:
        """What the storage is, by the module that saved it ("" our layer's own Function)."""
        if self.shared:
            return "feature maps (kept anyway)"
        return "statistics" if self.channels == 0 else _SAVED_BY.get(self.module, "other")


WIDE = ("concatenation (BatchNorm's input)", "BN-ReLU output (the conv's input)")
_SAVED_BY = {"": WIDE[0], "norm1": WIDE[0], "relu1": WIDE[1],
             **dict.fromkeys(("norm2", "relu2", "conv2"), "bottleneck (4k maps)")}


def saved_by_layer(block: nn.Module, x: torch.Tensor) -> list[SavedTensor]:
    """Every storage but parameters and buffers that a dense block's layers save during
    ``block(x)`` (training mode), once per layer: a map three layers save appears three times."""
    if not isinstance(block, models.DenseBlock):
        raise ValueError(f"block must be a dnet_lib DenseBlock, got {type(block).__name__}")
    models.check_input(x, block.in_channels, 1, "DenseBlock")      # as block(x) would
    features, rows = [x], []
    for number, layer in enumerate(block.train().values(), 1):    # DenseBlock.forward's loop
        shared = {_storage_key(t) for t in features}       # the block input, earlier outputs
        output, saved = _saved_for_backward(layer, (features,))
        rows += [SavedTensor(number, module, t.shape[1] if t.dim() >= 2 else 0, key in shared)
                 for key, (module, t) in saved.items()]
        features.append(output)
    return rows


def wide_tensors_per_layer(tensors: list[SavedTensor]) -> dict[int, int]:
    """Per layer: how many saved storages are new tensors as wide as the layer's input (not
    feature maps that exist anyway, not statistics, not bottleneck maps)."""
    layers = dict.fromkeys(t.layer for t in tensors)
    return {layer: sum(t.layer == layer and t.kind in WIDE for t in tensors) for layer in layers}


def d2l_resolution(batch: int, sizes=(96, 224), device: torch.device | str = "cpu"):
    """Saved MiB of d2l's DenseNet (plain and memory-efficient) and ResNet-18 on one batch per
    input size (a column each), with their parameters and the last size's ratio to the first."""
    import pandas as pd
    check_int("batch", batch, 1)
    builds = {"d2l DenseNet": models.d2l_densenet,
              "d2l DenseNet, memory-efficient": partial(models.d2l_densenet, memory_efficient=True),
              "d2l ResNet-18": models.d2l_resnet18}
    nets = {}
    for name, build in builds.items():
        torch.manual_seed(0)
        nets[name] = build().to(device).train()
    table = pd.DataFrame({size: {name: saved_activation_bytes(
        net, torch.randn(batch, 1, size, size, device=device)).total_bytes / 2**20
        for name, net in nets.items()} for size in sizes})
    table[f"{sizes[-1]} / {sizes[0]}"] = table[sizes[-1]] / table[sizes[0]]
    table.insert(0, "parameters", pd.Series({n: count_params(m) for n, m in nets.items()}))
    return table
