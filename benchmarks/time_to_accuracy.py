"""Time to accuracy on Fashion-MNIST: a CPU recipe, and d2l's recipe on a GPU.

* CPU recipe (goal: >= 0.90 test accuracy within 5 minutes of training on 2 cores). A small
  DenseNet for 28x28 inputs built from ``dnet_lib.models`` blocks: 3x3 stem to 32 channels + 2x2
  max pool (so the dense blocks run at 14, 7 and 3 px, not 28), three blocks of three plain
  BN-ReLU-3x3 layers with k=16, transitions halving the channels, ~81k parameters. AdamW, batch
  256, data from ``dnet_lib.data.load_data_fashion_mnist`` (device-resident, normalised, no
  resize). The run is time-budgeted: it trains for 295 s and the one-cycle learning rate follows
  the elapsed fraction of that budget, so the schedule finishes when the time does on any
  machine. Test accuracy is measured after every epoch and at the end; the training clock
  excludes evaluation.
* d2l recipe (GPU only): ``d2l_densenet`` (SGD lr 0.1) and ``d2l_resnet18`` (SGD lr 0.05),
  96x96 px, batch 256, 10 epochs, ``ToTensor`` scaling without normalisation -- the d2l 0.17
  recipe -- trained by ``dnet_lib.train.fit`` for 3 seeds, mean +- std of the final
  test accuracy. Without CUDA it is recorded as "not measured: no GPU".

    python benchmarks/time_to_accuracy.py           # -> book/results/time_to_accuracy_{cpu,gpu}.json
    python benchmarks/time_to_accuracy.py --smoke   # seconds: both recipes on tiny subsets, temp output
"""
from __future__ import annotations

import math
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import _common  # noqa: E402
from dnet_lib import data, models, runtime  # noqa: E402

CPU_TARGET_ACCURACY = 0.90
CPU_TIME_BUDGET_S = 300.0
DEFAULT_BUDGET_S = 295.0     # stops at the first step boundary after this, so within the 300 s goal


