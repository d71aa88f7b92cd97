"""The training loop: ``fit`` runs epochs, ``train_epoch`` runs the steps of one. Step metrics
stay on the device (no host sync per step); a NaN/inf loss still names its epoch and step."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import runtime
from ..arith import count_params
from . import checkpoint, distributed
from .config import RECORDED, UNLIMITED, TrainConfig, lr_factor, make_optimizer
from .distributed import DevicePolicy
from .history import History


class NonFiniteLossError(FloatingPointError):
    def __init__(self, epoch: int, step: int, saved: Path | None = None):
        self.epoch, self.step = epoch, step
        where = (f"the last good checkpoint is {saved}" if saved is not None and saved.exists()
                 else "no checkpoint was written for this run")
        super().__init__(f"non-finite (NaN or inf) training loss at epoch {epoch}, step {step} "
                         f"(both counted from 1); {where}. Try a smaller lr.")


@dataclass
class Trainer:
    """What one run updates: the model, its optimizer and AMP scaler, its counters."""

    model: nn.Module
    policy: DevicePolicy
    cfg: TrainConfig
    global_step: int = 0
    train_seconds: float = 0.0

    def __post_init__(self):
        policy = self.policy
        layout = torch.channels_last if policy.channels_last else None     # None: keep it
        self.model = self.model.to(policy.device, memory_format=layout)
        self.optimizer = make_optimizer(self.cfg, self.model)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=self.cfg.label_smoothing)
        self.scaler = policy.grad_scaler()
        # DDP (several processes) and torch.compile; evaluation skips DDP's collectives
        compiled = torch.compile if policy.compile else (lambda m: m)
        self.train_model, self.eval_model = compiled(policy.wrap(self.model)), compiled(self.model)

    def finished(self, train_seconds: float | None = None) -> bool:
        """True once the step limit or the time budget is used up (``train_seconds``: so far)."""
        cfg, seconds = self.cfg, self.train_seconds if train_seconds is None else train_seconds
        return ((cfg.max_steps is not None and self.global_step >= cfg.max_steps)
                or (cfg.time_budget_s is not None and seconds >= cfg.time_budget_s))


@torch.no_grad()
def evaluate(model: nn.Module, data_iter: Iterable, *, test_flip: bool = False,
             policy: DevicePolicy | None = None) -> float:
    """Accuracy of ``model`` on ``data_iter`` (over all ranks under torch.distributed);
    ``test_flip`` adds the logits of each image's mirror image (test-time augmentation).
    ``policy``: ``fit``'s device, AMP and layout (default: the model's device, no AMP)."""
    policy = policy or DevicePolicy(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, dtype=torch.int64, device=policy.device)       # correct, seen
    for x, y in data_iter:
        x, y = policy.inputs(x, y)
        with policy.autocast():
            logits = model(x) + model(x.flip(-1)) if test_flip else model(x)
        counts[0] += (logits.argmax(1) == y).sum()
        counts[1] += y.numel()
    model.train(was_training)
    correct, seen = distributed.sum_over_ranks(counts).tolist()
    return correct / seen if seen else float("nan")


def train_epoch(trainer: Trainer, train_iter, epoch: int, saved: Path | None, bar) -> dict:
    """One pass over ``train_iter``, forward, loss, backward and update for every batch; the
    epoch's metrics for ``History.append`` (all but ``test_acc`` and ``epoch_time``)."""
    policy, model, opt, cfg = trainer.policy, trainer.train_model, trainer.optimizer, trainer.cfg
    device, budget = policy.device, cfg.time_budget_s
    check_every = 1 if device.type == "cpu" else 32      # host syncs for the NaN check
    acc_dtype = torch.float32 if device.type == "mps" else torch.float64   # MPS has no float64
    totals = torch.zeros(3, dtype=acc_dtype, device=device)     # loss sum, correct, examples
    bad_step = torch.full((), -1, dtype=torch.int64, device=device)

    def raise_if_not_finite():
        if (first_bad := int(bad_step.item())) >= 0:
            raise NonFiniteLossError(epoch + 1, first_bad, saved)

    steps = 0
    model.train()
    runtime.synchronize(device)
    start = time.perf_counter()
    for x, y in train_iter:
        elapsed = trainer.train_seconds + time.perf_counter() - start
        if steps and trainer.finished(elapsed):     # the step limit or the time budget
            break
        x, y = policy.inputs(x, y)
        # the schedule's lr for this step: by steps done, or by seconds of the time budget
        progress = (elapsed / budget if budget is not None
                    else trainer.global_step / (cfg.epochs * len(train_iter)))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(cfg.schedule, progress)
        with policy.autocast():
            logits = model(x)
            loss = trainer.criterion(logits, y)
        opt.zero_grad(set_to_none=True)
        trainer.scaler.scale(loss).backward()
        trainer.scaler.step(opt)
        trainer.scaler.update()
        trainer.global_step += 1
        steps += 1
        bad_step = torch.where(torch.isfinite(loss) | (bad_step >= 0), bad_step, steps)
        totals[0] += loss.detach().to(acc_dtype) * len(y)
        totals[1] += (logits.argmax(1) == y).sum()
        totals[2] += len(y)
        if steps % check_every == 0:
            raise_if_not_finite()
        bar.update(1)
    raise_if_not_finite()
    runtime.synchronize(device)
    seconds = time.perf_counter() - start
    trainer.train_seconds += seconds
    loss_sum, correct, seen = distributed.sum_over_ranks(totals).tolist()
    distributed.sync_buffers(trainer.model)
    return {"train_loss": loss_sum / seen, "train_acc": correct / seen, "steps": steps,
            "examples_per_s": seen / seconds, "train_time": seconds}


