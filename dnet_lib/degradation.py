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

__all__ = ["WIRINGS", "optimise", "DepthComparison", "compare_depths"]

WIRINGS = ("plain", "residual")


def optimise(model: nn.Module, optimizer: torch.optim.Optimizer, batches) -> list[float]:
    """The cross-entropy loss of each ``optimizer`` step on ``batches`` of (x, y), in train mode;
    leaves ``model`` in eval mode."""
    model.train()
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@dataclass
class DepthComparison:
    """Training-loss curves keyed by ``(wiring, depth)``, in the order they were trained."""
    curves: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def final_loss(self, wiring: str, depth: int) -> float:
        """Mean training loss over the last quarter of the steps (smooths minibatch noise)."""
        losses = self.curves[(wiring, depth)]
        count = max(1, round(len(losses) / 4))
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
    """Train a batch-normalised, He-initialised ``models.DeepConvNet`` per (wiring in ``WIRINGS``,
    depth) by minibatch SGD (lr 0.05, momentum 0.9) on cross-entropy, each network on the same
    ``steps`` batches of ``images`` (N, C, H, W), drawn by a generator seeded by ``seed``."""
    from tqdm.auto import tqdm
    if images.dim() != 4:
        raise ValueError(f"images must be 4-D (batch, channels, height, width), "
                         f"got shape {tuple(images.shape)}")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, "
                         f"got {len(images)} and {len(labels)}")
    depths = validate.check_block_config(depths, "depths")
    validate.check_int("steps", steps, 1)
    validate.check_int("batch_size", batch_size, 1, len(images))
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(images), (steps, batch_size), generator=generator)  # a row a step
    result = DepthComparison()
    jobs = [(wiring, depth) for wiring in WIRINGS for depth in depths]
    for wiring, depth in tqdm(jobs, desc="networks", disable=not progress):     # progress: a bar
        torch.manual_seed(seed)
        net = DeepConvNet(wiring, depth, width=width, in_channels=images.shape[1],
                          num_classes=int(labels.max()) + 1, batch_norm=True, init="kaiming")
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        result.curves[(wiring, depth)] = optimise(net, optimizer,
                                                  ((images[b], labels[b]) for b in picks))
    return result
