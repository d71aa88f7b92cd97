"""Training: ``fit`` (one loop for notebooks, the CLI, benchmarks and torchrun) and ``History``.

``fit`` trains a classifier with SGD/Nesterov/AdamW and a cosine, step or one-cycle learning-rate
schedule, for a number of epochs or for a time budget (the schedule then follows the elapsed
fraction of the budget, so it ends when the time does on any machine). It evaluates test
accuracy every epoch (optionally averaging the logits of each image and its mirror image),
checkpoints atomically after every epoch and can resume a killed run bit-for-bit. AMP,
channels_last and torch.compile are on by default only on CUDA. Under ``torchrun`` it wraps the
model in DistributedDataParallel, shards ``DeviceLoader``s by rank, all-reduces the metrics and
lets only rank 0 write files.

Step metrics (loss sum, correct count) are accumulated on the device, so a step needs no host
synchronisation; a non-finite loss is still caught with its exact epoch and step.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

from . import runtime
from .arith import count_params
from .files import atomic_write, atomic_write_text
from .validate import check_choice, check_int, check_number

__all__ = ["History", "NonFiniteLossError", "CheckpointError", "fit", "evaluate", "lr_factor",
           "CHECKPOINT_NAME", "save_checkpoint", "load_checkpoint", "OPTIMIZERS", "SCHEDULES"]

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
OPTIMIZERS = ("sgd", "nesterov", "adamw")
SCHEDULES = ("cosine", "step", "one_cycle", "none")
ONE_CYCLE_WARMUP = 0.2          # fraction of the run spent warming up from lr/25 to lr
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "rng", "history")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, checkpoint: str | None = None):
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        where = (f"; the last good checkpoint is {checkpoint}" if checkpoint
                 else "; no checkpoint was written for this run")
        super().__init__(f"non-finite (NaN or inf) training loss at epoch {epoch}, step {step} "
                         f"(both counted from 1){where}. Try a smaller lr.")


class CheckpointError(ValueError):
    """A checkpoint file that ``fit`` cannot resume from (damaged, foreign or another model's)."""


# --------------------------------------------------------------------------- files
def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def _resume_advice(path: Path) -> str:
    return (f"Delete {path} (or move it away) to start afresh, or run without resume "
            "(resume=False; on the command line, leave out --resume).")


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint written by ``fit`` (weights_only: no code runs while loading).

    Raises ``CheckpointError`` naming the file when it is cut short, damaged, or holds anything
    other than a ``fit`` checkpoint.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():     # its pickle-protocol warning mentions weights_only
            warnings.filterwarnings("ignore", module=r"torch\._weights_only_unpickler")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise                                   # already clear, and not the file's fault
    except Exception as exc:                    # torch's text would advise weights_only=False
        raise CheckpointError(f"cannot read checkpoint {path}: the file is damaged (for example "
                              f"cut short) or was not written by dnet_lib.train.fit "
                              f"({type(exc).__name__}). {_resume_advice(path)}") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        held = f"a {type(state).__name__}" if not isinstance(state, dict) else "a dict without " \
            + ", ".join(repr(k) for k in missing)
        raise CheckpointError(f"{path} is not a dnet_lib.train.fit checkpoint (it holds {held}). "
                              f"{_resume_advice(path)}")
    return state


# --------------------------------------------------------------------------- History
class History:
    """Per-epoch metrics of a training run, plus its config and device.

    Lists (one entry per epoch): ``train_loss``, ``train_acc``, ``test_acc`` (None where not
    evaluated), ``examples_per_s`` (training throughput), ``train_time`` (seconds of training in
    the epoch, evaluation excluded), ``epoch_time`` (training plus evaluation), ``steps``.
    """

    FIELDS = ("train_loss", "train_acc", "test_acc", "examples_per_s", "train_time", "epoch_time",
              "steps")

    def __init__(self, config: dict | None = None, device: str = ""):
        self.config = dict(config or {})
        self.device = device
        for name in self.FIELDS:
            setattr(self, name, [])

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def wall_time(self) -> float:
        """Total seconds over all epochs (training + evaluation)."""
        return float(sum(self.epoch_time))

    @property
    def final_test_acc(self) -> float | None:
        done = [a for a in self.test_acc if a is not None]
        return done[-1] if done else None

    def train_seconds(self) -> list[float | None]:
        """Seconds of training up to the end of each epoch (evaluation excluded; None: unknown)."""
        total, out = 0.0, []
        for seconds in self.train_time:
            total = None if total is None or seconds is None else total + seconds
            out.append(total)
        return out

    def time_to_accuracy(self, target: float) -> float | None:
        """Seconds of training until the first evaluation with test accuracy >= ``target``.

        Measured at the end of epochs (where ``fit`` evaluates); None if never reached (or if the
        history predates ``train_time``).
        """
        for acc, seconds in zip(self.test_acc, self.train_seconds()):
            if acc is not None and acc >= target:
                return seconds
        return None

    def append(self, **metrics) -> None:
        missing = set(self.FIELDS) - set(metrics)
        if missing:
            raise ValueError(f"missing metrics {sorted(missing)}")
        for name in self.FIELDS:
            getattr(self, name).append(metrics[name])

    def to_dict(self) -> dict:
        return {"config": self.config, "device": self.device,
                **{name: list(getattr(self, name)) for name in self.FIELDS}}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        h = cls(d.get("config"), d.get("device", ""))
        epochs = len(d.get("train_loss", []))
        for name in cls.FIELDS:      # a field an older file lacks reads as None per epoch
            setattr(h, name, list(d.get(name, [None] * epochs)))
        return h

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, default=str))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def summary(self) -> str:
        if not self.epochs:
            return f"History(0 epochs, device={self.device})"
        acc = self.final_test_acc
        return (f"{self.epochs} epochs on {self.device}: train loss {self.train_loss[-1]:.4f}, "
                f"train acc {self.train_acc[-1]:.3f}, test acc "
                f"{'n/a' if acc is None else f'{acc:.3f}'}, "
                f"{self.examples_per_s[-1]:.0f} examples/s, {self.wall_time:.1f} s in total")

    def __repr__(self) -> str:
        return f"History({self.summary()})"

    def plot(self, ax=None):
        """Loss (left axis) and accuracies (right axis) against epoch. Returns the axes."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.2))
        epochs = list(range(1, self.epochs + 1))
        ax.plot(epochs, self.train_loss, "-o", color="C0", label="train loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        acc_ax = ax.twinx()
        acc_ax.plot(epochs, self.train_acc, "--s", color="C1", label="train acc")
        tested = [(e, a) for e, a in zip(epochs, self.test_acc) if a is not None]
        if tested:
            acc_ax.plot(*zip(*tested), "-^", color="C2", label="test acc")
        acc_ax.set_ylabel("accuracy")
        lines = ax.get_lines() + acc_ax.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize="small")
        return ax


# --------------------------------------------------------------------------- schedule
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

    def progress(self, step: int, train_seconds: float) -> float:
        if self.time_budget_s is not None:
            return train_seconds / self.time_budget_s
        return step / self.total_steps

    def apply(self, step: int, train_seconds: float) -> None:
        factor = lr_factor(self.schedule, self.progress(step, train_seconds))
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor


def _make_optimizer(name: str, model: nn.Module, lr: float, momentum: float, weight_decay: float):
    # no weight decay on BN parameters and biases (a standard, harmless improvement)
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=name == "nesterov")


def _grad_scaler(device: torch.device, enabled: bool):
    if hasattr(torch.amp, "GradScaler"):             # torch >= 2.3
        return torch.amp.GradScaler(device.type, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


# --------------------------------------------------------------------------- device policy
def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _amp_dtype(device: torch.device):
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


@dataclass
class DevicePolicy:
    """Where a run computes and with which speed-ups (None in ``choose`` means: on for CUDA)."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def choose(cls, device=None, amp=None, channels_last=None, compile=None) -> "DevicePolicy":
        rank, world_size = _dist_info()
        device = runtime.pick_device() if device is None else torch.device(device)
        if device.type == "cuda" and device.index is None and world_size > 1:
            local = int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count()
            device = torch.device("cuda", local)
        on_cuda = device.type == "cuda"
        pick = (lambda flag: on_cuda if flag is None else bool(flag))
        return cls(device, pick(amp), pick(channels_last), pick(compile))

    @property
    def amp_dtype(self):
        return _amp_dtype(self.device)

    @property
    def name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return str(self.device)

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None, *,
             amp: bool = False, channels_last: bool = False, max_batches: int | None = None,
             test_flip: bool = False) -> float:
    """Accuracy of ``model`` on ``data_iter`` (counts summed on the device, one sync at the end).

    ``test_flip`` adds the logits of each image's mirror image (test-time augmentation). Under
    torch.distributed the counts are all-reduced, so every rank returns the global accuracy.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    policy = DevicePolicy(device, amp, channels_last)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = torch.zeros((), dtype=torch.int64, device=device)
    for i, (x, y) in enumerate(data_iter):
        if max_batches is not None and i >= max_batches:
            break
        x, y = policy.inputs(x, y)
        with policy.autocast():
            logits = model(x)
            if test_flip:
                logits = logits + model(x.flip(-1))
        correct += (logits.argmax(1) == y).sum()
        total += y.numel()
    if _dist_info()[1] > 1:
        counts = torch.stack([correct, total])
        dist.all_reduce(counts)
        correct, total = counts[0], counts[1]
    model.train(was_training)
    total_count = int(total.item())
    return float(correct.item()) / total_count if total_count else float("nan")


# --------------------------------------------------------------------------- the run's objects
def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Trainer:
    """What one run updates: the model, its optimizer, lr schedule and AMP scaler, and counters."""

    model: nn.Module
    policy: DevicePolicy
    optimizer: torch.optim.Optimizer
    schedule: LrSchedule
    scaler: object
    criterion: nn.Module
    global_step: int = 0
    train_seconds: float = 0.0

    def __post_init__(self):
        self.train_model = self.eval_model = self.model

    def wrap(self, world_size: int) -> None:
        """DDP (several processes) and torch.compile; evaluation skips DDP's collectives."""
        model = self.model
        if world_size > 1:
            on_cuda = self.policy.device.type == "cuda"
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.policy.device.index] if on_cuda else None)
        self.train_model = torch.compile(model) if self.policy.compile else model
        self.eval_model = torch.compile(self.model) if self.policy.compile else self.model

    def step(self, x: torch.Tensor, y: torch.Tensor, train_seconds: float):
        """One optimizer step; returns the detached loss and logits."""
        self.schedule.apply(self.global_step, train_seconds)
        with self.policy.autocast():
            logits = self.train_model(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        return loss.detach(), logits.detach()

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(), "rng": _rng_state(self.policy.device),
                "train_seconds": self.train_seconds}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], self.policy.device)
        self.train_seconds = float(state.get("train_seconds", 0.0))


