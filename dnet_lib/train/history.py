"""``History``: the per-epoch metrics of a training run, saved as JSON."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import atomic_write_text


class History:
    """Per-epoch metrics of a training run (lists, one entry per epoch: ``FIELDS``), plus its
    config and device. ``test_acc`` is None where not evaluated; ``train_time`` excludes the
    evaluation, ``epoch_time`` includes it."""

    FIELDS = ("train_loss", "train_acc", "test_acc", "examples_per_s", "train_time", "epoch_time",
              "steps")

    def __init__(self, config: dict | None = None, device: str = "", **fields):
        self.config, self.device = dict(config or {}), device
        for name in self.FIELDS:        # ``fields``: the lists of a saved history (to_dict)
            setattr(self, name, list(fields.get(name, [])))

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def wall_time(self) -> float:
        """Total seconds over all epochs (training + evaluation)."""
        return float(sum(self.epoch_time))

    @property
    def final_test_acc(self) -> float | None:
        return next((a for a in reversed(self.test_acc) if a is not None), None)

    def append(self, **metrics) -> None:
        for name in self.FIELDS:    # a missing metric: KeyError naming it
            getattr(self, name).append(metrics[name])

    def to_dict(self) -> dict:
        return {"config": self.config, "device": self.device,
                **{name: list(getattr(self, name)) for name in self.FIELDS}}

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, default=str))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        return cls(**json.loads(Path(path).read_text()))

    def __repr__(self) -> str:
        if not self.epochs:
            return f"History(0 epochs on {self.device})"
        acc = "n/a" if self.final_test_acc is None else f"{self.final_test_acc:.3f}"
        return (f"History({self.epochs} epochs on {self.device}: train loss "
                f"{self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.3f}, test acc {acc}, "
                f"{self.examples_per_s[-1]:.0f} examples/s, {self.wall_time:.1f} s in total)")
