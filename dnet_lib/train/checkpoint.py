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
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "scaler", "rng", "train_seconds", "history")


class CheckpointError(ValueError):
    """A checkpoint file that ``fit`` cannot resume from (damaged, foreign or another model's)."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{problem}. Delete {path} (or move it away) to start afresh, or run "
                         "without resume (resume=False; on the command line, leave out --resume).")


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
    missing = [k for k in CHECKPOINT_KEYS if k not in (state if isinstance(state, dict) else {})]
    if missing:
        raise CheckpointError(path, f"{path} is not a dnet_lib.train.fit checkpoint (it holds "
                              f"a {type(state).__name__} without {', '.join(missing)})")
    return state


def restore(path: Path, trainer, history: History) -> int:
    """Load the run saved at ``path`` into ``trainer`` and ``history``; the epoch to start from."""
    if not path.exists():
        return 0
    state = load_checkpoint(path)
    try:
        for part in ("model", "optimizer", "scaler"):
            getattr(trainer, part).load_state_dict(state[part])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(path, f"{path} does not fit this model or optimizer "
                              f"({str(exc).splitlines()[0]})") from None
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and trainer.policy.device.type == "cuda":
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    for name in History.FIELDS:     # this run's config and device stay
        setattr(history, name, list(state["history"][name]))
    trainer.global_step, trainer.train_seconds = sum(history.steps), state["train_seconds"]
    return int(state["epoch"])


def save(path: Path, trainer, epoch: int, history: History) -> None:
    """Write the checkpoint at ``path`` and ``history.json`` beside it, each atomically."""
    rng = {"torch": torch.get_rng_state()}
    if trainer.policy.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state_all()
    state = {part: getattr(trainer, part).state_dict() for part in ("model", "optimizer", "scaler")}
    state.update(epoch=epoch, rng=rng, train_seconds=trainer.train_seconds,
                 history=history.to_dict())
    atomic_write(path, lambda f: torch.save(state, f))
    history.save(path.parent / HISTORY_NAME)