def _build_trainer(model, policy, optimizer, lr, momentum, weight_decay, label_smoothing, schedule,
                   total_steps, time_budget_s) -> Trainer:
    model = model.to(policy.device)
    if policy.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(optimizer, model, lr, momentum, weight_decay)
    scaler = _grad_scaler(policy.device, policy.amp and policy.amp_dtype == torch.float16)
    return Trainer(model, policy, opt, LrSchedule(opt, schedule, total_steps, time_budget_s), scaler,
                   nn.CrossEntropyLoss(label_smoothing=label_smoothing))


class Checkpoints:
    """``checkpoint.pt`` + ``history.json`` in a run folder (written by rank 0 only)."""

    def __init__(self, folder: str | os.PathLike | None, write: bool):
        self.path = Path(folder) / CHECKPOINT_NAME if folder is not None else None
        self.write = write

    def last_good(self) -> str | None:
        return str(self.path) if self.path is not None and self.path.exists() else None

    def restore(self, trainer: Trainer, train_iter, history: "History") -> int:
        """Load the run's state if a checkpoint exists; returns the epoch to start from."""
        if self.path is None or not self.path.exists():
            return 0
        state = load_checkpoint(self.path)
        try:
            trainer.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"{self.path} does not fit this model or optimizer "
                                  f"({str(exc).splitlines()[0]}). {_resume_advice(self.path)}") from None
        if state.get("loader") is not None and hasattr(train_iter, "load_state_dict"):
            train_iter.load_state_dict(state["loader"])
        loaded = History.from_dict(state["history"])
        for name in History.FIELDS:
            setattr(history, name, getattr(loaded, name))
        epoch = int(state["epoch"])
        trainer.global_step = sum(loaded.steps) if all(loaded.steps) else epoch * len(train_iter)
        return epoch

    def save(self, trainer: Trainer, epoch: int, train_iter, history: "History") -> None:
        if self.path is None or not self.write:
            return
        loader = train_iter.state_dict() if hasattr(train_iter, "state_dict") else None
        save_checkpoint({"format": 2, "epoch": epoch, **trainer.state_dict(), "loader": loader,
                         "history": history.to_dict()}, self.path)
        history.save(self.path.parent / HISTORY_NAME)


