"""Memory-efficient BN-ReLU-conv over a concatenation: keep the inputs and the conv's output only.

A dense layer's first step, ``conv(relu(norm(cat(features))))``, reads a concatenation whose width
grows with depth. Stored for backward, the concatenation and its BN-ReLU output cost two copies
of every earlier feature map per layer (quadratic in depth). Here they are not stored: backward
rebuilds them from ``features`` (kept anyway: they are the earlier layers' outputs) and gets the
convolution's gradients from ``torch.ops.aten.convolution_backward`` -- so the convolution itself
is never run twice, only the cheap concatenation, BatchNorm and ReLU are.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["bn_relu_conv_recomputed"]


def bn_relu_conv_recomputed(features: Sequence[torch.Tensor], norm: nn.BatchNorm2d,
                            conv: nn.Conv2d) -> torch.Tensor:
    """``conv(relu(norm(torch.cat(features, 1))))``, storing only ``features`` for backward.

    Same values, gradients and BatchNorm running statistics as the plain expression.
    """
    return _BNReLUConv.apply(norm, conv, norm.weight, norm.bias, conv.weight, conv.bias, *features)


class _BNReLUConv(torch.autograd.Function):

    @staticmethod
    def forward(ctx, norm, conv, norm_weight, norm_bias, conv_weight, conv_bias, *features):
        # autograd is off in here: the module calls update BN's running stats once, as usual
        out = conv(F.relu(norm(_cat(features))))
        ctx.norm, ctx.conv, ctx.batch_stats = norm, conv, norm.training or norm.running_mean is None
        ctx.save_for_backward(norm_weight, norm_bias, conv_weight, conv_bias, *features)
        ctx.out_dtype = out.dtype              # bf16 under autocast: redo the conv in that dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        norm_weight, norm_bias, conv_weight, conv_bias, *features = ctx.saved_tensors
        norm, conv = ctx.norm, ctx.conv
        with torch.enable_grad():
            inputs = [f.detach().requires_grad_(need)
                      for f, need in zip(features, ctx.needs_input_grad[6:])]
            norm_params = [p.detach().requires_grad_(True) for p in (norm_weight, norm_bias)]
            # the same batch statistics as forward; the running stats are neither read nor updated
            stats = (None, None) if ctx.batch_stats else (norm.running_mean, norm.running_var)
            x = F.batch_norm(_cat(inputs), *stats, *norm_params, ctx.batch_stats, 0.0, norm.eps)
            x = F.relu(x).to(ctx.out_dtype)
        weight = conv_weight.to(ctx.out_dtype)
        bias_sizes = None if conv_bias is None else [conv_bias.shape[0]]
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad_out.to(ctx.out_dtype), x.detach(), weight, bias_sizes, conv.stride, conv.padding,
            conv.dilation, False, [0, 0], conv.groups, [True, True, conv_bias is not None])
        wanted = [t for t in inputs + norm_params if t.requires_grad]
        grads = iter(torch.autograd.grad(x, wanted, grad_x))
        input_grads = [next(grads) if t.requires_grad else None for t in inputs]
        grad_norm_weight, grad_norm_bias = next(grads), next(grads)
        return (None, None, grad_norm_weight, grad_norm_bias, grad_weight.to(conv_weight.dtype),
                None if grad_bias is None else grad_bias.to(conv_bias.dtype), *input_grads)


def _cat(features: Sequence[torch.Tensor]) -> torch.Tensor:
    return features[0] if len(features) == 1 else torch.cat(features, 1)
