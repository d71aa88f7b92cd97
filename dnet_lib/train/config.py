"""The settings of one training run (a frozen dataclass, checked when it is made), and the
optimizer and learning-rate schedule they choose."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch import nn

from ..validate import check_choice, check_ints, check_number

OPTIMIZERS = ("sgd", "nesterov", "adamw")
SCHEDULES = ("cosine", "step", "one_cycle", "none")
UNLIMITED = 10**9               # epochs when a time budget alone decides the end
ONE_CYCLE_WARMUP = 0.2          # fraction of the run spent warming up from lr/25 to lr
RECORDED = ("epochs", "optimizer", "lr", "momentum", "weight_decay", "schedule", "time_budget_s",
            "label_smoothing", "test_flip", "seed")      # the settings a run's history keeps


@dataclass(frozen=True)
class TrainConfig:
    """What ``fit`` can be told (its keywords are these fields). The schedule (``lr_factor``)
    spans the ``epochs``, or the seconds of ``time_budget_s``, which then end the run. amp /
    channels_last / compile: None means on for CUDA. Test accuracy every ``eval_every`` epochs
    and after the last. ``resume=True`` continues the run in ``checkpoint_dir`` bit for bit (same
    device); ``max_steps`` stops after that many optimizer steps (smoke runs)."""

    epochs: int | None = None
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    time_budget_s: float | None = None
    label_smoothing: float = 0.0
    test_flip: bool = False
    device: str | torch.device | None = None
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool | None = None
    progress: bool = True
    checkpoint_dir: str | os.PathLike | None = None
    resume: bool = False
    seed: int = 0
    max_steps: int | None = None
    eval_every: int = 1

    def __post_init__(self):
        if self.epochs is None and self.time_budget_s is None:
            raise ValueError("epochs must be given (an integer >= 1) unless time_budget_s is")
        if self.time_budget_s is not None:
            check_number("time_budget_s", self.time_budget_s, 0, float("inf"), low_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_number("lr", self.lr, 0, float("inf"), low_open=True)
        check_number("momentum", self.momentum, 0, 1, high_open=True)
        check_number("weight_decay", self.weight_decay, 0, float("inf"))
        check_number("label_smoothing", self.label_smoothing, 0, 1, high_open=True)
        counts = ("epochs", "max_steps", "eval_every")
        check_ints(1, **{n: getattr(self, n) for n in counts if getattr(self, n) is not None})
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir (the folder of the run to continue)")


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
        return lr_factor("cosine", (p - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP))
    return 1.0


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """``cfg``'s SGD (``nesterov`` too) or AdamW; no weight decay on BN parameters and biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.optimizer == "nesterov")
