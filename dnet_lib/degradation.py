"""The degradation problem (He et al. 2016): with batch normalisation a deeper *plain* network
still trains to a higher loss than a shallower one; a residual one does not (``compare_depths``,
in CPU-seconds, with ``models.DeepConvNet`` stacks trained on the same batches)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import validate
from .models import DeepConvNet

__all__ = ["WIRINGS", "optimise", "train_losses", "DepthComparison", "compare_depths"]

WIRINGS = ("plain", "residual")


def optimise(model: nn.Module, optimizer: torch.optim.Optimizer, batches) -> list[float]:
    """The cross-entropy loss of every ``optimizer`` step on ``batches`` of (x, y), in train mode."""
    model.train()
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train_losses(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int,
                 batch_size: int = 32, lr: float = 0.05, seed: int = 0) -> list[float]:
    """The training loss of every step of minibatch SGD (momentum 0.9) on cross-entropy; the
    batches come from a generator seeded by ``seed``: the same seed, the same batches."""
    validate.check_int("steps", steps, 1)
    validate.check_int("batch_size", batch_size, 1, len(images))
    validate.check_number("lr", lr, 0.0, 10.0, low_open=True)
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, "
                         f"got {len(images)} and {len(labels)}")
    generator = torch.Generator().manual_seed(seed)
    batches = (torch.randint(0, len(images), (batch_size,), generator=generator)
               for _ in range(steps))
    return optimise(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                    ((images[b], labels[b]) for b in batches))


@dataclass
class DepthComparison:
    """Training-loss curves keyed by ``(wiring, depth)``, in the order they were trained."""
    curves: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def final_loss(self, wiring: str, depth: int, tail: float = 0.25) -> float:
        """Mean training loss over the last ``tail`` fraction of steps (smooths minibatch noise)."""
        validate.check_number("tail", tail, 0.0, 1.0, low_open=True)
        losses = self.curves[(wiring, depth)]
        count = max(1, round(len(losses) * tail))
        return sum(losses[-count:]) / count

    def table(self):
        """One row per network: wiring, depth and final training loss (a pandas DataFrame)."""
        import pandas as pd
        return pd.DataFrame([{"wiring": wiring, "depth (conv units)": depth,
                              "final training loss": round(self.final_loss(wiring, depth), 3)}
                             for wiring, depth in self.curves])


def compare_depths(images: torch.Tensor, labels: torch.Tensor, depths: Sequence[int] = (4, 16),
                   width: int = 8, steps: int = 60, batch_size: int = 32, seed: int = 0,
                   progress: bool = False) -> DepthComparison:
    """The ``train_losses`` of a batch-normalised, He-initialised ``models.DeepConvNet`` per
    (wiring in ``WIRINGS``, depth) on the same batches of ``images`` (N, C, H, W)."""
    from tqdm.auto import tqdm
    if images.dim() != 4:
        raise ValueError(f"images must be 4-D (batch, channels, height, width), "
                         f"got shape {tuple(images.shape)}")
    if not depths:
        raise ValueError("depths must name at least one depth")
    for depth in depths:
        validate.check_int("depth", depth, 1)
    result = DepthComparison()
    jobs = [(wiring, depth) for wiring in WIRINGS for depth in depths]
    for wiring, depth in tqdm(jobs, desc="networks", disable=not progress):     # progress: a bar
        torch.manual_seed(seed)
        net = DeepConvNet(wiring, depth, width=width, in_channels=images.shape[1],
                          num_classes=int(labels.max()) + 1, batch_norm=True, init="kaiming")
        result.curves[(wiring, depth)] = train_losses(net, images, labels, steps, batch_size,
                                                      seed=seed)
    return result
