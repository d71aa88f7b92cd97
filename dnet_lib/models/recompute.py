"""Memory-efficient BN-ReLU-conv over a concatenation: keep the inputs and the conv's output only.

A dense layer's first step, ``conv(relu(norm(cat(features))))``, reads a concatenation whose width
grows with depth. Stored for backward, the concatenation and its BN-ReLU output cost two copies
of every earlier feature map per layer (quadratic in depth). Here they are not stored: backward
rebuilds them from ``features`` (kept anyway: they are the earlier layers' outputs) and the
BatchNorm's per-channel batch mean and 1/std (a few numbers). The gradients then come from the
same ATen kernels autograd would call (``convolution_backward``, ``threshold_backward``,
``native_batch_norm_backward``), so no convolution runs twice and the batch statistics are not
recomputed either: the only extra work is one concatenation and one normalisation pass.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import batchstats

__all__ = ["bn_relu_conv_recomputed"]

aten = torch.ops.aten


def bn_relu_conv_recomputed(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d,
                            conv: nn.Conv2d) -> torch.Tensor:
    """``conv(relu(norm(torch.cat(features, 1))))``, storing only ``features`` for backward.

    Same values, gradients and BatchNorm running statistics as the plain expression.
    """
    shared = batchstats.applies(norm, features[0])    # decided here: forward runs without grad
    return _BNReLUConv.apply(norm, conv, shared, norm.weight, norm.bias, conv.weight, conv.bias,
                             *features)


class _BNReLUConv(torch.autograd.Function):

    @staticmethod
    def forward(ctx, norm, conv, shared, norm_weight, norm_bias, conv_weight, conv_bias, *features):
        x = _cat(features)
        if shared:                     # each map's batch statistics, computed once (batchstats)
            batch_stats = True
            mean, invstd = batchstats.concat_stats(features, norm)
            normed = batchstats.apply_stats(x, mean, invstd, norm_weight, norm_bias, norm.eps)
        else:
            batch_stats, factor = _batch_norm_mode(norm)
            normed, mean, invstd = aten.native_batch_norm(
                x, norm_weight, norm_bias, norm.running_mean, norm.running_var, batch_stats,
                factor, norm.eps)
        out = conv(normed.relu_())
        ctx.norm, ctx.conv, ctx.batch_stats = norm, conv, batch_stats
        ctx.save_for_backward(norm_weight, norm_bias, conv_weight, conv_bias, mean, invstd, *features)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        norm_weight, norm_bias, conv_weight, conv_bias, mean, invstd, *features = ctx.saved_tensors
        norm, conv = ctx.norm, ctx.conv
        x = _cat(features)
        # rebuild relu(norm(x)) from the saved statistics: one elementwise pass, no new stats
        if ctx.batch_stats:
            scale = invstd * norm_weight
            shift = norm_bias - mean * scale
        else:
            scale = norm_weight / torch.sqrt(norm.running_var + norm.eps)
            shift = norm_bias - norm.running_mean * scale
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


def _batch_norm_mode(norm: nn.BatchNorm2d) -> tuple[bool, float]:
    """(use batch statistics?, running-stat momentum), exactly as ``nn.BatchNorm2d.forward``."""
    factor = 0.0
    if norm.training and norm.track_running_stats:
        norm.num_batches_tracked.add_(1)
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    return norm.training or norm.running_mean is None, factor


def _cat(features: Sequence[torch.Tensor]) -> torch.Tensor:
    return features[0] if len(features) == 1 else torch.cat(features, 1)
