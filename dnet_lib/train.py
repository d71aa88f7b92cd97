"""Training: ``fit`` (one loop for notebooks, the CLI and torchrun) and ``History``.

``fit`` trains a classifier with SGD/Nesterov/AdamW, a per-step cosine or step schedule,
optional AMP, channels_last and torch.compile (each on by default only on CUDA), evaluates test
accuracy every epoch, checkpoints atomically after every epoch and can resume a killed run
bit-for-bit. Under ``torchrun`` it wraps the model in DistributedDataParallel, shards
``DeviceLoader``s by rank, all-reduces the metrics and lets only rank 0 write files.

Step metrics (loss sum, correct count) are accumulated on the device, so a step needs no
host synchronisation; a non-finite loss is still caught with its exact epoch and step.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from . import runtime
from .files import atomic_write, atomic_write_text

__all__ = ["History", "NonFiniteLossError", "fit", "evaluate", "CHECKPOINT_NAME",
           "save_checkpoint", "load_checkpoint", "OPTIMIZERS", "SCHEDULES"]

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
OPTIMIZERS = ("sgd", "nesterov", "adamw")
SCHEDULES = ("cosine", "step", "none")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, checkpoint: str | None = None):
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        where = (f"; the last good checkpoint is {checkpoint}" if checkpoint
                 else "; no checkpoint was written for this run")
        super().__init__(f"non-finite (NaN or inf) training loss at epoch {epoch}, step {step} "
                         f"(both counted from 1){where}. Try a smaller lr.")


# --------------------------------------------------------------------------- files
def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint written by ``fit`` (weights_only: no code runs while loading)."""
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- History
class History:
    """Per-epoch metrics of a training run, plus its config and device.

    Lists (one entry per epoch): ``train_loss``, ``train_acc``, ``test_acc`` (None where not
    evaluated), ``examples_per_s`` (training throughput), ``epoch_time`` (seconds of training
    plus evaluation), ``steps``.
    """

    FIELDS = ("train_loss", "train_acc", "test_acc", "examples_per_s", "epoch_time", "steps")

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
        for name in cls.FIELDS:
            setattr(h, name, list(d.get(name, [])))
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


# --------------------------------------------------------------------------- helpers
def _check_positive_int(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_number(name, value, low, high, low_open=False, high_open=True):
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value > low if low_open else value >= low) and (value < high if high_open else value <= high))
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")


def _lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base lr after ``step`` optimizer steps."""
    if schedule == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    if schedule == "step":   # the paper: divide by 10 at 50% and 75% of training
        return lambda step: 0.1 ** ((step >= 0.5 * total_steps) + (step >= 0.75 * total_steps))
    return lambda step: 1.0


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


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _autocast(device: torch.device, enabled: bool, dtype):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _amp_dtype(device: torch.device):
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


@torch.no_grad()
def evaluate(model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None, *,
             amp: bool = False, channels_last: bool = False, max_batches: int | None = None) -> float:
    """Accuracy of ``model`` on ``data_iter`` (counts summed on the device, one sync at the end).

    Under torch.distributed the counts are all-reduced, so every rank returns the global accuracy.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = torch.zeros((), dtype=torch.int64, device=device)
    for i, (x, y) in enumerate(data_iter):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp, _amp_dtype(device)):
            logits = model(x)
        correct += (logits.argmax(1) == y).sum()
        total += y.numel()
    if _dist_info()[1] > 1:
        counts = torch.stack([correct, total])
        dist.all_reduce(counts)
        correct, total = counts[0], counts[1]
    model.train(was_training)
    total_count = int(total.item())
    return float(correct.item()) / total_count if total_count else float("nan")


