"""Hardware efficiency: the training FLOP/s a contender achieves over the matmul peak of the CPU.

* ``matmul_peak``: the best FLOP/s of a square matrix product (fp32 and bf16), timed with
  ``torch.utils.benchmark`` on the threads the run uses. It is measured at the start of a run,
  so the peak and the training it is compared with share the machine, its load and its threads.
* ``training_flops_per_image``: the FLOPs of one training step (forward, loss and backward)
  per image, counted by ``torch.utils.flop_counter.FlopCounterMode``. It counts matrix
  products and convolutions only (BatchNorm, ReLU, concatenation and pooling are free there),
  which is what the matmul peak bounds.
* ``efficiency``: achieved FLOP/s = FLOPs per image x images trained / training seconds (data
  handling included, evaluation excluded), as a fraction of the fp32 peak and of the peak of the
  precision the convolutions ran in (bf16 under autocast, else fp32).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

PEAK_SIZES = (512, 1024, 2048)       # the best of these squares: small ones miss the peak
PEAK_DTYPES = ("float32", "bfloat16")
GOAL_RATIO = 2.0                     # ours >= 2x d2l's code's efficiency


def matmul_peak(dtype: str = "float32", sizes=PEAK_SIZES, min_run_time: float = 1.0) -> dict:
    """Best FLOP/s of ``a @ b`` (n x n) over ``sizes``, on ``torch.get_num_threads()`` threads."""
    if dtype not in PEAK_DTYPES:
        raise ValueError(f"dtype must be one of {PEAK_DTYPES}, got {dtype!r}")
    threads = torch.get_num_threads()
    per_size = {}
    for n in sizes:
        a = torch.randn(n, n).to(getattr(torch, dtype))
        b = torch.randn(n, n).to(getattr(torch, dtype))
        timer = benchmark.Timer("a @ b", globals={"a": a, "b": b}, num_threads=threads)
        seconds = timer.blocked_autorange(min_run_time=min_run_time).median
        per_size[str(n)] = 2 * n**3 / seconds
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


def efficiency(name: str, flops_per_image: float, images: int, seconds: float, amp: bool,
               peaks: dict) -> dict:
    """One row: achieved training FLOP/s and its fraction of the matmul peaks."""
    achieved = flops_per_image * images / seconds
    precision = "bfloat16" if amp else "float32"
    return {"name": name, "training_flops_per_image": flops_per_image, "images": images,
            "train_seconds": seconds, "achieved_flops_per_s": achieved, "precision": precision,
            "of_fp32_peak": achieved / peaks["float32"]["flops_per_s"],
            "of_own_precision_peak": achieved / peaks[precision]["flops_per_s"]}


def efficiency_goal(ours: dict, d2l: dict, goal) -> dict:
    """Ours' efficiency (of its own precision's peak) over d2l's code's, >= ``GOAL_RATIO``."""
    ratio = ours["of_own_precision_peak"] / d2l["of_own_precision_peak"]
    return goal(f"ours DenseNet's hardware efficiency (training FLOP/s over the matmul peak of "
                f"the precision it computes in) >= {GOAL_RATIO:.0f}x d2l's code's",
                {"ratio": round(ratio, 3), "ours": round(ours["of_own_precision_peak"], 4),
                 "d2l": round(d2l["of_own_precision_peak"], 4),
                 "ours_of_fp32_peak": round(ours["of_fp32_peak"], 4),
                 "d2l_of_fp32_peak": round(d2l["of_fp32_peak"], 4)},
                f">= {GOAL_RATIO:.0f}x", ratio >= GOAL_RATIO)


def describe(row: dict) -> str:
    return (f"  {row['name'][:34]:<34} {row['achieved_flops_per_s'] / 1e9:7.2f} GFLOP/s  "
            f"{row['of_fp32_peak']:6.1%} of fp32 peak  {row['of_own_precision_peak']:6.1%} of "
            f"{row['precision']} peak")
