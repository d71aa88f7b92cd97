"""The opt-in fast paths of a dense layer: same values, gradients and running statistics.

``memory_efficient``: store only the earlier maps and BN's mean and 1/std; backward rebuilds the
BN-ReLU and calls autograd's ATen kernels (no convolution reruns, unlike torchvision's flag).
``fast_cpu`` (CPU training): a map's batch statistics are computed once and cached on it."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["dense_layer_forward", "bn_relu_conv", "shares_stats", "map_stats", "concat_stats",
           "batch_norm_concat"]

aten = torch.ops.aten
CACHE = "_dnet_batch_stats"        # attribute on a feature map: ((eps, version), mean, invstd)


def dense_layer_forward(layer: nn.Module, features: Sequence[torch.Tensor]) -> torch.Tensor:
    """A ``DenseLayer``'s output (before dropout) by the paths its flags select."""
    # only norm1 reads a concatenation, so only it shares its maps' statistics
    shared = layer.fast_cpu and shares_stats(layer.norm1, features[0])
    recompute = layer.memory_efficient and torch.is_grad_enabled()
    if recompute:
        out = bn_relu_conv(features, layer.norm1, layer.conv1, shared)
    elif shared:
        out = layer.conv1(layer.relu1(batch_norm_concat(features, layer.norm1)))
    else:
        out = layer.conv1(layer.relu1(layer.norm1(torch.cat(features, 1))))
    if layer.bottleneck:
        out = (bn_relu_conv([out], layer.norm2, layer.conv2) if recompute
               else layer.conv2(layer.relu2(layer.norm2(out))))
    return out


