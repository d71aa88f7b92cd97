"""How much memory training a network costs, measured rather than estimated.

* ``saved_activation_bytes`` -- bytes of the tensors autograd keeps for the backward pass during
  one forward, counted with ``torch.autograd.graph.saved_tensors_hooks``. Works on any device,
  the CPU included, so the book can show the quadratic-vs-linear story without a GPU.
* ``step_time`` -- median seconds of one training step (forward, backward, optional optimizer step).
* ``cuda_peak_bytes`` -- ``torch.cuda.max_memory_allocated`` over one step (None off CUDA).
* ``compare_memory`` -- all three side by side for several models, timed in interleaved rounds.
* ``densenet_variants`` -- the models the memory chapter and benchmark compare: our plain and
  memory-efficient DenseNets and torchvision's own ``DenseNet`` class with its flag, all holding
  the same weights.

Why the count is honest for both memory-efficient layers. Ours (``models.efficient``) is an
autograd Function that saves only its inputs and the batch statistics and rebuilds the
concatenation and BN-ReLU in backward, so the hook sees exactly what it keeps. torchvision's
flag uses non-reentrant checkpointing: the checkpoint saves its own inputs *before* it installs
its inner hook, so the outer hook sees them, and what is saved inside goes to the inner hook,
which keeps placeholders. Either way the outer hook counts what stays alive
(tests/test_memory.py checks this).
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

__all__ = ["SavedActivations", "saved_activation_bytes", "step_time", "cuda_peak_bytes",
           "MemoryRow", "compare_memory", "densenet_variants"]


@dataclass
class SavedActivations:
    """What one forward pass leaves for backward.

    total_bytes: bytes of distinct storages saved for backward (parameters and buffers excluded).
    num_tensors: distinct storages counted.
    by_module: bytes per module name ("" is the model itself), attributed to the innermost module
        running when the storage was first saved.
    """
    total_bytes: int
    num_tensors: int
    by_module: dict[str, int] = field(default_factory=dict)

    @property
    def megabytes(self) -> float:
        return self.total_bytes / 2 ** 20


def _storage_key(t: torch.Tensor) -> tuple[str, int] | None:
    try:
        storage = t.untyped_storage()
    except (RuntimeError, NotImplementedError):     # sparse, nested, ... tensors have no storage
        return None
    return (str(t.device), storage.data_ptr())


def _storage_nbytes(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError):
        return t.numel() * t.element_size()


def saved_activation_bytes(model: nn.Module, x: torch.Tensor | tuple, *,
                           by_module: bool = True, restore_buffers: bool = True) -> SavedActivations:
    """Bytes autograd saves for backward during ``model(x)`` (grad enabled, model's current mode).

    Storages are de-duplicated by ``untyped_storage().data_ptr()`` (a ReLU applied in place saves
    the same storage as the BatchNorm before it), and the storages of the model's parameters and
    buffers are left out: they exist whether or not we train. A saved view counts its whole
    storage, since that is what stays alive. The forward's output itself is not counted unless
    some operation saved it. ``x`` may be a tensor or a tuple of positional arguments.

    With ``restore_buffers`` the BatchNorm running statistics are put back afterwards, so measuring
    does not change the model.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = x if isinstance(x, tuple) else (x,)
    excluded = {_storage_key(p) for p in model.parameters()} | {_storage_key(b) for b in model.buffers()}
    buffers_before = [b.detach().clone() for b in model.buffers()] if restore_buffers else None

    seen: dict[tuple[str, int], int] = {}
    keep_alive: list[torch.Tensor] = []     # holding every saved tensor makes data_ptr reuse impossible
    per_module: dict[str, int] = {}
    stack = [""]
    handles = []

    def enter(name: str):
        def hook(module, args) -> None:
            stack.append(name)
        return hook

    def leave(module, args, output) -> None:    # must return None: a value would replace the output
        stack.pop()

    if by_module:
        for name, module in model.named_modules():
            if module is not model:
                handles.append(module.register_forward_pre_hook(enter(name)))
                handles.append(module.register_forward_hook(leave))

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key is not None and key not in excluded and key not in seen:
            nbytes = _storage_nbytes(t)
            seen[key] = nbytes
            keep_alive.append(t)
            per_module[stack[-1]] = per_module.get(stack[-1], 0) + nbytes
        return t

    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(*args)
    finally:
        for h in handles:
            h.remove()
        if buffers_before is not None:
            with torch.no_grad():
                for b, saved in zip(model.buffers(), buffers_before):
                    b.copy_(saved)
    return SavedActivations(sum(seen.values()), len(seen), dict(per_module) if by_module else {})


# --------------------------------------------------------------------------- timing
def _check_counts(repeats, warmup) -> None:
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable,
                optimizer: torch.optim.Optimizer | None) -> None:
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    else:
        model.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    if optimizer is not None:
        optimizer.step()


def _timed_step(model, x, y, loss_fn, optimizer) -> float:
    runtime.synchronize(x.device)
    start = time.perf_counter()
    _train_step(model, x, y, loss_fn, optimizer)
    runtime.synchronize(x.device)
    return time.perf_counter() - start


