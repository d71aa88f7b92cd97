"""Memory benchmark: what plain vs memory-efficient DenseNets keep for backward, and what it costs.

For each configuration, in one run and on the same batch, every variant's

* bytes saved for backward during one forward (``dnet_lib.memory.saved_activation_bytes``,
  counted with ``saved_tensors_hooks``; works on the CPU) -- deterministic, measured once;
* on CUDA, ``torch.cuda.max_memory_allocated`` over one training step;
* training-step time (forward + backward), as paired ratios against ``ours plain``: every round
  times one step of each variant (rotating order) and the median of the per-round ratios is
  reported with its IQR; rounds continue until each IQR is under 5% of its median (or the limit).

Variants (``dnet_lib.memory.densenet_variants``, all holding the same weights): ours plain, ours
``memory_efficient=True``, torchvision's ``DenseNet`` class plain and with its
``memory_efficient=True``. Configurations: DenseNet-BC (k=12, CIFAR stem) at the given depths,
batch 64, 32x32; DenseNet-121 at 224x224 (batch 8 on the CPU, 32 on a GPU).

Goals (issue 11): memory-efficient BC-100 saves <= 0.35 of plain's bytes at <= 1.15x its step time,
DenseNet-121 <= 0.45 at <= 1.3x; our plain DenseNet-121 step >= 1.0x torchvision's speed.

    python benchmarks/memory.py            # CPU ~6 min -> book/results/memory_cpu.json
    python benchmarks/memory.py --smoke    # seconds, tiny models, temporary output
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import _common  # noqa: E402
from dnet_lib import memory as mem  # noqa: E402
from dnet_lib import runtime  # noqa: E402
from dnet_lib.units import format_bytes  # noqa: E402

PLAIN = "ours plain"
GOALS = {"densenet_bc": (0.35, 1.15), "densenet121": (0.45, 1.3)}   # saved ratio, time ratio


def measure(title: str, variants: dict, batch: int, size: int, num_classes: int, device, *,
            warmup: int, min_rounds: int, max_rounds: int, max_seconds: float) -> dict:
    """Saved bytes, CUDA peak and paired step-time ratios of ``variants`` on one batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, num_classes, (batch,), generator=g).to(device)
    variants = {name: m.to(device) for name, m in variants.items()}
    print(f"\n{title}: batch {batch}, {size}x{size} px", flush=True)
    rows = mem.compare_memory(variants, x, y, time_steps=False)
    for model in variants.values():
        for _ in range(warmup):
            mem.train_step(model, x, y)
    others = [name for name in variants if name != PLAIN]
    times = _common.interleaved_rounds(
        {name: (lambda m=m: mem.train_step(m, x, y)) for name, m in variants.items()},
        [(name, PLAIN) for name in others], min_rounds=min_rounds, max_rounds=max_rounds,
        max_seconds=max_seconds)
    ratios = {name: _common.paired_ratio(times[name], times[PLAIN]) for name in others}
    print(f"  {'variant':<36} {'saved for backward':>18} {'/ plain':>8} {'CUDA peak':>10}  step time / plain")
    out_rows = []
    for r in rows:
        ratio = ratios.get(r.name)
        print(f"  {r.name:<36} {format_bytes(r.saved_bytes):>18} {r.saved_ratio:8.3f} "
              f"{format_bytes(r.cuda_peak_bytes) if r.cuda_peak_bytes else '-':>10}  "
              f"{_common.format_ratio(ratio) if ratio else '1 (baseline)'}")
        out_rows.append({"name": r.name, "saved_bytes": r.saved_bytes, "saved_tensors": r.saved_tensors,
                         "saved_ratio": r.saved_ratio, "cuda_peak_bytes": r.cuda_peak_bytes,
                         "step_seconds": statistics.median(times[r.name]),
                         "time_ratio": ratio["median"] if ratio else 1.0,
                         "step_seconds_per_round": times[r.name], "step_time_ratio_to_plain": ratio})
    return {"title": title, "batch_size": batch, "image_size": size, "num_classes": num_classes,
            "rows": out_rows}