# --------------------------------------------------------------------------- one epoch
class EpochResult(NamedTuple):
    train_loss: float
    train_acc: float
    examples: float
    steps: int
    seconds: float
    out_of_time: bool


def _raise_if_not_finite(bad_step: torch.Tensor, epoch: int, checkpoints: Checkpoints, bar) -> None:
    first_bad = int(bad_step.item())
    if first_bad >= 0:
        if bar is not None:
            bar.close()
        raise NonFiniteLossError(epoch + 1, first_bad, checkpoints.last_good())


def _reduce_epoch_metrics(trainer: Trainer, loss_sum, correct, seen: int, world_size: int):
    """(loss sum, correct, examples) over all ranks; BN running stats taken from rank 0."""
    device, dtype = trainer.policy.device, loss_sum.dtype
    counts = torch.stack([loss_sum, correct.to(dtype), torch.tensor(float(seen), device=device,
                                                                    dtype=dtype)])
    if world_size > 1:
        dist.all_reduce(counts)
        for buffer in trainer.model.buffers():   # DDP syncs them only at forward
            dist.broadcast(buffer, 0)
    return [float(v) for v in counts.tolist()]


def _train_epoch(trainer: Trainer, train_iter, epoch: int, *, max_steps: int | None,
                 time_budget_s: float | None, checkpoints: Checkpoints, bar,
                 world_size: int) -> EpochResult:
    device = trainer.policy.device
    check_every = 1 if device.type == "cpu" else 32      # host syncs for the NaN check
    acc_dtype = torch.float32 if device.type == "mps" else torch.float64   # MPS has no float64
    loss_sum = torch.zeros((), dtype=acc_dtype, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    bad_step = torch.full((), -1, dtype=torch.int64, device=device)
    seen = steps = 0
    out_of_time = False
    trainer.train_model.train()
    steps_per_epoch = len(train_iter)
    runtime.synchronize(device)
    start = time.perf_counter()
    for step, (x, y) in enumerate(train_iter, start=1):
        elapsed = trainer.train_seconds + time.perf_counter() - start
        if time_budget_s is not None and steps and elapsed >= time_budget_s:
            out_of_time = True
            break
        x, y = trainer.policy.inputs(x, y)
        loss, logits = trainer.step(x, y, elapsed)
        bad_step = torch.where(torch.isfinite(loss) | (bad_step >= 0), bad_step,
                               torch.full_like(bad_step, step))
        loss_sum += loss.to(acc_dtype) * y.shape[0]
        correct += (logits.argmax(1) == y).sum()
        seen += y.shape[0]
        steps += 1
        last = step == steps_per_epoch or (max_steps is not None and trainer.global_step >= max_steps)
        if step % check_every == 0 or last:
            _raise_if_not_finite(bad_step, epoch, checkpoints, bar)
        if bar is not None:
            bar.update(1)
        if last:
            break
    _raise_if_not_finite(bad_step, epoch, checkpoints, bar)
    runtime.synchronize(device)
    seconds = time.perf_counter() - start
    trainer.train_seconds += seconds
    loss_total, correct_total, seen_total = _reduce_epoch_metrics(trainer, loss_sum, correct, seen,
                                                                  world_size)
    return EpochResult(loss_total / seen_total, correct_total / seen_total, seen_total, steps,
                       seconds, out_of_time)


# --------------------------------------------------------------------------- fit
def _check_arguments(train_iter, epochs, optimizer, schedule, lr, momentum, weight_decay,
                     label_smoothing, schedule_epochs, eval_every, max_steps, eval_batches, resume,
                     checkpoint_dir, time_budget_s) -> int:
    """Validate ``fit``'s arguments; returns the number of batches per epoch."""
    if epochs is None and time_budget_s is None:
        raise ValueError("epochs must be given (an integer >= 1) unless time_budget_s is")
    if epochs is not None:
        check_int("epochs", epochs, 1)
    if time_budget_s is not None:
        check_number("time_budget_s", time_budget_s, 0, float("inf"), low_open=True, high_open=True)
        if _dist_info()[1] > 1:
            raise ValueError("time_budget_s is not supported under torch.distributed: ranks would "
                             "stop at different steps; use epochs")
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("schedule", schedule, SCHEDULES)
    check_number("lr", lr, 0, float("inf"), low_open=True, high_open=True)
    check_number("momentum", momentum, 0, 1, high_open=True)
    check_number("weight_decay", weight_decay, 0, float("inf"), high_open=True)
    check_number("label_smoothing", label_smoothing, 0, 1, high_open=True)
    if schedule_epochs is not None:
        check_int("schedule_epochs", schedule_epochs, 1)
    check_int("eval_every", eval_every, 1)
    if max_steps is not None:
        check_int("max_steps", max_steps, 1)
    if eval_batches is not None:
        check_int("eval_batches", eval_batches, 1)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (the folder of the run to continue)")
    try:
        steps_per_epoch = len(train_iter)           # type: ignore[arg-type]
    except TypeError:
        raise ValueError("train_iter must have a length (len(train_iter) batches per epoch)") from None
    if steps_per_epoch < 1:
        raise ValueError(f"train_iter must yield at least one batch, len(train_iter) = {steps_per_epoch}")
    return steps_per_epoch


def _shard(train_iter, test_iter, rank: int, world_size: int) -> None:
    for loader in (train_iter, test_iter):
        if world_size > 1 and hasattr(loader, "set_shard"):
            loader.set_shard(rank, world_size, pad=loader is train_iter)


def _progress_bar(progress: bool, is_main: bool, total: int, desc: str):
    if not (progress and is_main):
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=True)


