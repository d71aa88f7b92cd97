"""Where a run computes: the device and its speed-ups (AMP, channels_last, torch.compile), and
torchrun / DistributedDataParallel: each rank (process) trains on its shard of the data, DDP
averages the gradients, metrics are summed over ranks, and only rank 0 writes files."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .. import runtime


def rank_and_world_size() -> tuple[int, int]:
    """(this process's rank, number of ranks); (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _several() -> bool:
    return rank_and_world_size()[1] > 1


@dataclass
class DevicePolicy:
    """The device and its speed-ups (None in ``choose`` means: on for CUDA, off elsewhere)."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def choose(cls, device=None, amp=None, channels_last=None, compile=None) -> "DevicePolicy":
        device = runtime.pick_device(device)
        pick = (lambda flag: device.type == "cuda" if flag is None else bool(flag))
        return cls(device, pick(amp), pick(channels_last), pick(compile))

    @property
    def amp_dtype(self) -> torch.dtype:
        cuda_fp16 = self.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        return torch.float16 if cuda_fp16 else torch.bfloat16

    def autocast(self):
        return (torch.autocast(device_type=self.device.type, dtype=self.amp_dtype) if self.amp
                else contextlib.nullcontext())

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling, needed (and on) only for float16 autocast."""
        on = self.amp and self.amp_dtype == torch.float16
        return torch.amp.GradScaler(self.device.type, enabled=on)

    def inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        return (x.contiguous(memory_format=torch.channels_last) if self.channels_last else x), y

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DDP (on the device it is on) when several ranks train it."""
        return nn.parallel.DistributedDataParallel(model) if _several() else model


def shard(train_iter, test_iter) -> None:
    """Give each rank its share of loaders that can shard (``DeviceLoader.set_shard``)."""
    rank, world_size = rank_and_world_size()
    for loader in (train_iter, test_iter):
        if world_size > 1 and hasattr(loader, "set_shard"):
            loader.set_shard(rank, world_size, pad=loader is train_iter)


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    if _several():
        dist.all_reduce(values)
    return values


def sync_buffers(model: nn.Module) -> None:
    """BatchNorm running statistics from rank 0 (DDP syncs them only at forward)."""
    for buffer in model.buffers() if _several() else ():
        dist.broadcast(buffer, 0)


def barrier() -> None:
    if _several():
        dist.barrier()
