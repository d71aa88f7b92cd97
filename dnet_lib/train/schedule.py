"""The optimizer and its learning-rate schedule, driven by steps done or seconds spent."""
from __future__ import annotations

import math

import torch
from torch import nn

ONE_CYCLE_WARMUP = 0.2          # fraction of the run spent warming up from lr/25 to lr


def lr_factor(schedule: str, progress: float) -> float:
    """Multiplier of the base lr at ``progress`` in [0, 1] of the run (steps or time budget)."""
    p = min(max(progress, 0.0), 1.0)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if schedule == "step":           # the paper: divide by 10 at 50% and 75% of training
        return 0.1 ** ((p >= 0.5) + (p >= 0.75))
    if schedule == "one_cycle":      # linear warm-up from lr/25, then cosine down to zero
        if p < ONE_CYCLE_WARMUP:
            return 0.04 + 0.96 * p / ONE_CYCLE_WARMUP
        return 0.5 * (1.0 + math.cos(math.pi * (p - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP)))
    return 1.0


class LrSchedule:
    """Sets every parameter group's lr before each step, from steps done or seconds spent."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: str, total_steps: int,
                 time_budget_s: float | None):
        self.optimizer, self.schedule = optimizer, schedule
        self.total_steps, self.time_budget_s = total_steps, time_budget_s
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]

    def apply(self, step: int, train_seconds: float) -> None:
        by_time = self.time_budget_s is not None
        factor = lr_factor(self.schedule, train_seconds / self.time_budget_s if by_time
                           else step / self.total_steps)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor


def make_optimizer(name: str, model: nn.Module, lr: float, momentum: float, weight_decay: float):
    """SGD (``nesterov`` too) or AdamW; no weight decay on BN parameters and biases."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=name == "nesterov")
