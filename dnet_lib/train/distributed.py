"""Where a run computes: the device and its speed-ups (AMP, channels_last, torch.compile), and
torchrun / DistributedDataParallel: each rank (process) trains on its shard of the data, DDP
averages the gradients, metrics are summed over ranks, and only rank 0 writes files."""
from __future__ import annotations

import contextlib
import os
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


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when this call did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


@dataclass
class DevicePolicy:
    """The device and its speed-ups (None in ``choose`` means: on for CUDA, off elsewhere)."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def choose(cls, device=None, amp=None, channels_last=None, compile=None) -> "DevicePolicy":
        device = runtime.pick_device() if device is None else torch.device(device)
        if device.type == "cuda" and device.index is None and _several():   # this rank's GPU
            local = int(os.environ.get("LOCAL_RANK", rank_and_world_size()[0]))
            device = torch.device("cuda", local % torch.cuda.device_count())
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

    def prepare(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DDP when several ranks train it."""
        if not _several():
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


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
