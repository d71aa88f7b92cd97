"""Checkpoints: the whole state of a run after each epoch, written atomically, loaded with
``weights_only=True`` (no code runs while loading), so a killed run resumes bit for bit."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from ..files import atomic_write
from .history import History

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "rng", "history")


class CheckpointError(ValueError):
    """A checkpoint file that ``fit`` cannot resume from (damaged, foreign or another model's)."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{problem}. Delete {path} (or move it away) to start afresh, or run "
                         "without resume (resume=False; on the command line, leave out --resume).")


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The state dict ``fit`` saved at ``path``; ``CheckpointError`` naming the file when it is
    cut short, damaged, or holds anything other than a ``fit`` checkpoint."""
    path = Path(path)
    try:
        with warnings.catch_warnings():     # its pickle-protocol warning mentions weights_only
            warnings.filterwarnings("ignore", module=r"torch\._weights_only_unpickler")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise                                   # already clear, and not the file's fault
    except Exception as exc:                    # torch's text would advise weights_only=False
        raise CheckpointError(path, f"cannot read checkpoint {path}: the file is damaged (for "
                              f"example cut short) or was not written by dnet_lib.train.fit "
                              f"({type(exc).__name__})") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        held = (f"a dict without {', '.join(map(repr, missing))}" if isinstance(state, dict)
                else f"a {type(state).__name__}")
        raise CheckpointError(path, f"{path} is not a dnet_lib.train.fit checkpoint "
                                    f"(it holds {held})")
    return state


class RunFolder:
    """``checkpoint.pt`` + ``history.json`` in a run's folder (written by rank 0 only)."""

    def __init__(self, folder: str | os.PathLike | None, write: bool):
        self.path = Path(folder) / CHECKPOINT_NAME if folder is not None else None
        self.write = write

    def last_good(self) -> str | None:
        return str(self.path) if self.path is not None and self.path.exists() else None

    def restore(self, trainer, train_iter, history: History) -> int:
        """Load the run's state if a checkpoint exists; returns the epoch to start from."""
        if self.last_good() is None:
            return 0
        state = load_checkpoint(self.path)
        try:
            trainer.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(self.path, f"{self.path} does not fit this model or optimizer "
                                  f"({str(exc).splitlines()[0]})") from None
        if state.get("loader") is not None and hasattr(train_iter, "load_state_dict"):
            train_iter.load_state_dict(state["loader"])
        loaded = History.from_dict(state["history"])
        for name in History.FIELDS:     # this run's config and device stay
            setattr(history, name, getattr(loaded, name))
        epoch = int(state["epoch"])
        trainer.global_step = (sum(history.steps) if all(history.steps)
                               else epoch * len(train_iter))
        return epoch

    def save(self, trainer, epoch: int, train_iter, history: History) -> None:
        if self.path is None or not self.write:
            return
        loader = train_iter.state_dict() if hasattr(train_iter, "state_dict") else None
        save_checkpoint({"format": 2, "epoch": epoch, **trainer.state_dict(), "loader": loader,
                         "history": history.to_dict()}, self.path)
        history.save(self.path.parent / HISTORY_NAME)
