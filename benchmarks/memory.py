"""Memory benchmark: what plain vs memory-efficient DenseNets keep for backward, and what it costs.

For each configuration, in one run and on the same batch, the script measures every variant's

* bytes saved for backward during one forward (``dnet_lib.memory.saved_activation_bytes``,
  counted with ``saved_tensors_hooks``; works on the CPU),
* median training-step time (forward + backward), timed in interleaved rounds,
* on CUDA, ``torch.cuda.max_memory_allocated`` over one step.

Configurations (all variants of one configuration hold the same weights):

* DenseNet-BC-100 (k=12, CIFAR 3x3 stem, 10 classes), batch 64, 32x32 px: ours plain, ours
  ``memory_efficient=True`` (recompute everything up to the 3x3 conv's input), and torchvision's
  real ``DenseNet`` class built with the same blocks and its CIFAR stem swapped in
  (``dnet_lib.memory.torchvision_densenet_cifar``), plain and with torchvision's
  ``memory_efficient=True`` (recompute only the concatenation + BN-ReLU-1x1 bottleneck).
* DenseNet-121 (ImageNet stem, 1000 classes), 224x224 px, batch 8 on the CPU (32 on a GPU): ours and
  ``torchvision.models.densenet121``, plain and memory-efficient.

Goals: memory-efficient DenseNet-BC-100 saves <= 45% of plain's bytes at <= 1.2x its step time and
saves less than torchvision's flag; our DenseNet-121 trains at >= 1.0x torchvision's speed.

    python benchmarks/memory.py            # full run -> book/results/memory_{cpu,gpu}.json
    python benchmarks/memory.py --smoke    # seconds, tiny models, temporary output
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import _common  # noqa: E402
from dnet_lib import memory as mem  # noqa: E402
from dnet_lib import runtime  # noqa: E402


def run_config(title: str, variants: dict, batch: int, size: int, num_classes: int, device, repeats: int,
               warmup: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, num_classes, (batch,), generator=g).to(device)
    variants = {name: m.to(device) for name, m in variants.items()}
    print(f"\n{title}: batch {batch}, {size}x{size} px, {repeats} timed steps per model after {warmup} warm-up")
    rows = mem.compare_memory(variants, x, y, repeats=repeats, warmup=warmup)
    print(f"  {'model':<36} {'saved for backward':>18} {'ratio':>6} {'step s':>8} {'ratio':>6} {'CUDA peak':>10}")
    for r in rows:
        print(f"  {r.name:<36} {mem.format_bytes(r.saved_bytes):>18} {r.saved_ratio:6.3f} "
              f"{r.step_seconds:8.3f} {r.time_ratio:6.3f} {mem.format_bytes(r.cuda_peak_bytes):>10}")
    return {"title": title, "batch_size": batch, "image_size": size, "num_classes": num_classes,
            "timed_steps": repeats, "warmup_steps": warmup,
            "rows": [r.as_dict() for r in rows]}


def main(argv=None) -> None:
    args = _common.parser(__doc__.splitlines()[0]).parse_args(argv)
    device, smoke = _common.setup(args)
    load_before = _common.load_average()
    print(runtime.describe(device))
    gpu = device.type == "cuda"
    if smoke:
        # same code path on tiny inputs: BC-40 at 16 px, DenseNet-121 at 64 px
        bc_depth, bc_batch, bc_size = 40, 2, 16
        d121_batch, d121_size = 1, 64
        repeats, warmup = 1, 0
    else:
        bc_depth, bc_batch, bc_size = 100, 64, 32
        d121_batch, d121_size = (32 if gpu else 8), 224
        repeats, warmup = (10, 3) if gpu else (6, 1)

    results = {}
    bc = run_config(f"DenseNet-BC-{bc_depth} (k=12)", mem.densenet_variants("densenet_bc", depth=bc_depth),
                    bc_batch, bc_size, 10, device, repeats, warmup)
    results["densenet_bc"] = bc
    d121 = run_config("DenseNet-121", mem.densenet_variants("densenet121"), d121_batch, d121_size, 1000,
                      device, repeats, warmup)
    results["densenet121"] = d121

    rows = {r["name"]: r for r in bc["rows"]}
    plain, ours, tv_flag = rows["ours plain"], rows["ours memory_efficient"], rows["torchvision class memory_efficient"]
    rows121 = {r["name"]: r for r in d121["rows"]}
    speed121 = rows121["torchvision plain"]["step_seconds"] / rows121["ours plain"]["step_seconds"]
    goals = [
        _common.goal(f"memory-efficient DenseNet-BC-{bc_depth} saved bytes / plain", round(ours["saved_ratio"], 4),
                     "<= 0.45", ours["saved_ratio"] <= 0.45),
        _common.goal(f"memory-efficient DenseNet-BC-{bc_depth} step time / plain", round(ours["time_ratio"], 3),
                     "<= 1.2", ours["time_ratio"] <= 1.2),
        _common.goal(f"ours memory-efficient saves less than torchvision's flag (DenseNet-BC-{bc_depth}), "
                     "ours / torchvision", round(ours["saved_bytes"] / tv_flag["saved_bytes"], 4),
                     "< 1", ours["saved_bytes"] < tv_flag["saved_bytes"]),
        _common.goal(f"our DenseNet-121 training speed / torchvision's ({device.type}, batch {d121_batch})",
                     round(speed121, 3), ">= 1.0", speed121 >= 1.0),
    ]
    notes = [
        "saved bytes: distinct storages saved for backward during one training-mode forward, "
        "parameters and buffers excluded (dnet_lib.memory.saved_activation_bytes)",
        "step time: median of interleaved forward+backward steps (cross-entropy, no optimizer step)",
        f"torchvision BC-{bc_depth}: torchvision.models.DenseNet(growth_rate=12, block_config=(n, n, n), "
        "num_init_features=24, bn_size=4) with features.conv0 replaced by a 3x3 conv and "
        "norm0/relu0/pool0 by nn.Identity and its final norm5 renamed norm4 "
        "(dnet_lib.memory.torchvision_densenet_cifar); loads our weights with strict=True",
        "cuda_peak_bytes is null off CUDA",
    ]
    if not gpu:
        notes.append("GPU figures: not yet measured (no GPU for this run)")
    if smoke:
        notes.append("smoke run: tiny sizes, numbers mean nothing")
    path = _common.record("memory", args, device, smoke, results, goals, notes, load_before)
    print("\nGoals:")
    _common.print_goals(goals)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
