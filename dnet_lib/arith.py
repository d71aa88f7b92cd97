"""The arithmetic the concept chapters show: channels, parameters, FLOPs, and two small measurements.

Every closed form here is checked against real ``dnet_lib`` models (and torchvision's exact
counts) in ``tests/test_arith.py``; the chapters print what these functions return.

* channels:   ``dense_block_channels``, ``transition_channels``, ``densenet_stage_channels``
* parameters: ``dense_layer_params``, ``dense_block_params``, ``transition_params``,
  ``densenet_params``, ``conv_params``, ``mlp_params``, ``growth_curve``
* FLOPs:      ``count_flops`` (``torch.utils.flop_counter``), ``count_params``
* measurements: ``conv_over_concat_equals_sum`` (the concat/split-weight identity) and
  ``feature_correlation`` (how correlated the channels a next layer reads are)
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "dense_block_channels", "transition_channels", "densenet_stage_channels",
    "conv_params", "dense_layer_params", "dense_block_params", "transition_params",
    "densenet_params", "mlp_params", "growth_curve", "GROWTH_SCHEMES",
    "count_params", "count_flops", "conv_over_concat_equals_sum", "feature_correlation",
]

STEMS = ("imagenet", "cifar", "d2l")
CONNECTIONS = ("plain", "residual", "dense")
GROWTH_SCHEMES = ("residual", "dense", "doubling")


# --------------------------------------------------------------------------- checks
def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_compression(compression) -> None:
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) \
            or not 0 < compression <= 1:
        raise ValueError(f"compression must be a number in (0, 1], got {compression!r}")


def _check_block_config(block_config) -> tuple[int, ...]:
    block_config = tuple(block_config)
    if not block_config:
        raise ValueError(f"block_config must list at least one block, got {block_config!r}")
    for n in block_config:
        _check_int("block_config entries", n, 1)
    return block_config


# --------------------------------------------------------------------------- channels
def dense_block_channels(in_channels: int, num_layers: int, growth_rate: int) -> list[int]:
    """Channels entering each of the ``num_layers`` layers, then the block's output channels.

    Layer i (0-based) reads ``in_channels + i * growth_rate`` channels; the block emits
    ``in_channels + num_layers * growth_rate``.
    """
    _check_int("in_channels", in_channels, 1)
    _check_int("num_layers", num_layers, 0)
    _check_int("growth_rate", growth_rate, 1)
    return [in_channels + i * growth_rate for i in range(num_layers + 1)]


def transition_channels(m: int, compression: float) -> int:
    """Channels a transition emits after a block with ``m`` channels: floor(θ·m) (paper, Sec. 3)."""
    _check_int("m", m, 1)
    _check_compression(compression)
    out = int(math.floor(compression * m))
    if out < 1:
        raise ValueError(f"compression={compression} leaves no channels from m={m}; "
                         f"need compression >= 1/m")
    return out


def densenet_stage_channels(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                            num_init_features: int = 64, compression: float = 0.5) -> list[int]:
    """Channels entering each dense block, then the channels the classifier sees.

    Same convention as ``DenseNet.stage_channels``.
    """
    _check_int("growth_rate", growth_rate, 1)
    block_config = _check_block_config(block_config)
    _check_int("num_init_features", num_init_features, 1)
    _check_compression(compression)
    channels, stages = num_init_features, [num_init_features]
    for i, num_layers in enumerate(block_config):
        channels += num_layers * growth_rate
        if i != len(block_config) - 1:
            channels = transition_channels(channels, compression)
        stages.append(channels)
    return stages


# --------------------------------------------------------------------------- parameters
def conv_params(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = False) -> int:
    """Weights of one convolution: k·k·C_in per filter, C_out filters (plus C_out biases)."""
    _check_int("in_channels", in_channels, 1)
    _check_int("out_channels", out_channels, 1)
    _check_int("kernel_size", kernel_size, 1)
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)


def _bn_params(channels: int) -> int:
    return 2 * channels                     # weight (gamma) and bias (beta); running stats are buffers


def dense_layer_params(in_channels: int, growth_rate: int, bottleneck: bool = True, bn_size: int = 4,
                       conv_bias: bool = False) -> int:
    """Parameters of one ``DenseLayer`` (BN-ReLU-3x3, or BN-ReLU-1x1(bn_size·k)-BN-ReLU-3x3)."""
    _check_int("in_channels", in_channels, 1)
    _check_int("growth_rate", growth_rate, 1)
    _check_int("bn_size", bn_size, 1)
    if not bottleneck:
        return _bn_params(in_channels) + conv_params(in_channels, growth_rate, 3, conv_bias)
    width = bn_size * growth_rate
    return (_bn_params(in_channels) + conv_params(in_channels, width, 1, conv_bias)
            + _bn_params(width) + conv_params(width, growth_rate, 3, conv_bias))


def dense_block_params(num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool = True,
                       bn_size: int = 4, conv_bias: bool = False) -> int:
    """Parameters of a ``DenseBlock``: the sum over its layers' growing inputs."""
    _check_int("num_layers", num_layers, 1)
    inputs = dense_block_channels(in_channels, num_layers, growth_rate)[:-1]
    return sum(dense_layer_params(c, growth_rate, bottleneck, bn_size, conv_bias) for c in inputs)


