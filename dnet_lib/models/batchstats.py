"""BatchNorm over a concatenation, each map's batch statistics computed once per step.

In a dense block, layer l normalises ``cat(x_0, ..., x_{l-1})`` in training mode: for every
channel it computes the batch mean and variance, then applies them. A map's channels have the
same statistics whichever later layer reads them, yet each layer recomputes them for all of its
input: work that grows with the square of the depth. ``batch_norm_concat`` computes them once per
map (``map_stats``, kept on the map for the layers after) and each layer only *applies* them.
Its backward is BatchNorm's own training-mode backward (``native_batch_norm_backward`` with the
batch statistics), so values, gradients and running statistics are those of ``nn.BatchNorm2d``.

Used on the CPU only, where applying given statistics is several times cheaper than computing
them inside BatchNorm; on GPUs, cuDNN's fused BatchNorm is used as usual.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["applies", "map_stats", "concat_stats", "apply_stats", "batch_norm_concat"]

aten = torch.ops.aten
_CACHE = "_dnet_batch_stats"        # attribute on a feature map: ((eps, version), mean, invstd)


def applies(norm: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """True when ``batch_norm_concat`` computes what ``norm`` would, on the CPU, in training."""
    # _compiling() first: under torch.compile the plain BatchNorm is traced and fused instead
    return (norm.training and norm.track_running_stats and norm.affine
            and norm.momentum is not None and x.device.type == "cpu"
            and torch.is_grad_enabled() and not _compiling() and not _autocast_on())


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:                       # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def _compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and getattr(compiler, "is_compiling", lambda: False)())


def map_stats(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel batch mean and 1/sqrt(biased variance + eps) of ``x``, computed once."""
    key = (eps, x._version)                 # an in-place change to x bumps its version
    cached = getattr(x, _CACHE, None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    with torch.no_grad():
        # one pass of sums (much faster on a CPU than BatchNorm's own statistics kernel),
        # combined in float64 so that E[x^2] - E[x]^2 loses nothing to the subtraction
        flat = x.detach().flatten(2)
        count = flat.shape[0] * flat.shape[2]
        mean = flat.sum((0, 2)).double() / count
        variance = (flat.square().sum((0, 2)).double() / count - mean.square()).clamp_(min=0)
        mean, invstd = mean.to(x.dtype), (variance + eps).rsqrt().to(x.dtype)
    setattr(x, _CACHE, (key, mean, invstd))
    return mean, invstd


def concat_stats(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch mean and 1/std of ``cat(features, 1)`` from each map's cached statistics; updates
    ``norm``'s running statistics as ``nn.BatchNorm2d`` would in training."""
    stats = [map_stats(f, norm.eps) for f in features]
    mean = torch.cat([m for m, _ in stats])
    invstd = torch.cat([s for _, s in stats])
    with torch.no_grad():
        norm.num_batches_tracked.add_(1)
        count = features[0].numel() // features[0].shape[1]
        variance = invstd.pow(-2) - norm.eps
        norm.running_mean.lerp_(mean, norm.momentum)
        norm.running_var.lerp_(variance * (count / max(count - 1, 1)), norm.momentum)
    return mean, invstd


def apply_stats(x: torch.Tensor, mean: torch.Tensor, invstd: torch.Tensor, weight, bias,
                eps: float) -> torch.Tensor:
    """(x - mean) * invstd * weight + bias per channel: BatchNorm's fast inference kernel."""
    return F.batch_norm(x, mean, invstd.pow(-2) - eps, weight, bias, False, 0.0, eps)


def batch_norm_concat(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d) -> torch.Tensor:
    """``norm(torch.cat(features, 1))`` in training mode, from each map's cached statistics."""
    x = features[0] if len(features) == 1 else torch.cat(features, 1)
    mean, invstd = concat_stats(features, norm)
    return _AppliedBatchNorm.apply(x, norm.weight, norm.bias, mean, invstd, norm.eps)


class _AppliedBatchNorm(torch.autograd.Function):
    """Forward: apply given batch statistics. Backward: BatchNorm's training-mode gradient,
    which accounts for the statistics depending on ``x``."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, eps):
        ctx.eps = eps
        ctx.save_for_backward(x, weight, mean, invstd)
        return apply_stats(x, mean, invstd, weight, bias, eps)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, invstd = ctx.saved_tensors
        grad_x, grad_weight, grad_bias = aten.native_batch_norm_backward(
            grad_out, x, weight, None, None, mean, invstd, True, ctx.eps,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]])
        return grad_x, grad_weight, grad_bias, None, None, None
