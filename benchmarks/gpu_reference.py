"""GPU reference run: every GPU figure the book needs, on one GPU, in one command.

    python benchmarks/gpu_reference.py            # one CUDA GPU, ~7 min (estimate below)
    python benchmarks/gpu_reference.py --smoke    # CPU or GPU, about a minute, temporary output
    python benchmarks/gpu_reference.py --estimate # print the FLOP-based time estimate, run nothing

Parts (``--parts`` picks some), each written to its own record in ``book/results/``:

1. ``d2l_recipe_gpu.json``: d2l's recipe head to head -- ``d2l_densenet`` and ``d2l_resnet18``,
   96x96 px, batch 256, 10 epochs, SGD lr 0.1 (no momentum, no weight decay, constant rate),
   3 seeds each, trained by ``dnet_lib.train.fit`` (bf16 autocast, channels_last, torch.compile);
   and the same two networks trained by d2l's own code for one epoch (its model code, its
   ``load_data_fashion_mnist`` with 4 workers and its ``train_ch6`` loop; needs
   ``pip install --no-deps d2l==1.0.3``, else those rows say "not measured").
2. ``throughput_gpu.json``: ``benchmarks/throughput.py``'s contenders -- ours against d2l's
   pipeline with bf16 autocast, channels_last and torch.compile one at a time and together,
   and our DenseNet class against torchvision's.
3. ``memory_gpu.json``: ``benchmarks/memory.py`` -- ``torch.cuda.max_memory_allocated`` and
   paired step-time ratios of plain vs our memory-efficient vs torchvision's memory_efficient
   DenseNet-BC (k=12) at depths 40, 100, 190, 250 (batch 64, 32 px), and DenseNet-121 (224 px,
   batch 32).

Fashion-MNIST is read from ``DNET_DATA_DIR`` (or ``../shared/data``): a GPU machine may have no
internet. Each record names the device, date, command and versions.

GPU time estimate (``--estimate``; forward FLOPs measured with ``dnet_lib.arith.count_flops``,
i.e. ``torch.utils.flop_counter``, at batch 1, times 3 for forward + backward, times the images
each part processes), at an assumed 50 TFLOP/s effective -- small convolutions at 96 px reach a
few percent of an H100's bf16 peak, because BatchNorm, ReLU and concatenation are memory-bound:

    part                        images (train/eval)   PFLOP   compute s   fixed s   total s
    d2l recipe, fit, 6 runs     3.6M / 0.6M            5.1      102        120       222
    d2l's own code, 1 epoch x2  120k / 20k             0.17       3         40        43
    throughput                  rounds, capped 60 s      -        -        130       130
    memory, 5 configurations    rounds, capped 10 s      -        -         70        70
    total                                                                            ~7.8 min

"fixed s" is what FLOPs do not predict: torch.compile (assumed ~30 s per new graph: train and
eval graphs of each network in the recipe, two compiled throughput rows; later seeds reuse
them), d2l's PIL + DataLoader pipeline (assumed ~4,000 images/s with its 4 workers), and the
caps on the paired timing rounds. The estimate is thin on margin: if a run overshoots 8 minutes,
lower ``--throughput-seconds`` / ``--memory-seconds``, or run ``--parts`` separately.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import _common  # noqa: E402
import d2l_reference  # noqa: E402
import memory  # noqa: E402
import throughput  # noqa: E402
from dnet_lib import data, models, runtime, train  # noqa: E402
from dnet_lib.arith import count_flops  # noqa: E402

PARTS = ("recipe", "throughput", "memory")
NETWORKS = {"d2l_densenet": (models.d2l_densenet, d2l_reference.d2l_densenet_reference),
            "d2l_resnet18": (models.d2l_resnet18, d2l_reference.d2l_resnet18_reference)}
RECIPE = {"epochs": 10, "batch_size": 256, "image_size": 96, "lr": 0.1, "seeds": (0, 1, 2)}
MEMORY_DEPTHS = (40, 100, 190, 250)
ASSUMED_TFLOPS = 50.0


def recipe_runs(device: torch.device, smoke: bool) -> dict:
    """d2l's recipe for both networks: ours (fit) for every seed, d2l's own code for one epoch."""
    epochs, size, subset = (1, 32, 128) if smoke else (RECIPE["epochs"], RECIPE["image_size"], None)
    seeds = RECIPE["seeds"][:2] if smoke else RECIPE["seeds"]
    out = {"recipe": {**RECIPE, "epochs": epochs, "image_size": size, "seeds": list(seeds),
                      "optimizer": "SGD, momentum 0, weight decay 0, constant lr",
                      "trainer": "dnet_lib.train.fit (bf16 autocast, channels_last, compile on CUDA)"}}
    for name, (factory, reference) in NETWORKS.items():
        runs = []
        for seed in seeds:
            train_iter, test_iter = data.load_data_fashion_mnist(
                RECIPE["batch_size"], resize=size, device=device, subset=subset, test_subset=subset,
                seed=seed, normalize=False)
            torch.manual_seed(seed)
            history = train.fit(factory(), train_iter, test_iter, epochs=epochs, lr=RECIPE["lr"],
                                momentum=0.0, weight_decay=0.0, schedule="none", device=device,
                                progress=False, seed=seed)
            print(f"  {name} seed {seed}: test acc {history.final_test_acc:.4f}, "
                  f"{history.wall_time:.1f} s", flush=True)
            runs.append({"seed": seed, "history": history.to_dict()})
        accs = [r["history"]["test_acc"][-1] for r in runs]
        out[name] = {"runs": runs, "mean_test_accuracy": statistics.mean(accs),
                     "std_test_accuracy": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                     "d2l_code": d2l_code_run(reference, device, smoke, size)}
    return out


def d2l_code_run(reference, device: torch.device, smoke: bool, size: int) -> dict | str:
    """One epoch of the same network with d2l's model code, data pipeline and loop."""
    if not d2l_reference.available():
        return "not measured: d2l is not installed (pip install --no-deps d2l==1.0.3)"
    train_iter, test_iter = d2l_reference.d2l_loaders(RECIPE["batch_size"], resize=size,
                                                      workers=0 if smoke else None)
    if smoke:
        test_iter = [next(iter(test_iter))]
    torch.manual_seed(0)
    run = d2l_reference.train_d2l(reference(image_size=size), train_iter, test_iter, RECIPE["lr"],
                                  device, epochs=1, max_batches=2 if smoke else None)
    epoch = run["epochs"][0]
    return {**run, "examples_per_s": epoch["examples"] / epoch["train_seconds"]}