def fit(model: nn.Module, train_iter: Iterable, test_iter: Iterable | None = None, *,
        on_epoch_end: Callable[[int, History], None] | None = None, config: dict | None = None,
        **settings) -> History:
    """Train ``model`` for ``epochs`` epochs or ``time_budget_s`` seconds; returns its History.
    ``settings``: the fields of ``TrainConfig``; ``config``: more entries for ``history.config``;
    ``on_epoch_end(epoch, history)`` runs after each epoch's checkpoint. Under torchrun the model
    is wrapped in DDP and ``DeviceLoader``s are sharded by rank. Raises ``NonFiniteLossError``
    (the last checkpoint is kept) and ``CheckpointError``."""
    cfg = TrainConfig(**settings)
    rank, world_size = distributed.rank_and_world_size()
    if cfg.time_budget_s is not None and world_size > 1:
        raise ValueError("time_budget_s is not supported under torch.distributed: ranks would "
                         "stop at different steps; use epochs")
    distributed.shard(train_iter, test_iter)
    steps_per_epoch = len(train_iter) if hasattr(train_iter, "__len__") else 0     # this rank's
    if steps_per_epoch < 1:
        raise ValueError("train_iter must have a length (batches per epoch) of at least 1")
    policy = DevicePolicy.choose(cfg.device, cfg.amp, cfg.channels_last, cfg.compile)
    torch.manual_seed(cfg.seed)
    trainer = Trainer(model, policy, cfg)
    cuda = policy.device.type == "cuda"
    history = History({**{name: getattr(cfg, name) for name in RECORDED}, "amp": policy.amp,
                       "channels_last": policy.channels_last, "compile": policy.compile,
                       "world_size": world_size, "batches_per_epoch": steps_per_epoch,
                       "model": type(trainer.model).__name__,
                       "parameters": count_params(trainer.model), **(config or {})},
                      torch.cuda.get_device_name(policy.device) if cuda else str(policy.device))
    saved = Path(cfg.checkpoint_dir) / checkpoint.CHECKPOINT_NAME if cfg.checkpoint_dir else None
    start_epoch = checkpoint.restore(saved, trainer, history) if cfg.resume else 0
    max_epochs = cfg.epochs or UNLIMITED        # a time budget alone decides the end

    for epoch in range(start_epoch, max_epochs):
        if trainer.finished():
            break
        if hasattr(train_iter, "set_epoch"):
            train_iter.set_epoch(epoch)
        of = f"/{cfg.epochs}" if cfg.epochs else ""
        with tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}{of}",
                  disable=not (cfg.progress and rank == 0)) as bar:
            start = time.perf_counter()
            metrics = train_epoch(trainer, train_iter, epoch, saved, bar)
            last = epoch == max_epochs - 1 or trainer.finished()
            test_acc = None
            if test_iter is not None and ((epoch + 1) % cfg.eval_every == 0 or last):
                test_acc = evaluate(trainer.eval_model, test_iter, test_flip=cfg.test_flip,
                                    policy=policy)
            history.append(**metrics, test_acc=test_acc, epoch_time=time.perf_counter() - start)
            bar.set_postfix_str(f"loss {metrics['train_loss']:.3f} train {metrics['train_acc']:.3f}"
                                + (f" test {test_acc:.3f}" if test_acc is not None else ""))
        if saved is not None and rank == 0:
            checkpoint.save(saved, trainer, epoch + 1, history)
        distributed.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
        if last:
            break
    return history