def transition_params(in_channels: int, out_channels: int, conv_bias: bool = False) -> int:
    """Parameters of a ``Transition``: BN over the input and a 1x1 convolution (pooling has none)."""
    return _bn_params(in_channels) + conv_params(in_channels, out_channels, 1, conv_bias)


def densenet_params(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                    num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                    compression: float = 0.5, num_classes: int = 1000, in_channels: int = 3,
                    stem: str = "imagenet", conv_bias: bool | None = None) -> int:
    """Closed-form parameter count of ``dnet_lib.models.DenseNet`` with the same arguments.

    ``conv_bias=None`` means what the model means: biased convolutions only for the d2l stem.
    """
    _check_int("growth_rate", growth_rate, 1)
    block_config = _check_block_config(block_config)
    _check_int("num_init_features", num_init_features, 1)
    _check_int("num_classes", num_classes, 1)
    _check_int("in_channels", in_channels, 1)
    _check_compression(compression)
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    if conv_bias is None:
        conv_bias = stem == "d2l"
    if stem == "cifar":                     # a single 3x3 conv, no BN
        total = conv_params(in_channels, num_init_features, 3, conv_bias)
    else:                                   # 7x7/2 conv + BN (+ ReLU, max pool: no parameters)
        total = conv_params(in_channels, num_init_features, 7, conv_bias) + _bn_params(num_init_features)
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        total += dense_block_params(num_layers, channels, growth_rate, bottleneck, bn_size, conv_bias)
        channels += num_layers * growth_rate
        if i != len(block_config) - 1:
            out = transition_channels(channels, compression)
            total += transition_params(channels, out, conv_bias)
            channels = out
    total += _bn_params(channels)                   # final norm
    total += channels * num_classes + num_classes   # linear classifier (always biased)
    return total


def mlp_params(widths: Sequence[int], connection: str = "plain", bias: bool = False) -> int:
    """Weights of a fully connected stack whose layers have ``widths`` units.

    ``widths[0]`` is the input layer; there is one weight matrix into each later layer.

    * ``plain``: layer j reads layer j-1 (``widths[j-1] * widths[j]`` weights).
    * ``residual``: the same weights -- the skip connection *adds* layer j-1 to layer j's output,
      which needs equal widths and costs no parameters.
    * ``dense``: layer j reads the concatenation of all layers 0..j-1.
    """
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least 2 layers, got {widths!r}")
    for w in widths:
        _check_int("widths entries", w, 1)
    if connection not in CONNECTIONS:
        raise ValueError(f"connection must be one of {CONNECTIONS}, got {connection!r}")
    if connection == "residual" and len(set(widths)) != 1:
        raise ValueError(f"connection='residual' adds layers, so all widths must be equal, got {widths!r}")
    total = 0
    for j in range(1, len(widths)):
        fan_in = sum(widths[:j]) if connection == "dense" else widths[j - 1]
        total += fan_in * widths[j] + (widths[j] if bias else 0)
    return total