def estimate() -> list[dict]:
    """Forward FLOPs (measured) and the compute seconds they imply at ``ASSUMED_TFLOPS``."""
    rows = []
    train_images = 60_000 * RECIPE["epochs"] * len(RECIPE["seeds"])
    eval_images = 10_000 * RECIPE["epochs"] * len(RECIPE["seeds"])
    for name, (factory, _) in NETWORKS.items():
        flops = count_flops(factory(), (1, 1, RECIPE["image_size"], RECIPE["image_size"]))
        total = flops * (3 * train_images + eval_images)
        rows.append({"part": f"d2l recipe {name}", "forward_gflop_per_image": flops / 1e9,
                     "pflop": total / 1e15, "compute_s": total / (ASSUMED_TFLOPS * 1e12)})
    return rows


def write(name: str, args: argparse.Namespace, device, smoke: bool, results, goals, notes,
          load_before) -> Path:
    """One record per part; ``--out`` is a folder here."""
    part_args = argparse.Namespace(**vars(args))
    part_args.out = str(Path(args.out) / f"{name}_{'smoke' if smoke else 'gpu'}.json") if args.out else None
    return _common.finish(name, part_args, device, smoke, results, goals, notes, load_before)


def main(argv=None) -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--estimate", action="store_true", help="print the time estimate and exit")
    p.add_argument("--throughput-seconds", type=float, default=None,
                   help="cap on throughput's timing rounds (default 60 on a GPU)")
    p.add_argument("--memory-seconds", type=float, default=None,
                   help="cap on each memory configuration's timing rounds (default 10 on a GPU)")
    args = p.parse_args(argv)
    if args.estimate:
        for row in estimate():
            print(f"{row['part']}: {row['forward_gflop_per_image']:.3f} GFLOP forward per image, "
                  f"{row['pflop']:.2f} PFLOP, {row['compute_s']:.0f} s at {ASSUMED_TFLOPS:.0f} TFLOP/s")
        return
    device, smoke = _common.setup(args)
    if device.type != "cuda" and not smoke:
        raise SystemExit("gpu_reference.py measures a CUDA GPU; without one, run it with --smoke")
    print(runtime.describe(device))
    started = time.perf_counter()
    if "recipe" in args.parts:
        load_before = _common.load_average()
        print("\n== d2l recipe: ours (fit) x 3 seeds, d2l's code x 1 epoch", flush=True)
        results = recipe_runs(device, smoke)
        goals = [_common.goal(f"{name} mean test accuracy after {results['recipe']['epochs']} epochs "
                              "(d2l recipe, 3 seeds), reported", round(results[name]["mean_test_accuracy"], 4),
                              "reported", None) for name in NETWORKS]
        notes = ["ours: dnet_lib.train.fit; d2l_code: d2l's model code, d2l.load_data_fashion_mnist "
                 "(4 workers) and train_ch6's loop for one epoch, fp32"]
        write("d2l_recipe", args, device, smoke, results, goals, notes, load_before)
    for name, module, kwargs in [
            ("throughput", throughput, {"max_seconds": args.throughput_seconds}),  # compile on CUDA
            ("memory", memory, {"depths": MEMORY_DEPTHS, "max_seconds": args.memory_seconds})]:
        if name in args.parts:
            load_before = _common.load_average()
            print(f"\n== {name}", flush=True)
            results, goals, notes = module.run(device, smoke, **kwargs)
            write(name, args, device, smoke, results, goals, notes, load_before)
    print(f"\ngpu_reference: {time.perf_counter() - started:.0f} s in total")


if __name__ == "__main__":
    main()