def step_time(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
              loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
              repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds of ``repeats`` training steps after ``warmup`` untimed ones.

    A step is forward, ``loss_fn(model(x), y)`` (default cross-entropy), backward and, when an
    optimizer is given, ``optimizer.step()``. Runs in the model's current mode; BatchNorm
    statistics (and the weights, with an optimizer) change as in real training.
    """
    _check_counts(repeats, warmup)
    loss_fn = loss_fn or F.cross_entropy
    for _ in range(warmup):
        _train_step(model, x, y, loss_fn, optimizer)
    return statistics.median(_timed_step(model, x, y, loss_fn, optimizer) for _ in range(repeats))


def cuda_peak_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                    loss_fn: Callable | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> int | None:
    """``torch.cuda.max_memory_allocated`` during one training step on ``x``'s GPU; None off CUDA.

    The figure includes everything allocated at the time (weights, gradients, optimizer state),
    not just activations.
    """
    if x.device.type != "cuda":
        return None
    loss_fn = loss_fn or F.cross_entropy
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    _train_step(model, x, y, loss_fn, optimizer)
    torch.cuda.synchronize(x.device)
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

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def compare_memory(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *,
                   loss_fn: Callable | None = None, repeats: int = 5, warmup: int = 1,
                   time_steps: bool = True) -> list[MemoryRow]:
    """Saved-for-backward bytes, step time and CUDA peak for each model on the same batch.

    Steps are timed in interleaved rounds (model A, B, C, A, B, C, ...) so that a slow spell on a
    shared machine hits every model alike; each model's median is reported. The first model is
    the baseline of the ratios. Models are put in training mode; no optimizer step is taken.
    """
    if not models:
        raise ValueError("models must name at least one model, got an empty mapping")
    _check_counts(repeats, warmup)
    loss_fn = loss_fn or F.cross_entropy
    names = list(models)
    for model in models.values():
        model.train()
    saved = {name: saved_activation_bytes(models[name], x, by_module=False) for name in names}
    peaks = {name: cuda_peak_bytes(models[name], x, y, loss_fn=loss_fn) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    if time_steps:
        for _ in range(warmup):
            for name in names:
                _train_step(models[name], x, y, loss_fn, None)
        for _ in range(repeats):
            for name in names:
                times[name].append(_timed_step(models[name], x, y, loss_fn, None))
    base = names[0]
    base_time = statistics.median(times[base]) if time_steps else math.nan
    rows = []
    for name in names:
        median = statistics.median(times[name]) if time_steps else math.nan
        rows.append(MemoryRow(name, saved[name].total_bytes, saved[name].num_tensors,
                              saved[name].total_bytes / saved[base].total_bytes,
                              median, median / base_time, times[name], peaks[name]))
    return rows


VARIANT_ARCHS = ("densenet_bc", "densenet121")


def densenet_variants(arch: str = "densenet_bc", depth: int = 100, num_classes: int | None = None,
                      seed: int = 0, fast_cpu: bool = False) -> dict[str, nn.Module]:
    """The models the memory comparison uses, all with the same weights.

    ``densenet_bc`` (CIFAR DenseNet-BC of ``depth``, k=12, 32 px, 10 classes): ours plain, ours memory-efficient, torchvision's
    DenseNet class with the CIFAR stem (``models.torchvision_densenet_cifar``) plain and with its
    ``memory_efficient`` flag. ``densenet121`` (ImageNet stem, 1000 classes): ours and
    ``torchvision.models.densenet121``, each plain and memory-efficient. Our memory-efficient layer
    keeps the 1x1 convolution's output and recomputes the concatenation and its BN-ReLU;
    torchvision's flag checkpoints the concatenation + BN-ReLU-1x1 (recomputing the 1x1 conv).
    ``fast_cpu`` gives our two models the shared batch statistics (CPU timing).
    """
    import torchvision
    check_choice("arch", arch, VARIANT_ARCHS)
    torch.manual_seed(seed)
    if arch == "densenet_bc":
        num_classes = 10 if num_classes is None else num_classes
        config = models.cifar_config(depth, num_classes=num_classes)
        theirs = lambda **flag: models.torchvision_densenet_cifar(depth, num_classes=num_classes,
                                                                  **flag)
        variants = {
            "ours plain": models.DenseNet(config, fast_cpu=fast_cpu),
            "ours memory_efficient": models.DenseNet(config, memory_efficient=True,
                                                     fast_cpu=fast_cpu),
            "torchvision class plain": theirs(),
            "torchvision class memory_efficient": theirs(memory_efficient=True),
        }
    else:
        num_classes = 1000 if num_classes is None else num_classes
        config = models.DENSENET121.replace(num_classes=num_classes)
        variants = {
            "ours plain": models.DenseNet(config, fast_cpu=fast_cpu),
            "ours memory_efficient": models.DenseNet(config, memory_efficient=True,
                                                     fast_cpu=fast_cpu),
            "torchvision plain": torchvision.models.densenet121(num_classes=num_classes),
            "torchvision memory_efficient": torchvision.models.densenet121(
                num_classes=num_classes, memory_efficient=True),
        }
    reference = next(iter(variants.values())).state_dict()
    for model in variants.values():
        model.load_state_dict(reference, strict=True)
    return variants
