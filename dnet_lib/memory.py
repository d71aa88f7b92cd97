"""How much memory training a network costs, measured rather than estimated: the bytes autograd
keeps for backward (``saved_activation_bytes``, by ``torch.autograd.graph.saved_tensors_hooks``,
on any device), the seconds and CUDA peak of a training step, and the DenseNet variants the
memory chapter and benchmark compare.

The count is honest for both memory-efficient layers. Ours (``models.efficient``) is an
autograd Function that saves only its inputs and the batch statistics, so the hook sees exactly
what it keeps; torchvision's flag checkpoints (non-reentrant), which saves its inputs before
installing its inner hook and keeps placeholders for what is saved inside (tests/test_memory.py).
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from . import models, runtime
from .validate import check_choice, check_int

__all__ = ["SavedActivations", "storage_key", "saved_for_backward", "saved_activation_bytes",
           "step_time", "cuda_peak_bytes", "MemoryRow", "compare_memory", "densenet_variants"]


@dataclass
class SavedActivations:
    """What one forward pass leaves for backward: bytes and count of distinct storages
    (parameters and buffers excluded), and bytes per innermost module name ("" the model)."""
    total_bytes: int
    num_tensors: int
    by_module: dict[str, int] = field(default_factory=dict)


def storage_key(t: torch.Tensor) -> tuple[str, int] | None:
    """(device, storage address) of ``t``; None for tensors without storage (sparse, ...)."""
    try:
        return (str(t.device), t.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):
        return None


def saved_for_backward(model: nn.Module, *args) -> list[tuple[str, torch.Tensor]]:
    """(innermost module name, tensor) for every tensor autograd saves during ``model(*args)``
    (grad enabled, the model's mode), parameters and buffers left out. Tensors stay in the list,
    so no storage address is reused; the BatchNorm running statistics are restored after."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    excluded = {storage_key(t) for t in (*model.parameters(), *model.buffers())}
    buffers = [b.detach().clone() for b in model.buffers()]
    stack, saved, handles = [""], [], []

    def leave(module, args, output) -> None:    # None: a returned value would replace the output
        stack.pop()

    for name, module in model.named_modules():
        if module is not model:
            handles += [module.register_forward_pre_hook(lambda m, a, n=name: stack.append(n)),
                        module.register_forward_hook(leave)]

    def pack(t: torch.Tensor) -> torch.Tensor:
        if storage_key(t) not in excluded:
            saved.append((stack[-1], t))
        return t

    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(*args)
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for b, before in zip(model.buffers(), buffers):
                b.copy_(before)
    return saved


def saved_activation_bytes(model: nn.Module, x: torch.Tensor | tuple, *,
                           by_module: bool = True) -> SavedActivations:
    """Bytes autograd saves for backward during ``model(x)`` (``x``: a tensor or a tuple of
    arguments). Storages are de-duplicated (an in-place ReLU saves its BatchNorm's storage) and
    a saved view counts its whole storage, which is what stays alive; each is attributed to the
    module that first saved it. The output is not counted unless some operation saved it."""
    seen: dict[tuple[str, int], int] = {}
    per_module: dict[str, int] = {}
    for name, t in saved_for_backward(model, *(x if isinstance(x, tuple) else (x,))):
        key = storage_key(t)
        if key is not None and key not in seen:
            seen[key] = t.untyped_storage().nbytes()
            per_module[name] = per_module.get(name, 0) + seen[key]
    return SavedActivations(sum(seen.values()), len(seen), per_module if by_module else {})


# --------------------------------------------------------------------------- timing
def _train_step(model, x, y, loss_fn, optimizer) -> float:
    """One forward, backward and (with an optimizer) step; its seconds, device synchronised."""
    runtime.synchronize(x.device)
    start = time.perf_counter()
    (optimizer or model).zero_grad(set_to_none=True)
    (loss_fn or F.cross_entropy)(model(x), y).backward()
    if optimizer is not None:
        optimizer.step()
    runtime.synchronize(x.device)
    return time.perf_counter() - start


def step_time(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
              loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
              repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds of ``repeats`` training steps after ``warmup`` untimed ones: forward,
    ``loss_fn(model(x), y)`` (default cross-entropy), backward, ``optimizer.step()`` if given.
    Runs in the model's mode, so BatchNorm statistics (and weights) change as in training."""
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    for _ in range(warmup):
        _train_step(model, x, y, loss_fn, optimizer)
    return statistics.median(_train_step(model, x, y, loss_fn, optimizer) for _ in range(repeats))


def cuda_peak_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                    loss_fn: Callable | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> int | None:
    """``torch.cuda.max_memory_allocated`` over one training step on ``x``'s GPU (weights,
    gradients and optimizer state included); None off CUDA."""
    if x.device.type != "cuda":
        return None
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    _train_step(model, x, y, loss_fn, optimizer)
    return int(torch.cuda.max_memory_allocated(x.device))


# --------------------------------------------------------------------------- comparison
@dataclass
class MemoryRow:
    """One model in a ``compare_memory`` table; ratios are relative to the first model."""
    name: str
    saved_bytes: int
    saved_tensors: int
    saved_ratio: float
    step_seconds: float
    time_ratio: float
    step_seconds_all: list[float]
    cuda_peak_bytes: int | None


def compare_memory(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *,
                   loss_fn: Callable | None = None, repeats: int = 5, warmup: int = 1,
                   time_steps: bool = True) -> list[MemoryRow]:
    """Saved-for-backward bytes, step time and CUDA peak of each model on one batch (models put
    in training mode, no optimizer). Steps are timed in interleaved rounds (A, B, C, A, B, ...)
    so a slow spell hits every model alike; medians are reported, the first model is the base."""
    if not models:
        raise ValueError("models must name at least one model, got an empty mapping")
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    for model in models.values():
        model.train()
    saved = {n: saved_activation_bytes(m, x, by_module=False) for n, m in models.items()}
    peaks = {n: cuda_peak_bytes(m, x, y, loss_fn=loss_fn) for n, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range((warmup + repeats) if time_steps else 0):
        for name, model in models.items():
            seconds = _train_step(model, x, y, loss_fn, None)
            if round_ >= warmup:
                times[name].append(seconds)
    median = {n: statistics.median(t) if t else math.nan for n, t in times.items()}
    base = next(iter(models))
    return [MemoryRow(n, saved[n].total_bytes, saved[n].num_tensors,
                      saved[n].total_bytes / saved[base].total_bytes, median[n],
                      median[n] / median[base], times[n], peaks[n]) for n in models]


VARIANT_ARCHS = ("densenet_bc", "densenet121")


def densenet_variants(arch: str = "densenet_bc", depth: int = 100, num_classes: int | None = None,
                      seed: int = 0, fast_cpu: bool = False) -> dict[str, nn.Module]:
    """Our DenseNet and torchvision's, each plain and memory-efficient, with one set of weights:
    the CIFAR DenseNet-BC of ``depth`` (k=12) against torchvision's class with the CIFAR stem
    (``densenet_bc``), or DenseNet-121 against ``torchvision.models.densenet121``. Ours keeps the
    1x1 conv's output and recomputes the concatenation and BN-ReLU; torchvision's flag reruns
    the 1x1 conv too. ``fast_cpu``: ours share batch statistics (CPU timing)."""
    import torchvision
    check_choice("arch", arch, VARIANT_ARCHS)
    torch.manual_seed(seed)
    if arch == "densenet_bc":
        num_classes = 10 if num_classes is None else num_classes
        config = models.cifar_config(depth, num_classes=num_classes)
        prefix = "torchvision class"

        def theirs(**flag):
            return models.torchvision_densenet_cifar(depth, num_classes=num_classes, **flag)
    else:
        num_classes = 1000 if num_classes is None else num_classes
        config = models.DENSENET121.replace(num_classes=num_classes)
        prefix = "torchvision"

        def theirs(**flag):
            return torchvision.models.densenet121(num_classes=num_classes, **flag)
    variants = {f"ours {kind}": models.DenseNet(config, memory_efficient=efficient,
                                                fast_cpu=fast_cpu)
                for kind, efficient in (("plain", False), ("memory_efficient", True))}
    variants.update({f"{prefix} plain": theirs(),
                     f"{prefix} memory_efficient": theirs(memory_efficient=True)})
    reference = variants["ours plain"].state_dict()
    for model in variants.values():
        model.load_state_dict(reference, strict=True)
    return variants