def fit(model: nn.Module, train_iter: Iterable, test_iter: Iterable | None = None, *,
        epochs: int | None = None, optimizer: str = "sgd", lr: float = 0.1, momentum: float = 0.9,
        weight_decay: float = 5e-4, schedule: str = "cosine", schedule_epochs: int | None = None,
        time_budget_s: float | None = None, label_smoothing: float = 0.0, test_flip: bool = False,
        device: str | torch.device | None = None, amp: bool | None = None,
        channels_last: bool | None = None, compile: bool | None = None, progress: bool = True,
        checkpoint_dir: str | os.PathLike | None = None, resume: bool = False, seed: int = 0,
        history: History | None = None, max_steps: int | None = None, eval_every: int = 1,
        eval_batches: int | None = None, on_epoch_end: Callable[[int, History], None] | None = None,
        config: dict | None = None) -> History:
    """Train ``model`` on ``train_iter`` for ``epochs`` epochs or ``time_budget_s`` seconds.

    * optimizer: "sgd" (momentum), "nesterov" or "adamw"; weight decay skips biases and BN.
    * schedule: "cosine", "step" (lr/10 at 50% and 75%), "one_cycle" (warm-up over the first
      20% from lr/25, then cosine) or "none", applied before every step over ``schedule_epochs``
      (default ``epochs``; set it to the full length when training in pieces).
    * time_budget_s: train until this many seconds of training (evaluation excluded) have passed,
      stopping at the first step boundary after it; the schedule then follows the elapsed
      fraction of the budget, and ``epochs`` (optional) is only an upper limit.
    * label_smoothing: for the training loss; test_flip: evaluate on each image and its mirror
      image (summed logits).
    * amp / channels_last / compile: None means on for CUDA, off elsewhere. AMP uses bfloat16
      (float16 + GradScaler on GPUs without bfloat16).
    * Test accuracy every ``eval_every`` epochs and always after the last (``eval_batches``
      limits it, for quick runs); ``History.time_to_accuracy`` reads time-to-target from it.
    * checkpoint_dir: after every epoch write ``checkpoint.pt`` (model, optimizer, scaler, RNG
      states, loader state, history) and ``history.json`` atomically. ``resume=True`` continues
      from that checkpoint; the result is bit-identical to an uninterrupted epoch-based run on the
      same device. A damaged or foreign checkpoint raises ``CheckpointError`` naming the file.
    * max_steps: stop after this many optimizer steps in total (smoke runs).
    * on_epoch_end(epoch, history): called after each epoch's checkpoint (epoch counted from 1).
    * Under torch.distributed (torchrun) the model is wrapped in DistributedDataParallel and
      ``DeviceLoader``s are sharded by rank; other iterables must shard themselves.

    Raises NonFiniteLossError (a FloatingPointError) naming the epoch and step of a NaN/inf loss;
    the checkpoint of the last finished epoch is left untouched.
    """
    steps_per_epoch = _check_arguments(train_iter, epochs, optimizer, schedule, lr, momentum,
                                       weight_decay, label_smoothing, schedule_epochs, eval_every,
                                       max_steps, eval_batches, resume, checkpoint_dir, time_budget_s)
    epochs = epochs if epochs is not None else 10**9      # a time budget alone decides the end
    schedule_epochs = schedule_epochs or epochs
    rank, world_size = _dist_info()
    policy = DevicePolicy.choose(device, amp, channels_last, compile)
    _shard(train_iter, test_iter, rank, world_size)
    torch.manual_seed(seed)
    trainer = _build_trainer(model, policy, optimizer, lr, momentum, weight_decay, label_smoothing,
                             schedule, schedule_epochs * steps_per_epoch, time_budget_s)
    history = history if history is not None else History()
    history.config.update({
        "epochs": epochs if epochs < 10**9 else None, "optimizer": optimizer, "lr": lr,
        "momentum": momentum, "weight_decay": weight_decay, "schedule": schedule,
        "schedule_epochs": schedule_epochs if time_budget_s is None else None,
        "time_budget_s": time_budget_s, "label_smoothing": label_smoothing, "test_flip": test_flip,
        "amp": policy.amp, "channels_last": policy.channels_last, "compile": policy.compile,
        "seed": seed, "world_size": world_size, "batches_per_epoch": steps_per_epoch,
        "model": type(trainer.model).__name__, "parameters": count_params(trainer.model),
        **(config or {})})
    history.device = policy.name

    checkpoints = Checkpoints(checkpoint_dir, write=rank == 0)
    start_epoch = checkpoints.restore(trainer, train_iter, history) if resume else 0
    trainer.wrap(world_size)

    def finished() -> bool:
        return ((max_steps is not None and trainer.global_step >= max_steps)
                or (time_budget_s is not None and trainer.train_seconds >= time_budget_s))

    for epoch in range(start_epoch, epochs):
        if finished():
            break
        if hasattr(train_iter, "set_epoch"):
            train_iter.set_epoch(epoch)
        bar = _progress_bar(progress, rank == 0, steps_per_epoch,
                            f"epoch {epoch + 1}" + (f"/{epochs}" if epochs < 10**9 else ""))
        start = time.perf_counter()
        result = _train_epoch(trainer, train_iter, epoch, max_steps=max_steps,
                              time_budget_s=time_budget_s, checkpoints=checkpoints, bar=bar,
                              world_size=world_size)
        last = epoch == epochs - 1 or result.out_of_time or finished()
        test_acc = None
        if test_iter is not None and ((epoch + 1) % eval_every == 0 or last):
            test_acc = evaluate(trainer.eval_model, test_iter, policy.device, amp=policy.amp,
                                channels_last=policy.channels_last, max_batches=eval_batches,
                                test_flip=test_flip)
        history.append(train_loss=result.train_loss, train_acc=result.train_acc, test_acc=test_acc,
                       examples_per_s=result.examples / result.seconds, train_time=result.seconds,
                       epoch_time=time.perf_counter() - start, steps=result.steps)
        if bar is not None:
            bar.set_postfix_str(f"loss {result.train_loss:.3f} train {result.train_acc:.3f}"
                                + (f" test {test_acc:.3f}" if test_acc is not None else ""))
            bar.close()
        checkpoints.save(trainer, epoch + 1, train_iter, history)
        if world_size > 1:
            dist.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
        if last:
            break
    return history
