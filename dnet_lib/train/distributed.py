"""torchrun / DistributedDataParallel: what changes when several processes train one model.

Each process (rank) trains on its shard of the data; DDP averages the gradients; metrics are
summed over ranks; only rank 0 writes files.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def rank_and_world_size() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when this call did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def local_device(device: torch.device) -> torch.device:
    """This rank's own GPU when ``device`` is a CUDA device without an index."""
    rank, world_size = rank_and_world_size()
    if device.type == "cuda" and device.index is None and world_size > 1:
        local = int(os.environ.get("LOCAL_RANK", rank))
        return torch.device("cuda", local % torch.cuda.device_count())
    return device


def shard(train_iter, test_iter) -> None:
    """Give each rank its share of loaders that can shard (``DeviceLoader.set_shard``)."""
    rank, world_size = rank_and_world_size()
    for loader in (train_iter, test_iter):
        if world_size > 1 and hasattr(loader, "set_shard"):
            loader.set_shard(rank, world_size, pad=loader is train_iter)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    if rank_and_world_size()[1] == 1:
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    if rank_and_world_size()[1] > 1:
        dist.all_reduce(values)
    return values


def sync_buffers(model: nn.Module) -> None:
    """BatchNorm running statistics from rank 0 (DDP syncs them only at forward)."""
    if rank_and_world_size()[1] > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def barrier() -> None:
    if rank_and_world_size()[1] > 1:
        dist.barrier()