def growth_curve(num_layers: int, width: int, scheme: str) -> list[int]:
    """Cumulative weights after 1, 2, ..., ``num_layers`` layers for three ways of stacking.

    * ``residual``: every layer maps ``width`` -> ``width`` and adds; each costs width^2, so the
      total grows *linearly* with depth.
    * ``dense``: every layer adds ``width`` new units and reads everything before it (DenseNet
      with growth rate = ``width``); layer j costs j·width^2, so the total grows *quadratically*.
    * ``doubling``: every layer emits as many units as it reads and the two are concatenated, so
      the width doubles each layer; layer j costs 4^(j-1)·width^2 -- *exponential* growth
      (the scenario in seed 002's first answer).
    """
    _check_int("num_layers", num_layers, 1)
    _check_int("width", width, 1)
    if scheme not in GROWTH_SCHEMES:
        raise ValueError(f"scheme must be one of {GROWTH_SCHEMES}, got {scheme!r}")
    totals, total = [], 0
    for j in range(1, num_layers + 1):
        if scheme == "residual":
            total += width * width
        elif scheme == "dense":
            total += (j * width) * width
        else:
            fan_in = width * 2 ** (j - 1)
            total += fan_in * fan_in
        totals.append(total)
    return totals


# --------------------------------------------------------------------------- real models
def count_params(model: nn.Module) -> int:
    """Trainable parameters of a real model: the number the closed forms must match."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    The counter charges 2 FLOPs per multiply-add (convolutions and matmuls only), so this is
    about twice the "GFLOPS" (multiply-adds) figures torchvision's docs list.
    """
    from torch.utils.flop_counter import FlopCounterMode
    input_shape = tuple(input_shape)
    if len(input_shape) < 2 or any(not isinstance(s, int) or s < 1 for s in input_shape):
        raise ValueError(f"input_shape must be positive integers (batch, channels, ...), got {input_shape!r}")
    was_training = model.training
    model.eval()
    try:
        # a model built under ``torch.device("meta")`` is counted without computing anything
        device = next(model.parameters(), torch.zeros(())).device
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(input_shape, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


# --------------------------------------------------------------------------- measurements
def conv_over_concat_equals_sum(channels: Sequence[int] = (3, 3, 3), out_channels: int = 4,
                                size: int = 8, kernel_size: int = 3, seed: int = 0) -> dict:
    """Check numerically: a convolution over concatenated inputs = the sum of per-input convolutions.

    Let X_0..X_l have ``channels[i]`` channels and W be a conv weight over their concatenation.
    Splitting W along its input-channel axis into W_0..W_l gives
    ``conv(cat(X), W) == sum_i conv(X_i, W_i)`` (DenseNet: one weight slice per earlier layer).
    If every slice is the same W_s (possible when all inputs have equal channels), the sum becomes
    ``conv(sum_i X_i, W_s)`` -- what a layer reading a ResNet's summed state computes.

    Returns max absolute differences (float64, so they are at round-off level):
    ``concat_vs_split_sum``, ``shared_weight_vs_conv_of_sum`` (None if channels differ),
    and ``independent_slices_vs_conv_of_sum`` -- how far an untied DenseNet weight is from any
    ResNet-style reading of the sum (large: the untied weight sees more).
    """
    channels = list(channels)
    if not channels:
        raise ValueError("channels must list at least one input")
    for c in channels:
        _check_int("channels entries", c, 1)
    _check_int("out_channels", out_channels, 1)
    _check_int("size", size, 1)
    _check_int("kernel_size", kernel_size, 1)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
    gen = torch.Generator().manual_seed(seed)
    pad = kernel_size // 2
    xs = [torch.randn(2, c, size, size, generator=gen, dtype=torch.float64) for c in channels]
    weight = torch.randn(out_channels, sum(channels), kernel_size, kernel_size, generator=gen,
                         dtype=torch.float64)
    conv = torch.nn.functional.conv2d
    whole = conv(torch.cat(xs, 1), weight, padding=pad)
    slices = torch.split(weight, channels, dim=1)
    split_sum = sum(conv(x, w, padding=pad) for x, w in zip(xs, slices))
    result = {"concat_vs_split_sum": (whole - split_sum).abs().max().item(),
              "shared_weight_vs_conv_of_sum": None, "independent_slices_vs_conv_of_sum": None}
    if len(set(channels)) == 1:
        shared = slices[0]
        tied = conv(torch.cat(xs, 1), shared.repeat(1, len(xs), 1, 1), padding=pad)
        of_sum = conv(sum(xs), shared, padding=pad)
        result["shared_weight_vs_conv_of_sum"] = (tied - of_sum).abs().max().item()
        result["independent_slices_vs_conv_of_sum"] = (whole - of_sum).abs().max().item()
    return result


def _mean_abs_channel_correlation(features: torch.Tensor) -> float:
    """Mean |Pearson r| over all pairs of channels (samples = batch x positions)."""
    flat = features.transpose(0, 1).reshape(features.shape[1], -1).double()
    flat = flat[flat.std(dim=1) > 1e-12]          # a dead (constant) channel has no correlation
    corr = torch.corrcoef(flat)
    n = corr.shape[0]
    off = corr[~torch.eye(n, dtype=torch.bool)]
    return off.abs().mean().item()


def feature_correlation(num_layers: int = 6, channels: int = 16, growth_rate: int = 16,
                        size: int = 16, batch: int = 32, seed: int = 0,
                        inputs: torch.Tensor | None = None) -> dict:
    """Mean |correlation| between the channels a next layer would read, at initialisation.

    Residual: a stack of ``num_layers`` ``BasicBlock``s (``channels`` wide); the next layer reads
    their summed state, ``channels`` channels. Dense: a ``DenseBlock`` of ``num_layers`` plain layers
    (growth rate ``growth_rate``) over the same input; the next layer reads the concatenation.
    Both models are random (Kaiming init, BN in training mode so each layer is normalised).
    ``inputs`` (batch, channels, H, W) replaces the random Gaussian input, e.g. real images
    lifted to ``channels`` by a fixed random 1x1 conv.

    Returns per-depth lists ``residual`` and ``dense`` (after 1..num_layers layers) and, for the
    dense block, ``dense_new_only`` -- correlation among the newly added channels only (the input
    channels are left out), so the comparison is not just about carrying x_0 along.
    """
    from .models import BasicBlock, DenseBlock
    _check_int("num_layers", num_layers, 1)
    _check_int("channels", channels, 2)
    _check_int("growth_rate", growth_rate, 2)
    _check_int("size", size, 2)
    _check_int("batch", batch, 2)
    torch.manual_seed(seed)
    if inputs is None:
        x = torch.randn(batch, channels, size, size)
    else:
        if inputs.dim() != 4 or inputs.shape[1] != channels:
            raise ValueError(f"inputs must have shape (batch, {channels}, H, W), got {tuple(inputs.shape)}")
        x = inputs.float()
    residual = nn.Sequential(*[BasicBlock(channels, channels) for _ in range(num_layers)])
    dense = DenseBlock(num_layers, channels, growth_rate, bottleneck=False)
    out = {"residual": [], "dense": [], "dense_new_only": [], "input": _mean_abs_channel_correlation(x)}
    with torch.no_grad():
        state = x
        for block in residual:
            state = block(state)
            out["residual"].append(_mean_abs_channel_correlation(state))
        features = [x]
        for layer in dense.values():
            features.append(layer(features))
            out["dense"].append(_mean_abs_channel_correlation(torch.cat(features, 1)))
            out["dense_new_only"].append(_mean_abs_channel_correlation(torch.cat(features[1:], 1)))
    return out


def densenet_flops(image_size: int, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                   num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                   compression: float = 0.5, num_classes: int = 1000, in_channels: int = 3,
                   stem: str = "imagenet") -> int:
    """Closed-form FLOPs (2 per multiply-add, convolutions and the classifier) of one image.

    Counts what ``count_flops`` counts, without running the model: a conv from C_in to C_out
    with a k x k kernel on an H x W output costs 2·k²·C_in·C_out·H·W.
    """
    _check_int("image_size", image_size, 1)
    block_config = _check_block_config(block_config)
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    s = image_size
    if stem == "cifar":
        flops = 2 * 9 * in_channels * num_init_features * s * s
    else:
        s = (s + 6 - 7) // 2 + 1                       # 7x7 conv, stride 2, padding 3
        flops = 2 * 49 * in_channels * num_init_features * s * s
        s = (s + 2 - 3) // 2 + 1                       # 3x3 max pool, stride 2, padding 1
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        for c in dense_block_channels(channels, num_layers, growth_rate)[:-1]:
            if bottleneck:
                width = bn_size * growth_rate
                flops += 2 * (c * width + 9 * width * growth_rate) * s * s
            else:
                flops += 2 * 9 * c * growth_rate * s * s
        channels += num_layers * growth_rate
        if i != len(block_config) - 1:
            out = transition_channels(channels, compression)
            flops += 2 * channels * out * s * s
            channels, s = out, s // 2
    return flops + 2 * channels * num_classes


__all__.append("densenet_flops")
