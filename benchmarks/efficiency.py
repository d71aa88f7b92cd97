"""Hardware efficiency: the training FLOP/s a contender achieves over the matmul peak of the CPU.

* ``matmul_peak``: the best FLOP/s of a square matrix product (fp32 and bf16), timed with
  ``torch.utils.benchmark`` on the threads the run uses. It is measured at the start of a run,
  so the peak and the training it is compared with share the machine, its load and its threads.
* ``training_flops_per_image``: the FLOPs of one training step (forward, loss and backward)
  per image, counted by ``torch.utils.flop_counter.FlopCounterMode``. It counts matrix
  products and convolutions only (BatchNorm, ReLU, concatenation and pooling are free there),
  which is what the matmul peak bounds.
* ``efficiency``: achieved FLOP/s = FLOPs per image x images trained / training seconds (data
  handling included, evaluation excluded), as a fraction of the fp32 peak, of the bf16 peak and
  of the machine's peak (the larger of the two: the best this CPU does in either precision).
  The goal compares fractions of the machine's peak, one denominator for every contender, so
  their ratio is the ratio of achieved FLOP/s; a CPU without bf16 units (bf16 matmul far below
  fp32) cannot flatter a bf16 contender, nor one with AMX an fp32 contender.
"""
from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

MAX_CALL_S = 0.5                     # larger squares are skipped once one product takes this long

PEAK_SIZES = (512, 1024, 2048)       # the best of these squares: small ones miss the peak
PEAK_DTYPES = ("float32", "bfloat16")
GOAL_RATIO = 2.0                     # ours >= 2x d2l's code's efficiency


def matmul_peak(dtype: str = "float32", sizes=PEAK_SIZES, min_run_time: float = 1.0) -> dict:
    """Best FLOP/s of ``a @ b`` (n x n) over ``sizes`` (ascending), on ``torch.get_num_threads()``
    threads. Sizes after one whose single product took over ``MAX_CALL_S`` are skipped (a CPU
    without bf16 units takes seconds per bf16 product of n = 1024)."""
    if dtype not in PEAK_DTYPES:
        raise ValueError(f"dtype must be one of {PEAK_DTYPES}, got {dtype!r}")
    threads = torch.get_num_threads()
    per_size = {}
    for n in sorted(sizes):
        a = torch.randn(n, n).to(getattr(torch, dtype))
        b = torch.randn(n, n).to(getattr(torch, dtype))
        start = time.perf_counter()
        a @ b                                                       # warm-up, and its duration
        once = time.perf_counter() - start
        timer = benchmark.Timer("a @ b", globals={"a": a, "b": b}, num_threads=threads)
        seconds = timer.blocked_autorange(min_run_time=min_run_time).median
        per_size[str(n)] = 2 * n**3 / seconds
        if once > MAX_CALL_S:
            break
    best = max(per_size, key=per_size.get)
    return {"dtype": dtype, "flops_per_s": per_size[best], "size": int(best),
            "per_size_flops_per_s": per_size, "threads": threads}


def peak_probe(smoke: bool = False) -> dict:
    """The fp32 and bf16 matmul peaks, keyed by dtype name (tiny and quick in smoke mode)."""
    sizes, run_time = ((128, 256), 0.05) if smoke else (PEAK_SIZES, 1.0)
    return {dtype: matmul_peak(dtype, sizes, run_time) for dtype in PEAK_DTYPES}


def training_flops_per_image(model: nn.Module, image_shape: tuple[int, ...], *, amp: bool = False,
                             channels_last: bool = False, batch_size: int = 8) -> float:
    """FLOPs of one training step (forward, cross-entropy, backward) per image, counted on a
    copy of ``model`` in training mode (its weights and running statistics stay untouched)."""
    probe = copy.deepcopy(model).train()
    x = torch.randn(batch_size, *image_shape)
    y = torch.randint(0, 2, (batch_size,))
    if channels_last:
        probe, x = probe.to(memory_format=torch.channels_last), x.to(
            memory_format=torch.channels_last)
    counter = FlopCounterMode(display=False)
    with counter:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(probe(x), y)
        loss.backward()
    return counter.get_total_flops() / batch_size


def machine_peak(peaks: dict) -> float:
    """The best FLOP/s this CPU reached in any probed precision."""
    return max(peak["flops_per_s"] for peak in peaks.values())


def efficiency(name: str, flops_per_image: float, images: int, seconds: float, amp: bool,
               peaks: dict) -> dict:
    """One row: achieved training FLOP/s and its fraction of the matmul peaks (None when the
    contender trained no image, e.g. its time ran out while its first batch was loading)."""
    achieved = flops_per_image * images / seconds if images and seconds else None

    def fraction(peak: float):
        return None if achieved is None else achieved / peak

    return {"name": name, "training_flops_per_image": flops_per_image, "images": images,
            "train_seconds": seconds, "achieved_flops_per_s": achieved,
            "precision": "bfloat16 autocast" if amp else "float32",
            "of_fp32_peak": fraction(peaks["float32"]["flops_per_s"]),
            "of_bf16_peak": fraction(peaks["bfloat16"]["flops_per_s"]),
            "of_machine_peak": fraction(machine_peak(peaks))}


def efficiency_goal(ours: dict, d2l: dict, goal) -> dict:
    """Ours' efficiency (of the machine's peak) over d2l's code's, >= ``GOAL_RATIO``."""
    description = (f"ours DenseNet's hardware efficiency (training FLOP/s over the machine's "
                   f"matmul peak) >= {GOAL_RATIO:.0f}x d2l's code's")
    if not (ours["of_machine_peak"] and d2l["of_machine_peak"]):
        missing = [r["name"] for r in (ours, d2l) if not r["of_machine_peak"]]
        return goal(description, f"not measured: no training step of {', '.join(missing)}",
                    f">= {GOAL_RATIO:.0f}x", None)
    ratio = ours["of_machine_peak"] / d2l["of_machine_peak"]
    return goal(description,
                {"ratio": round(ratio, 3), "ours": round(ours["of_machine_peak"], 4),
                 "d2l": round(d2l["of_machine_peak"], 4)},
                f">= {GOAL_RATIO:.0f}x", ratio >= GOAL_RATIO)


def describe(row: dict) -> str:
    if row["achieved_flops_per_s"] is None:
        return f"  {row['name'][:34]:<34} not measured: it trained no image"
    return (f"  {row['name'][:34]:<34} {row['achieved_flops_per_s'] / 1e9:7.2f} GFLOP/s "
            f"({row['precision']}): {row['of_machine_peak']:6.1%} of the machine's peak, "
            f"{row['of_fp32_peak']:6.1%} of fp32's, {row['of_bf16_peak']:6.1%} of bf16's")