# --------------------------------------------------------------------------- fit
def fit(model: nn.Module, train_iter: Iterable, test_iter: Iterable | None = None, *,
        epochs: int, optimizer: str = "sgd", lr: float = 0.1, momentum: float = 0.9,
        weight_decay: float = 5e-4, schedule: str = "cosine", schedule_epochs: int | None = None,
        label_smoothing: float = 0.0, device: str | torch.device | None = None,
        amp: bool | None = None, channels_last: bool | None = None, compile: bool | None = None,
        progress: bool = True, checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
        seed: int = 0, history: History | None = None, max_steps: int | None = None,
        eval_every: int = 1, eval_batches: int | None = None,
        on_epoch_end: Callable[[int, History], None] | None = None,
        config: dict | None = None) -> History:
    """Train ``model`` on ``train_iter`` for ``epochs`` epochs; return the ``History``.

    * optimizer: "sgd" (momentum), "nesterov" or "adamw"; weight decay skips biases and BN.
    * schedule: "cosine", "step" (lr/10 at 50% and 75%) or "none", applied per step over
      ``schedule_epochs`` (default ``epochs``; set it to the full length when training in pieces).
    * amp / channels_last / compile: None means on for CUDA, off elsewhere. AMP uses bfloat16
      (float16 + GradScaler on GPUs without bfloat16).
    * Test accuracy every ``eval_every`` epochs and always after the last (``eval_batches``
      limits it, for quick runs).
    * checkpoint_dir: after every epoch write ``checkpoint.pt`` (model, optimizer, scheduler,
      scaler, RNG states, loader state, history) and ``history.json`` atomically.
      ``resume=True`` continues from that checkpoint; the result is bit-identical to an
      uninterrupted run on the same device.
    * max_steps: stop after this many optimizer steps in total (smoke runs).
    * on_epoch_end(epoch, history): called after each epoch's checkpoint (epoch counted from 1).
    * Under torch.distributed (torchrun) the model is wrapped in DistributedDataParallel and
      ``DeviceLoader``s are sharded by rank; other iterables must shard themselves.

    Raises NonFiniteLossError (a FloatingPointError) naming the epoch and step of a NaN/inf loss;
    the checkpoint of the last finished epoch is left untouched.
    """
    _check_positive_int("epochs", epochs)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    _check_number("lr", lr, 0, float("inf"), low_open=True)
    _check_number("momentum", momentum, 0, 1)
    _check_number("weight_decay", weight_decay, 0, float("inf"))
    _check_number("label_smoothing", label_smoothing, 0, 1)
    schedule_epochs = epochs if schedule_epochs is None else schedule_epochs
    _check_positive_int("schedule_epochs", schedule_epochs)
    _check_positive_int("eval_every", eval_every)
    if max_steps is not None:
        _check_positive_int("max_steps", max_steps)
    if eval_batches is not None:
        _check_positive_int("eval_batches", eval_batches)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (the folder of the run to continue)")
    try:
        steps_per_epoch = len(train_iter)           # type: ignore[arg-type]
    except TypeError:
        raise ValueError("train_iter must have a length (len(train_iter) batches per epoch)") from None
    if steps_per_epoch < 1:
        raise ValueError(f"train_iter must yield at least one batch, len(train_iter) = {steps_per_epoch}")

    rank, world_size = _dist_info()
    device = runtime.pick_device() if device is None else torch.device(device)
    if device.type == "cuda" and device.index is None and world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    on_cuda = device.type == "cuda"
    amp = on_cuda if amp is None else bool(amp)
    channels_last = on_cuda if channels_last is None else bool(channels_last)
    compile = on_cuda if compile is None else bool(compile)
    amp_dtype = _amp_dtype(device)
    is_main = rank == 0

    for loader in (train_iter, test_iter):
        if world_size > 1 and hasattr(loader, "set_shard"):
            loader.set_shard(rank, world_size, pad=loader is train_iter)
    torch.manual_seed(seed)

    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    base_model = model
    opt = _make_optimizer(optimizer, model, lr, momentum, weight_decay)
    total_steps = schedule_epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(schedule, total_steps))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype == torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    run_config = {"epochs": epochs, "optimizer": optimizer, "lr": lr, "momentum": momentum,
                  "weight_decay": weight_decay, "schedule": schedule, "schedule_epochs": schedule_epochs,
                  "label_smoothing": label_smoothing, "amp": amp, "channels_last": channels_last,
                  "compile": compile, "seed": seed, "world_size": world_size,
                  "batches_per_epoch": steps_per_epoch, "model": type(base_model).__name__,
                  "parameters": sum(p.numel() for p in base_model.parameters()), **(config or {})}
    device_name = torch.cuda.get_device_name(device) if on_cuda else str(device)
    history = history if history is not None else History(run_config, device_name)
    history.config.update(run_config)
    history.device = device_name

    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    start_epoch = 0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        base_model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], device)
        if state.get("loader") is not None and hasattr(train_iter, "load_state_dict"):
            train_iter.load_state_dict(state["loader"])
        loaded = History.from_dict(state["history"])
        for name in History.FIELDS:
            setattr(history, name, getattr(loaded, name))
        start_epoch = int(state["epoch"])

    if world_size > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if on_cuda else None)
    train_model = torch.compile(model) if compile else model
    eval_model = torch.compile(base_model) if compile else base_model   # no DDP collectives in eval

    bar_factory = None
    if progress and is_main:
        from tqdm.auto import tqdm as bar_factory

    global_step = start_epoch * steps_per_epoch
    check_every = 1 if device.type == "cpu" else 32     # host syncs for the NaN check
    acc_dtype = torch.float32 if device.type == "mps" else torch.float64   # MPS has no float64
    for epoch in range(start_epoch, epochs):
        if max_steps is not None and global_step >= max_steps:
            break
        if hasattr(train_iter, "set_epoch"):
            train_iter.set_epoch(epoch)
        train_model.train()
        loss_sum = torch.zeros((), dtype=acc_dtype, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        bad_step = torch.full((), -1, dtype=torch.int64, device=device)
        seen, steps = 0, 0
        bar = bar_factory(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}", leave=True) \
            if bar_factory else None
        if on_cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for step, (x, y) in enumerate(train_iter, start=1):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp, amp_dtype):
                logits = train_model(x)
                loss = criterion(logits, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            scheduler.step()
            loss = loss.detach()
            finite = torch.isfinite(loss)
            bad_step = torch.where(finite | (bad_step >= 0), bad_step, torch.full_like(bad_step, step))
            loss_sum += loss.to(acc_dtype) * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
            seen += y.shape[0]
            steps += 1
            global_step += 1
            last = step == steps_per_epoch or (max_steps is not None and global_step >= max_steps)
            if step % check_every == 0 or last:
                first_bad = int(bad_step.item())
                if first_bad >= 0:
                    if bar is not None:
                        bar.close()
                    raise NonFiniteLossError(epoch + 1, first_bad,
                                             str(ckpt_path) if ckpt_path and ckpt_path.exists() else None)
            if bar is not None:
                bar.update(1)
            if last:
                break
        if on_cuda:
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - start

        if world_size > 1:
            counts = torch.stack([loss_sum, correct.to(acc_dtype),
                                  torch.tensor(float(seen), device=device, dtype=acc_dtype)])
            dist.all_reduce(counts)
            loss_sum, correct_total, seen_total = counts[0], counts[1], counts[2]
            # BN running stats differ per rank (DDP syncs them only at forward): take rank 0's
            for buffer in base_model.buffers():
                dist.broadcast(buffer, 0)
        else:
            correct_total, seen_total = correct, torch.tensor(float(seen))
        seen_total = float(seen_total.item())
        train_loss = float(loss_sum.item()) / seen_total
        train_acc = float(correct_total.item()) / seen_total

        final = epoch == epochs - 1 or (max_steps is not None and global_step >= max_steps)
        test_acc = None
        if test_iter is not None and ((epoch + 1) % eval_every == 0 or final):
            test_acc = evaluate(eval_model, test_iter, device, amp=amp, channels_last=channels_last,
                                max_batches=eval_batches)
        epoch_time = time.perf_counter() - start
        history.append(train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                       examples_per_s=seen_total / train_seconds, epoch_time=epoch_time, steps=steps)
        if bar is not None:
            bar.set_postfix_str(f"loss {train_loss:.3f} train {train_acc:.3f}"
                                + (f" test {test_acc:.3f}" if test_acc is not None else ""))
            bar.close()

        if ckpt_path is not None and is_main:
            save_checkpoint({
                "format": 1, "epoch": epoch + 1, "model": base_model.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "rng": _rng_state(device),
                "loader": train_iter.state_dict() if hasattr(train_iter, "state_dict") else None,
                "history": history.to_dict()}, ckpt_path)
            history.save(ckpt_path.parent / HISTORY_NAME)
        if world_size > 1:
            dist.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
    return history
