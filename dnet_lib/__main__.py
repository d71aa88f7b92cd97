"""Command line: ``python -m dnet_lib train --model d2l_densenet --epochs 1 --out runs/x``.

Runs under ``torchrun --nproc_per_node=N -m dnet_lib train ...`` too (DistributedDataParallel,
gloo on CPU, nccl on CUDA); only rank 0 prints and writes files.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import sys
from pathlib import Path

import torch
from torch import nn

from . import models
from .validate import check_int


def model_factories() -> dict[str, callable]:
    """Every lower-case model factory in dnet_lib.models (densenet121, d2l_densenet, resnet18, ...)."""
    out = {}
    for name in models.__all__:
        obj = getattr(models, name)
        if name.islower() and inspect.isfunction(obj):
            out[name] = obj
    return out


def _positive_int(text: str) -> int:
    try:
        return check_int("value", int(text), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}") from None


def _subset(text: str):
    value = float(text)
    return int(value) if value > 1 and value == int(value) else value


def _model_arg(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def build_parser() -> argparse.ArgumentParser:
    from .train import OPTIMIZERS, SCHEDULES
    parser = argparse.ArgumentParser(prog="python -m dnet_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on Fashion-MNIST or CIFAR-10")
    t.add_argument("--model", required=True, choices=sorted(model_factories()),
                   help="factory in dnet_lib.models")
    t.add_argument("--model-arg", action="append", type=_model_arg, default=[], metavar="KEY=VALUE",
                   help="extra keyword for the factory, e.g. growth_rate=12 (repeatable)")
    t.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default="fashion-mnist")
    t.add_argument("--data-dir", default=None, help="folder with the dataset files "
                   "(default: data.data_root(): $DNET_DATA_DIR, else ../shared/data, else the "
                   "project's data/ folder filled by `make data`)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="epochs to train (default 10; with --time-budget-s: an upper limit)")
    t.add_argument("--time-budget-s", type=float, default=None,
                   help="train for this many seconds of training; the schedule follows elapsed time")
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--resize", type=_positive_int, default=None, help="side length fed to the model")
    t.add_argument("--subset", type=_subset, default=None,
                   help="class-balanced training subset: fraction in (0, 1] or a count")
    t.add_argument("--test-subset", type=_subset, default=None, help="same for the test set")
    t.add_argument("--flip", action="store_true", help="random horizontal flips")
    t.add_argument("--crop-padding", type=int, default=None,
                   help="random crops with this zero padding (default 0; 4 for cifar10)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--test-flip", action="store_true",
                   help="evaluate on each test image and its mirror image (summed logits)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for CUDA)")
    t.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--out", default=None, help="run folder: checkpoint.pt and history.json")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    t.add_argument("--eval-batches", type=_positive_int, default=None, help="evaluate on this many batches")
    t.add_argument("--threads", type=_positive_int, default=None, help="torch.set_num_threads")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def train_main(args: argparse.Namespace) -> int:
    from . import data, runtime
    from .arith import count_params
    from .train import distributed, fit

    if args.threads:
        torch.set_num_threads(args.threads)
    started_dist = distributed.init_from_env()
    try:
        rank, world_size = distributed.rank_and_world_size()
        device = runtime.pick_device(args.device)
        if device.type == "cuda" and world_size > 1:
            device = torch.device("cuda", torch.cuda.current_device())
        loader = data.load_data_fashion_mnist if args.dataset == "fashion-mnist" else data.load_data_cifar10
        crop = args.crop_padding if args.crop_padding is not None else (4 if args.dataset == "cifar10" else 0)
        flip = args.flip or args.dataset == "cifar10"
        train_iter, test_iter = loader(args.batch_size, args.resize, device=device, data_dir=args.data_dir,
                                       subset=args.subset, test_subset=args.test_subset, seed=args.seed,
                                       flip=flip, crop_padding=crop)
        in_channels = train_iter.images.shape[1]
        torch.manual_seed(args.seed)            # the same initial weights on every rank
        kwargs = {"num_classes": 10, "in_channels": in_channels, **dict(args.model_arg)}
        model: nn.Module = model_factories()[args.model](**kwargs)
        if rank == 0:
            print(f"{runtime.describe(device)} model={args.model} params={count_params(model):,} "
                  f"train={train_iter!r}", flush=True)
        epochs = args.epochs or (None if args.time_budget_s else 10)
        history = fit(model, train_iter, test_iter, epochs=epochs, time_budget_s=args.time_budget_s,
                      test_flip=args.test_flip, optimizer=args.optimizer, lr=args.lr,
                      momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
                      label_smoothing=args.label_smoothing, device=device, amp=args.amp,
                      channels_last=args.channels_last, compile=args.compile,
                      progress=not args.no_progress, checkpoint_dir=args.out, resume=args.resume,
                      seed=args.seed, max_steps=args.max_steps, eval_batches=args.eval_batches,
                      config={"model": args.model, "model_args": dict(args.model_arg),
                              "dataset": args.dataset, "batch_size": args.batch_size, "resize": args.resize,
                              "subset": args.subset, "command": " ".join(sys.argv)})
        if rank == 0:
            print(history.summary(), flush=True)
            if args.out:
                print(f"wrote {Path(args.out) / 'checkpoint.pt'} and {Path(args.out) / 'history.json'}")
    finally:
        if started_dist:
            torch.distributed.destroy_process_group()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        try:
            return train_main(args)
        except ValueError as exc:        # bad arguments: a clear message, not a traceback
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