def fashion_densenet(growth_rate: int = 16, block_config=(3, 3, 3), num_init_features: int = 32,
                     num_classes: int = 10) -> nn.Sequential:
    """A small DenseNet for 28x28 grey images: cheap stem, plain dense layers, compression 0.5."""
    layers = [("conv0", nn.Conv2d(1, num_init_features, 3, padding=1, bias=False)),
              ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=True)),
              ("pool0", nn.MaxPool2d(2))]
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        block = models.DenseBlock(num_layers, channels, growth_rate, bottleneck=False)
        layers.append((f"denseblock{i + 1}", block))
        channels = block.out_channels
        if i != len(block_config) - 1:
            layers.append((f"transition{i + 1}", models.Transition(channels, channels // 2)))
            channels //= 2
    layers += [(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels)), ("relu", nn.ReLU(inplace=True)),
               ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("classifier", nn.Linear(channels, num_classes))]
    return nn.Sequential(OrderedDict(layers))


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def evaluate(model, test_iter, device, fast: bool) -> float:
    model.eval()
    correct = total = 0
    for X, y in test_iter:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            correct += (model(X).argmax(1) == y).sum().item()
        total += len(y)
    model.train()
    return correct / total


def one_cycle_lr(fraction: float, max_lr: float, warmup: float = 0.2) -> float:
    """One-cycle shape over the run: linear warm-up from max_lr/25, then cosine down to ~0."""
    fraction = min(max(fraction, 0.0), 1.0)
    if fraction < warmup:
        return max_lr * (0.04 + 0.96 * fraction / warmup)
    return max_lr * 0.5 * (1 + math.cos(math.pi * (fraction - warmup) / (1 - warmup)))


def train(model, train_iter, test_iter, optimizer, epochs: int, device, fast: bool = False,
          scheduler=None, budget_s: float | None = None, max_lr: float | None = None) -> list[dict]:
    """Train for ``epochs`` or, with ``budget_s``, until that many seconds of training have passed.

    With a budget the learning rate follows ``one_cycle_lr`` of the elapsed fraction of the budget,
    so the schedule ends when the time does, whatever the machine's speed. The test accuracy is
    measured after every epoch and when the budget runs out; evaluation is not on the clock.
    """
    model.to(device).train()
    history, train_seconds = [], 0.0
    for epoch in range(epochs):
        _sync(device)
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        seen, out_of_time = 0, False
        for X, y in train_iter:
            if budget_s is not None:
                elapsed = train_seconds + time.perf_counter() - start
                if elapsed >= budget_s:
                    out_of_time = True
                    break
                for group in optimizer.param_groups:
                    group["lr"] = one_cycle_lr(elapsed / budget_s, max_lr)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                loss = F.cross_entropy(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach() * len(y)
            seen += len(y)
        _sync(device)
        train_seconds += time.perf_counter() - start
        eval_start = time.perf_counter()
        accuracy = evaluate(model, test_iter, device, fast)
        history.append({"epoch": epoch + 1, "examples_this_epoch": seen,
                        "complete_epoch": not out_of_time,
                        "train_loss": (loss_sum / max(seen, 1)).item(), "test_accuracy": accuracy,
                        "train_seconds": train_seconds, "eval_seconds": time.perf_counter() - eval_start})
        print(f"    epoch {epoch + 1}{'' if not out_of_time else ' (cut by the time budget)'}: "
              f"loss {history[-1]['train_loss']:.3f}, test acc {accuracy:.4f}, {train_seconds:.1f} s of training")
        if out_of_time:
            break
    return history


def cpu_recipe(device, smoke: bool, budget_s: float, max_epochs: int = 100, seed: int = 0) -> dict:
    """The CPU recipe: train until ``budget_s`` seconds of training are spent, then evaluate."""
    torch.manual_seed(seed)
    batch_size, max_lr, weight_decay = 256, 0.01, 0.05
    subset, test_subset = (256, 128) if smoke else (None, None)
    train_iter, test_iter = data.load_data_fashion_mnist(batch_size, device=device, subset=subset,
                                                         test_subset=test_subset, seed=seed, drop_last=True)
    model = fashion_densenet().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    print(f"\nCPU recipe: fashion_densenet ({sum(p.numel() for p in model.parameters()):,} parameters), "
          f"{budget_s:.0f} s of training, batch {batch_size}, AdamW + time-based one-cycle (max lr {max_lr})")
    history = train(model, train_iter, test_iter, optimizer, max_epochs, device, budget_s=budget_s, max_lr=max_lr)
    reached = next((h for h in history if h["test_accuracy"] >= CPU_TARGET_ACCURACY), None)
    return {
        "model": "fashion_densenet(growth_rate=16, block_config=(3, 3, 3), num_init_features=32)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "recipe": {"time_budget_s": budget_s, "batch_size": batch_size, "optimizer": "AdamW",
                   "max_lr": max_lr, "weight_decay": weight_decay,
                   "schedule": "one-cycle over the elapsed fraction of the time budget (20% linear warm-up, cosine)",
                   "augmentation": "none", "input": "28x28, normalised", "seed": seed,
                   "train_examples": len(train_iter.labels), "test_examples": len(test_iter.labels)},
        "history": history,
        "examples_seen": sum(h["examples_this_epoch"] for h in history),
        "final_test_accuracy": history[-1]["test_accuracy"],
        "total_train_seconds": history[-1]["train_seconds"],
        "seconds_to_target": reached["train_seconds"] if reached else None,
        "target_accuracy": CPU_TARGET_ACCURACY,
    }


def d2l_recipe(device, smoke: bool, seeds=(0, 1, 2)) -> dict:
    """d2l 0.17's recipe for both networks, trained by ``dnet_lib.train.fit``.

    Plain SGD (no momentum, no weight decay, constant learning rate) as d2l trains; ``fit`` turns
    on bf16 autocast, channels_last and torch.compile on CUDA.
    """
    from dnet_lib import train as dtrain
    epochs, size, subset = (1, 32, 64) if smoke else (10, 96, None)
    seeds = seeds[:2] if smoke else seeds
    nets = {"d2l_densenet": (models.d2l_densenet, 0.1), "d2l_resnet18": (models.d2l_resnet18, 0.05)}
    out = {"recipe": {"epochs": epochs, "batch_size": 256, "image_size": size,
                      "optimizer": "SGD, momentum 0, weight decay 0, constant lr",
                      "lr": {name: lr for name, (_, lr) in nets.items()}, "seeds": list(seeds),
                      "trainer": "dnet_lib.train.fit (AMP, channels_last, compile: on for CUDA only)"}}
    for name, (factory, lr) in nets.items():
        runs = []
        for seed in seeds:
            torch.manual_seed(seed)
            train_iter, test_iter = data.load_data_fashion_mnist(256, resize=size, device=device, subset=subset,
                                                                 test_subset=subset, seed=seed, normalize=False)
            print(f"\nd2l recipe: {name}, seed {seed}")
            history = dtrain.fit(factory(), train_iter, test_iter, epochs=epochs, optimizer="sgd", lr=lr,
                                 momentum=0.0, weight_decay=0.0, schedule="none", device=device,
                                 progress=False, seed=seed)
            print(f"    test acc {history.test_acc[-1]:.4f}, {history.wall_time:.1f} s")
            runs.append({"seed": seed, "final_test_accuracy": history.test_acc[-1],
                         "test_accuracy_per_epoch": list(history.test_acc),
                         "train_accuracy_per_epoch": list(history.train_acc),
                         "examples_per_s_per_epoch": list(history.examples_per_s),
                         "wall_seconds_train_and_eval": history.wall_time})
        accs = [r["final_test_accuracy"] for r in runs]
        out[name] = {"runs": runs, "mean_test_accuracy": statistics.mean(accs),
                     "std_test_accuracy": statistics.stdev(accs) if len(accs) > 1 else 0.0}
    return out


def main(argv=None) -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=None,
                   help=f"CPU recipe: seconds of training (default {DEFAULT_BUDGET_S:.0f}, smoke 3)")
    p.add_argument("--skip-cpu", action="store_true", help="do not run the CPU recipe")
    p.add_argument("--skip-d2l", action="store_true", help="do not run the d2l GPU recipe")
    args = p.parse_args(argv)
    device, smoke = _common.setup(args)
    load_before = _common.load_average()
    print(runtime.describe(device))
    budget_s = args.budget_s or (3.0 if smoke else DEFAULT_BUDGET_S)
    if not 0 < budget_s <= 3600:
        raise ValueError(f"--budget-s must be in (0, 3600], got {budget_s}")

    results, notes, goals = {}, [], []
    if args.skip_cpu:
        results["cpu_recipe"] = "not measured: skipped (--skip-cpu)"
        goals.append(_common.goal(f">= {CPU_TARGET_ACCURACY} test accuracy within {CPU_TIME_BUDGET_S:.0f} s "
                                  "of CPU training", None, "", None))
    else:
        # the CPU goal is about the CPU, so this recipe always runs there
        cpu = cpu_recipe(torch.device("cpu"), smoke, budget_s, max_epochs=2 if smoke else 100)
        results["cpu_recipe"] = cpu
        within = cpu["seconds_to_target"] is not None and cpu["seconds_to_target"] <= CPU_TIME_BUDGET_S
        goals.append(_common.goal(
            f">= {CPU_TARGET_ACCURACY} Fashion-MNIST test accuracy within {CPU_TIME_BUDGET_S:.0f} s of training "
            f"(CPU, {torch.get_num_threads()} threads)",
            {"seconds_to_target": cpu["seconds_to_target"],
             "final_test_accuracy": round(cpu["final_test_accuracy"], 4),
             "total_train_seconds": round(cpu["total_train_seconds"], 1)},
            f"accuracy >= {CPU_TARGET_ACCURACY} at <= {CPU_TIME_BUDGET_S:.0f} s", within))
    if args.skip_d2l:
        results["d2l_recipe"] = "not measured: skipped (--skip-d2l)"
    elif device.type == "cuda" or smoke:
        results["d2l_recipe"] = d2l_recipe(device, smoke)
        if smoke and device.type != "cuda":
            notes.append("smoke run: the d2l recipe ran on the CPU on a tiny subset only to exercise the code")
    else:
        results["d2l_recipe"] = "not measured: no GPU"
        notes.append("d2l recipe (d2l_densenet, d2l_resnet18, 96 px, 10 epochs, 3 seeds): not measured: no GPU")
    if smoke:
        notes.append("smoke run: tiny subsets, numbers mean nothing")
    path = _common.record("time_to_accuracy", args, device, smoke, results, goals, notes, load_before)
    print("\nGoals:")
    _common.print_goals(goals)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
