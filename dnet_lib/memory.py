"""What training a network costs in memory, measured: the bytes autograd keeps for backward (by
``torch.autograd.graph.saved_tensors_hooks``, on any device), the seconds and CUDA peak of a
step, and the DenseNet variants chapter 7 and the benchmark compare. The count is honest for
both memory-efficient layers: ours (``models.efficient``) saves only its inputs and the batch
statistics; torchvision's checkpointing saves its inputs before installing its inner hook and
keeps placeholders for what is saved inside (tests/test_memory.py checks both).
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Mapping

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
    """(innermost module name, tensor) of every tensor but parameters and buffers that autograd
    saves during ``model(*args)`` (grad on, the model's mode; BatchNorm statistics restored)."""
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

    def pack(t: torch.Tensor) -> torch.Tensor:      # keeping t: no storage address is reused
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
    arguments), each storage once and whole (what stays alive), by the module that saved it."""
    seen: dict[tuple[str, int], int] = {}
    per_module: dict[str, int] = {}
    for name, t in saved_for_backward(model, *(x if isinstance(x, tuple) else (x,))):
        key = storage_key(t)
        if key is not None and key not in seen:
            seen[key] = t.untyped_storage().nbytes()
            per_module[name] = per_module.get(name, 0) + seen[key]
    return SavedActivations(sum(seen.values()), len(seen), per_module if by_module else {})


# --------------------------------------------------------------------------- timing
def _train_step(model, x, y, optimizer=None) -> float:
    """One forward, backward and (with an optimizer) step; its seconds, device synchronised."""
    runtime.synchronize(x.device)
    start = time.perf_counter()
    (optimizer or model).zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    if optimizer is not None:
        optimizer.step()
    runtime.synchronize(x.device)
    return time.perf_counter() - start


def step_time(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
              optimizer: torch.optim.Optimizer | None = None, repeats: int = 5,
              warmup: int = 2) -> float:
    """Median seconds of ``repeats`` training steps (cross-entropy, and the ``optimizer`` if
    given) after ``warmup`` untimed ones, in the model's mode."""
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    for _ in range(warmup):
        _train_step(model, x, y, optimizer)
    return statistics.median(_train_step(model, x, y, optimizer) for _ in range(repeats))


def cuda_peak_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                    optimizer: torch.optim.Optimizer | None = None) -> int | None:
    """``torch.cuda.max_memory_allocated`` over one training step on ``x``'s GPU; None off CUDA."""
    if x.device.type != "cuda":
        return None
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    _train_step(model, x, y, optimizer)
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
                   repeats: int = 5, warmup: int = 1, time_steps: bool = True) -> list[MemoryRow]:
    """Saved bytes, median step time and CUDA peak of each model (training mode, no optimizer) on
    one batch, timed in interleaved rounds (A, B, A, B, ...) so a slow spell hits all alike."""
    if not models:
        raise ValueError("models must name at least one model, got an empty mapping")
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    for model in models.values():
        model.train()
    saved = {n: saved_activation_bytes(m, x, by_module=False) for n, m in models.items()}
    peaks = {n: cuda_peak_bytes(m, x, y) for n, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range((warmup + repeats) if time_steps else 0):
        for name, model in models.items():
            seconds = _train_step(model, x, y)
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
        prefix, theirs = "torchvision class", partial(models.torchvision_densenet_cifar, depth)
    else:
        num_classes = 1000 if num_classes is None else num_classes
        config = models.DENSENET121.replace(num_classes=num_classes)
        prefix, theirs = "torchvision", torchvision.models.densenet121
    flags = (("plain", False), ("memory_efficient", True))
    variants = {f"ours {kind}": models.DenseNet(config, memory_efficient=on, fast_cpu=fast_cpu)
                for kind, on in flags}
    variants.update({f"{prefix} {kind}": theirs(num_classes=num_classes, memory_efficient=on)
                     for kind, on in flags})
    reference = variants["ours plain"].state_dict()
    for model in variants.values():
        model.load_state_dict(reference, strict=True)
    return variants