def settings(device: torch.device, smoke: bool) -> dict:
    if smoke:
        return dict(bc_batch=2, bc_size=16, d121_batch=1, d121_size=64, warmup=0, min_rounds=2,
                    max_rounds=2, max_seconds=1)
    if device.type == "cuda":
        return dict(bc_batch=64, bc_size=32, d121_batch=32, d121_size=224, warmup=3, min_rounds=5,
                    max_rounds=20, max_seconds=10)
    return dict(bc_batch=64, bc_size=32, d121_batch=8, d121_size=224, warmup=1, min_rounds=6,
                max_rounds=20, max_seconds=120)


def run(device: torch.device, smoke: bool, depths=(100,), max_seconds: float | None = None
        ) -> tuple[dict, list, list]:
    """Measure every configuration; returns (results, goals, notes) for the JSON record.

    ``max_seconds``: cap on the timing rounds of each configuration.
    """
    s = settings(device, smoke)
    s["max_seconds"] = max_seconds or s["max_seconds"]
    timing = {k: s[k] for k in ("warmup", "min_rounds", "max_rounds", "max_seconds")}
    depths = (40,) if smoke else tuple(depths)
    results = {}
    for depth in depths:
        results[f"densenet_bc_{depth}"] = measure(
            f"DenseNet-BC-{depth} (k=12)",
            mem.densenet_variants("densenet_bc", depth=depth, fast_cpu=True),
            s["bc_batch"], s["bc_size"], 10, device, **timing)
    results["densenet121"] = measure("DenseNet-121",
                                     mem.densenet_variants("densenet121", fast_cpu=True),
                                     s["d121_batch"], s["d121_size"], 1000, device, **timing)
    goals = []
    bc_depth = 100 if 100 in depths else depths[0]
    for key, config, label in [("densenet_bc", results[f"densenet_bc_{bc_depth}"],
                                f"DenseNet-BC-{bc_depth}"),
                               ("densenet121", results["densenet121"], "DenseNet-121")]:
        rows = {r["name"]: r for r in config["rows"]}
        ours = rows["ours memory_efficient"]
        max_saved, max_time = GOALS[key]
        goals.append(_common.goal(f"memory-efficient {label} saved bytes / plain",
                                  round(ours["saved_ratio"], 4), f"<= {max_saved}",
                                  ours["saved_ratio"] <= max_saved))
        ratio = ours["step_time_ratio_to_plain"]
        goals.append(_common.ratio_goal(f"memory-efficient {label} step time / plain "
                                        f"({device.type}, batch {config['batch_size']})", ratio,
                                        f"<= {max_time}", ratio["median"] <= max_time))
    # torchvision's step time / ours, per round: how much faster our plain step is
    speed = {r["name"]: r for r in results["densenet121"]["rows"]}["torchvision plain"][
        "step_time_ratio_to_plain"]
    goals.append(_common.ratio_goal("our plain DenseNet-121 training speed / torchvision's "
                                    "(torchvision step time / ours)", speed, ">= 1.0",
                                    speed["median"] >= 1.0))
    notes = ["saved bytes: distinct storages saved for backward during one training-mode forward, "
             "parameters and buffers excluded (dnet_lib.memory.saved_activation_bytes)",
             "step time: forward + backward (cross-entropy, no optimizer step); ratios are medians of "
             "per-round ratios against ours plain (paired, interleaved rounds) with their IQR",
             "cuda_peak_bytes: torch.cuda.max_memory_allocated over one step (weights, gradients and "
             "activations); null off CUDA"]
    return results, goals, notes


def main(argv=None) -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--depths", type=int, nargs="+", default=[100], help="DenseNet-BC depths (6n+4)")
    args = p.parse_args(argv)
    device, smoke = _common.setup(args, "memory")
    load_before = _common.load_average()
    print(runtime.describe(device))
    results, goals, notes = run(device, smoke, depths=args.depths)
    _common.finish("memory", args, device, smoke, results, goals, notes, load_before)


if __name__ == "__main__":
    main()
