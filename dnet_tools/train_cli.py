"""Training from the shell: ``python -m dnet_tools.train_cli train --model d2l_densenet
--epochs 1 --out runs/x`` (from a checkout: dnet_tools is not installed).

Runs under ``torchrun --nproc_per_node=N -m dnet_tools.train_cli train ...`` too
(DistributedDataParallel, gloo on CPU, nccl on CUDA); only rank 0 prints and writes files.
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

import torch
from torch import nn

from dnet_lib import data, models, runtime
from dnet_lib.arith import count_params
from dnet_lib.train import OPTIMIZERS, SCHEDULES, TrainConfig, distributed, fit
from dnet_lib.validate import check_int

from .cifar import RandomCrop, load_data_cifar10

# every model factory in dnet_lib.models (densenet121, d2l_densenet, resnet18, ...)
FACTORIES = {name: getattr(models, name) for module in (models.densenet, models.resnet)
             for name in module.__all__ if name[0].islower()}


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when this call did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or torch.distributed.is_initialized():
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            return check_int("value", int(text), low)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}") from None
    return parse


_positive_int = _int_at_least(1)


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
    """The parser of ``train`` and its options."""
    parser = argparse.ArgumentParser(prog="python -m dnet_tools.train_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on Fashion-MNIST or CIFAR-10")
    t.add_argument("--model", required=True, choices=sorted(FACTORIES),
                   help="factory in dnet_lib.models")
    t.add_argument("--model-arg", action="append", type=_model_arg, default=[], metavar="KEY=VALUE",
                   help="extra keyword for the factory, e.g. growth_rate=12 (repeatable)")
    t.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default="fashion-mnist")
    t.add_argument("--data-dir", default=None, help="folder with the dataset files "
                   "(default: data.data_root(): $DNET_DATA_DIR, else ../shared/data, else the "
                   "project's data/ folder filled by `make data`)")
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--resize", type=_positive_int, default=None,
                   help="side length fed to the model")
    t.add_argument("--subset", type=_subset, default=None,
                   help="class-balanced training subset: fraction in (0, 1] or a count")
    t.add_argument("--test-subset", type=_subset, default=None, help="same for the test set")
    t.add_argument("--flip", action="store_true", help="random horizontal flips")
    t.add_argument("--crop-padding", type=_int_at_least(0), default=None,
                   help="random crops with this zero padding (default 0; 4 for cifar10)")
    t.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1, mps (default: best available)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run folder: checkpoint.pt and history.json")
    t.add_argument("--threads", type=_positive_int, default=None, help="torch.set_num_threads")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    # fit's settings: only those given are passed on, so TrainConfig's defaults hold
    fit = t.add_argument_group("training (dnet_lib.train.TrainConfig, which has the defaults)",
                               argument_default=argparse.SUPPRESS).add_argument
    fit("--epochs", type=_positive_int, help="default 10; with --time-budget-s: an upper limit")
    fit("--time-budget-s", type=float, help="seconds of training; the schedule follows them")
    fit("--optimizer", choices=OPTIMIZERS)
    fit("--schedule", choices=SCHEDULES)
    for name in ("--lr", "--momentum", "--weight-decay", "--label-smoothing"):
        fit(name, type=float)
    fit("--test-flip", action="store_true", help="add the logits of each test image's mirror")
    for name in ("--amp", "--channels-last", "--compile"):
        fit(name, action=argparse.BooleanOptionalAction, help="default: on for CUDA")
    fit("--resume", action="store_true", help="continue the run in --out")
    fit("--max-steps", type=_positive_int, help="stop after this many steps")
    fit("--eval-batches", type=_positive_int, help="evaluate on this many batches")
    return parser


def train_main(args: argparse.Namespace) -> int:
    """Train as ``args`` say; returns the exit status (0)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    started_dist = init_from_env()
    try:
        rank, world_size = distributed.rank_and_world_size()
        device = runtime.pick_device(args.device)
        if device.type == "cuda" and world_size > 1:
            device = torch.device("cuda", torch.cuda.current_device())
        cifar = args.dataset == "cifar10"
        loader = load_data_cifar10 if cifar else data.load_data_fashion_mnist
        crop = args.crop_padding if args.crop_padding is not None else (4 if cifar else 0)
        train_iter, test_iter = loader(args.batch_size, args.resize, device=device,
                                       data_dir=args.data_dir, subset=args.subset,
                                       test_subset=args.test_subset, seed=args.seed,
                                       flip=args.flip or cifar,
                                       augment=RandomCrop(crop) if crop else None)
        torch.manual_seed(args.seed)            # the same initial weights on every rank
        kwargs = {"num_classes": 10, "in_channels": train_iter.images.shape[1],
                  **dict(args.model_arg)}
        model: nn.Module = FACTORIES[args.model](**kwargs)
        if rank == 0:
            print(f"{runtime.describe(device)} model={args.model} params={count_params(model):,} "
                  f"train={len(train_iter.labels)} examples in {len(train_iter)} batches "
                  f"(rank {rank})", flush=True)
        settings = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
        settings.setdefault("epochs", None if "time_budget_s" in settings else 10)
        settings.update(device=device, progress=not args.no_progress, checkpoint_dir=args.out)
        history = fit(model, train_iter, test_iter, **settings, config={
            "model": args.model, "model_args": dict(args.model_arg), "dataset": args.dataset,
            "batch_size": args.batch_size, "resize": args.resize, "subset": args.subset,
            "command": " ".join(sys.argv)})
        if rank == 0:
            print(history, flush=True)
            if args.out:
                out = Path(args.out)
                print(f"wrote {out / 'checkpoint.pt'} and {out / 'history.json'}")
    finally:
        if started_dist:
            torch.distributed.destroy_process_group()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad arguments)."""
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