def shares_stats(norm: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """True when the shared statistics compute what ``norm`` would: CPU training, grad on."""
    # under torch.compile the plain BatchNorm is traced and fused instead
    return (norm.training and norm.track_running_stats and norm.affine
            and norm.momentum is not None and x.device.type == "cpu"
            and torch.is_grad_enabled() and not torch.compiler.is_compiling()
            and not torch.is_autocast_enabled("cpu"))


# --------------------------------------------------------------------------- shared statistics
def map_stats(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel batch mean and 1/sqrt(biased variance + eps) of ``x``, computed once."""
    key = (eps, x._version)                 # an in-place change to x bumps its version
    cached = getattr(x, CACHE, None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    with torch.no_grad():
        # one pass of sums (much faster on a CPU than BatchNorm's statistics kernel), combined
        # in float64 so that E[x^2] - E[x]^2 loses nothing to the subtraction
        flat = x.detach().flatten(2)
        count = flat.shape[0] * flat.shape[2]
        mean = flat.sum((0, 2)).double() / count
        variance = (flat.square().sum((0, 2)).double() / count - mean.square()).clamp_(min=0)
        mean, invstd = mean.to(x.dtype), (variance + eps).rsqrt().to(x.dtype)
    setattr(x, CACHE, (key, mean, invstd))
    return mean, invstd


def concat_stats(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch mean and 1/std of ``cat(features, 1)`` from each map's cached statistics; updates
    ``norm``'s running statistics as ``nn.BatchNorm2d`` does in training."""
    mean, invstd = map(torch.cat, zip(*(map_stats(f, norm.eps) for f in features)))
    with torch.no_grad():
        norm.num_batches_tracked.add_(1)
        count = features[0].numel() // features[0].shape[1]
        variance = invstd.pow(-2) - norm.eps
        norm.running_mean.lerp_(mean, norm.momentum)
        norm.running_var.lerp_(variance * (count / max(count - 1, 1)), norm.momentum)
    return mean, invstd


def apply_stats(x, mean, invstd, weight, bias, eps: float) -> torch.Tensor:
    """(x - mean) * invstd * weight + bias per channel: BatchNorm's fast inference kernel."""
    return F.batch_norm(x, mean, invstd.pow(-2) - eps, weight, bias, False, 0.0, eps)


def batch_norm_concat(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d) -> torch.Tensor:
    """``norm(torch.cat(features, 1))`` in training mode, from each map's cached statistics."""
    mean, invstd = concat_stats(features, norm)
    return AppliedBatchNorm.apply(cat(features), norm.weight, norm.bias, mean, invstd, norm.eps)


class AppliedBatchNorm(torch.autograd.Function):
    """Applies given batch statistics; backward is BatchNorm's training-mode gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, eps):
        ctx.eps = eps
        ctx.save_for_backward(x, weight, mean, invstd)
        return apply_stats(x, mean, invstd, weight, bias, eps)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, invstd = ctx.saved_tensors
        return (*aten.native_batch_norm_backward(grad_out, x, weight, None, None, mean, invstd,
                                                 True, ctx.eps, list(ctx.needs_input_grad[:3])),
                None, None, None)


# --------------------------------------------------------------------------- recomputation
def bn_relu_conv(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d, conv: nn.Conv2d,
                 shared: bool = False) -> torch.Tensor:
    """``conv(relu(norm(torch.cat(features, 1))))``, storing only ``features`` for backward;
    ``shared``: the batch statistics from ``concat_stats``."""
    return BNReLUConv.apply(norm, conv, shared, norm.weight, norm.bias, conv.weight, conv.bias,
                            *features)


class BNReLUConv(torch.autograd.Function):

    @staticmethod
    def forward(ctx, norm, conv, shared, norm_weight, norm_bias, conv_weight, conv_bias,
                *features):
        x = cat(features)
        if shared:
            batch_stats = True
            mean, invstd = concat_stats(features, norm)
            normed = apply_stats(x, mean, invstd, norm_weight, norm_bias, norm.eps)
        else:
            batch_stats, factor = batch_norm_mode(norm)
            normed, mean, invstd = aten.native_batch_norm(
                x, norm_weight, norm_bias, norm.running_mean, norm.running_var, batch_stats,
                factor, norm.eps)
        out = conv(normed.relu_())
        ctx.norm, ctx.conv, ctx.batch_stats = norm, conv, batch_stats
        ctx.save_for_backward(norm_weight, norm_bias, conv_weight, conv_bias, mean, invstd,
                              *features)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        norm_weight, norm_bias, conv_weight, conv_bias, mean, invstd, *features = ctx.saved_tensors
        norm, conv = ctx.norm, ctx.conv
        x = cat(features)
        if not ctx.batch_stats:            # evaluation: normalised by the running statistics
            mean, invstd = norm.running_mean, (norm.running_var + norm.eps).rsqrt()
        # rebuild relu(norm(x)) from the saved statistics: one elementwise pass, no new stats
        scale = invstd * norm_weight
        shift = norm_bias - mean * scale
        relu_out = torch.addcmul(shift[:, None, None], x, scale[:, None, None]).relu_().to(x.dtype)
        grad_relu, grad_weight, grad_bias = aten.convolution_backward(
            grad_out, relu_out.to(grad_out.dtype), conv_weight.to(grad_out.dtype),
            None if conv_bias is None else [conv_bias.shape[0]], conv.stride, conv.padding,
            conv.dilation, False, [0, 0], conv.groups, [True, True, conv_bias is not None])
        grad_normed = aten.threshold_backward(grad_relu.to(relu_out.dtype), relu_out, 0)
        grad_x, grad_norm_weight, grad_norm_bias = aten.native_batch_norm_backward(
            grad_normed, x, norm_weight, norm.running_mean, norm.running_var, mean, invstd,
            ctx.batch_stats, norm.eps, [any(ctx.needs_input_grad[7:]), True, True])
        input_grads = (grad_x.split([f.shape[1] for f in features], 1) if grad_x is not None
                       else [None] * len(features))
        return (None, None, None, grad_norm_weight, grad_norm_bias,
                grad_weight.to(conv_weight.dtype),
                None if grad_bias is None else grad_bias.to(conv_bias.dtype), *input_grads)


def batch_norm_mode(norm: nn.BatchNorm2d) -> tuple[bool, float]:
    """(use batch statistics?, running-stat momentum), exactly as ``nn.BatchNorm2d.forward``."""
    factor = 0.0
    if norm.training and norm.track_running_stats:
        norm.num_batches_tracked.add_(1)
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    return norm.training or norm.running_mean is None, factor


def cat(features: Sequence[torch.Tensor]) -> torch.Tensor:
    return features[0] if len(features) == 1 else torch.cat(features, 1)
