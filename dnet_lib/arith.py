"""DenseNet and ResNet arithmetic: channels, parameters, FLOPs -- the one home of these formulas.

Every closed form here is checked against real ``dnet_lib`` models (and torchvision's exact
counts, and ``torch.utils.flop_counter``) in ``tests/test_arith.py``; the chapters and the
explorers print what these functions return.

* channels:   ``dense_block_channels``, ``transition_channels``, ``densenet_stage_channels``
* parameters: ``conv_params``, ``bn_params``, ``dense_layer_params``, ``dense_block_params``,
  ``transition_params``, ``stem_params``, ``densenet_params``, ``mlp_params``, ``growth_curve``
* whole tables: ``dense_block_stats`` (one block: per-layer channels, parameters, activation
  sizes) and ``densenet_stats`` (a whole DenseNet: stages, parameters by part, FLOPs)
* FLOPs:      ``dense_layer_flops``, ``transition_flops``, ``densenet_flops``, ``resnet_flops``
* real models: ``count_params`` and ``count_flops`` (``torch.utils.flop_counter``)
* measurements: ``conv_over_concat_equals_sum`` (the concat/split-weight identity) and
  ``feature_correlation`` (how correlated the channels a next layer reads are)
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .models.stem import STEMS, Stem, resolve_stem   # STEMS: the preset names (arith.STEMS)
from .units import BYTES_PER_FLOAT32
from .validate import check_block_config, check_choice, check_compression, check_int

__all__ = [
    "dense_block_channels", "transition_channels", "densenet_stage_channels",
    "conv_params", "bn_params", "dense_layer_params", "dense_block_params", "transition_params",
    "stem_params", "densenet_params", "mlp_params", "growth_curve", "GROWTH_SCHEMES",
    "dense_block_stats", "densenet_stats", "variant_name",
    "dense_layer_flops", "transition_flops", "densenet_flops", "resnet_flops",
    "count_params", "count_flops", "conv_over_concat_equals_sum", "feature_correlation",
]

CONNECTIONS = ("plain", "residual", "dense")
GROWTH_SCHEMES = ("residual", "dense", "doubling")


# --------------------------------------------------------------------------- channels
def dense_block_channels(in_channels: int, num_layers: int, growth_rate: int) -> list[int]:
    """Channels entering each of the ``num_layers`` layers, then the block's output channels.

    Layer i (0-based) reads ``in_channels + i * growth_rate`` channels; the block emits
    ``in_channels + num_layers * growth_rate``.
    """
    check_int("in_channels", in_channels, 1)
    check_int("num_layers", num_layers, 0)
    check_int("growth_rate", growth_rate, 1)
    return [in_channels + i * growth_rate for i in range(num_layers + 1)]


def transition_channels(m: int, compression: float) -> int:
    """Channels a transition emits after a block with ``m`` channels: floor(θ·m) (paper, Sec. 3)."""
    check_int("m", m, 1)
    check_compression(compression)
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
    return densenet_stats(growth_rate, block_config, num_init_features, bottleneck=False,
                          compression=compression)["stage_channels"]


# --------------------------------------------------------------------------- parameters
def conv_params(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = False) -> int:
    """Weights of one convolution: k·k·C_in per filter, C_out filters (plus C_out biases)."""
    check_int("in_channels", in_channels, 1)
    check_int("out_channels", out_channels, 1)
    check_int("kernel_size", kernel_size, 1)
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)


def bn_params(channels: int) -> int:
    """A BatchNorm's weight (gamma) and bias (beta); its running statistics are buffers."""
    return 2 * channels


def dense_layer_params(in_channels: int, growth_rate: int, *, bottleneck: bool, bn_size: int = 4,
                       conv_bias: bool = False) -> int:
    """Parameters of one ``DenseLayer`` (BN-ReLU-3x3, or BN-ReLU-1x1(bn_size·k)-BN-ReLU-3x3)."""
    check_int("in_channels", in_channels, 1)
    check_int("growth_rate", growth_rate, 1)
    check_int("bn_size", bn_size, 1)
    if not bottleneck:
        return bn_params(in_channels) + conv_params(in_channels, growth_rate, 3, conv_bias)
    width = bn_size * growth_rate
    return (bn_params(in_channels) + conv_params(in_channels, width, 1, conv_bias)
            + bn_params(width) + conv_params(width, growth_rate, 3, conv_bias))


def dense_block_params(num_layers: int, in_channels: int, growth_rate: int, *, bottleneck: bool,
                       bn_size: int = 4, conv_bias: bool = False) -> int:
    """Parameters of a ``DenseBlock``: the sum over its layers' growing inputs."""
    return dense_block_stats(in_channels, num_layers, growth_rate, bottleneck=bottleneck,
                             bn_size=bn_size, conv_bias=conv_bias)["params"]


def transition_params(in_channels: int, out_channels: int, conv_bias: bool = False) -> int:
    """Parameters of a ``Transition``: BN over the input and a 1x1 convolution (pooling has none)."""
    return bn_params(in_channels) + conv_params(in_channels, out_channels, 1, conv_bias)


def stem_params(stem: str | Stem, in_channels: int, out_channels: int, conv_bias: bool = False) -> int:
    """Parameters of a stem: its convolution, plus a BatchNorm if it has one."""
    spec = resolve_stem(stem)
    norm = bn_params(out_channels) if spec.norm else 0
    return conv_params(in_channels, out_channels, spec.kernel_size, conv_bias) + norm


def dense_block_stats(in_channels: int, num_layers: int, growth_rate: int, image_size: int = 1, *,
                      bottleneck: bool, bn_size: int = 4, conv_bias: bool = False) -> dict:
    """Channels, parameters and activation sizes of ``DenseBlock(num_layers, in_channels, k)``.

    Sizes are for one image of ``image_size`` x ``image_size`` (a dense block keeps the spatial
    size); values count float32 numbers. Returns a dict: ``layers`` (one dict per layer:
    ``layer``, ``in_channels``, ``out_channels``, ``params``, ``input_values``), ``out_channels``,
    ``params``, ``output_values``, ``output_bytes``, ``layer_input_values`` (the sum of every
    layer's input: it grows as L^2), and the arguments.
    """
    check_int("num_layers", num_layers, 1)
    check_int("image_size", image_size, 1)
    pixels = image_size * image_size
    channels = dense_block_channels(in_channels, num_layers, growth_rate)
    layers = [{"layer": i + 1, "in_channels": c, "out_channels": growth_rate,
               "params": dense_layer_params(c, growth_rate, bottleneck=bottleneck, bn_size=bn_size,
                                            conv_bias=conv_bias),
               "input_values": c * pixels}
              for i, c in enumerate(channels[:-1])]
    out_channels = channels[-1]
    return {
        "in_channels": in_channels, "num_layers": num_layers, "growth_rate": growth_rate,
        "image_size": image_size, "bottleneck": bottleneck,
        "layers": layers,
        "out_channels": out_channels,
        "params": sum(layer["params"] for layer in layers),
        "output_values": out_channels * pixels,
        "output_bytes": out_channels * pixels * BYTES_PER_FLOAT32,
        "layer_input_values": sum(layer["input_values"] for layer in layers),
    }


def variant_name(bottleneck: bool, compression: float) -> str:
    """DenseNet, DenseNet-B, DenseNet-C or DenseNet-BC (the paper's naming)."""
    suffix = ("B" if bottleneck else "") + ("C" if compression < 1 else "")
    return "DenseNet" + (f"-{suffix}" if suffix else "")


def densenet_stats(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                   num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                   compression: float = 0.5, num_classes: int = 1000, in_channels: int = 3,
                   stem: str | Stem = "imagenet", conv_bias: bool | None = None,
                   image_size: int | None = None) -> dict:
    """Channels, parameters (and FLOPs) of ``dnet_lib.models.DenseNet`` with the same arguments.

    The defaults are ``DenseNet()``'s (DenseNet-121). ``conv_bias=None`` means what the model
    means: biased convolutions only for the "d2l" stem. Returns a dict:

    * ``variant`` (DenseNet, -B, -C or -BC), ``bottleneck``, ``compression``;
    * ``stage_channels``: the stem's channels, then those leaving each block (after its
      transition, if any) -- ``DenseNet.stage_channels``; ``num_features`` = the last of them;
    * ``blocks``: per block ``in_channels``, ``num_layers``, ``out_channels``, ``params``;
      ``transitions``: per transition ``in_channels``, ``out_channels``, ``params``;
    * ``params`` and its parts ``params_stem``, ``params_blocks``, ``params_transitions``,
      ``params_head`` (final BN + linear classifier);
    * ``flops`` (2 per multiply-add, convolutions and classifier, one image), only when
      ``image_size`` is given -- what ``count_flops`` measures.
    """
    from .models.config import DenseNetConfig   # TEMPORARY (helper C): A's arith takes a config
    if isinstance(growth_rate, DenseNetConfig):
        c, size = growth_rate, block_config if isinstance(block_config, int) else image_size
        return densenet_stats(c.growth_rate, c.block_config, c.num_init_features, c.bottleneck,
                              c.bn_size, c.compression, c.num_classes, c.in_channels, c.stem,
                              c.conv_bias, size)
    check_int("growth_rate", growth_rate, 1)
    block_config = check_block_config(block_config)
    check_int("num_init_features", num_init_features, 1)
    check_int("num_classes", num_classes, 1)
    check_int("in_channels", in_channels, 1)
    check_compression(compression)
    spec = resolve_stem(stem)
    if conv_bias is None:
        conv_bias = stem == "d2l"
    size = None
    if image_size is not None:
        check_int("image_size", image_size, 1)
        size = spec.out_size(image_size)
        if size < 2 ** (len(block_config) - 1):
            raise ValueError(f"image_size={image_size} is too small for this stem and "
                             f"{len(block_config)} blocks")
    params_stem = stem_params(spec, in_channels, num_init_features, conv_bias)
    flops = 0 if size is None else _conv_flops(in_channels, num_init_features, spec.kernel_size,
                                               spec.conv_size(image_size))
    channels, stage_channels, blocks, transitions = num_init_features, [num_init_features], [], []
    for i, num_layers in enumerate(block_config):
        block = dense_block_stats(channels, num_layers, growth_rate, bottleneck=bottleneck,
                                  bn_size=bn_size, conv_bias=conv_bias)
        blocks.append({key: block[key] for key in ("in_channels", "num_layers", "out_channels", "params")})
        if size is not None:
            flops += sum(dense_layer_flops(c["in_channels"], growth_rate, size, bottleneck=bottleneck,
                                           bn_size=bn_size) for c in block["layers"])
        channels = block["out_channels"]
        if i != len(block_config) - 1:
            out = transition_channels(channels, compression)
            transitions.append({"in_channels": channels, "out_channels": out,
                                "params": transition_params(channels, out, conv_bias)})
            if size is not None:
                flops += _conv_flops(channels, out, 1, size)
                size //= 2
            channels = out
        stage_channels.append(channels)
    params_head = bn_params(channels) + channels * num_classes + num_classes   # final BN + linear
    params_blocks = sum(b["params"] for b in blocks)
    params_transitions = sum(t["params"] for t in transitions)
    stats = {
        "variant": variant_name(bottleneck, compression),
        "bottleneck": bottleneck, "compression": compression,
        "stage_channels": stage_channels, "num_features": channels,
        "blocks": blocks, "transitions": transitions,
        "params": params_stem + params_blocks + params_transitions + params_head,
        "params_stem": params_stem, "params_blocks": params_blocks,
        "params_transitions": params_transitions, "params_head": params_head,
    }
    if size is not None:
        stats["flops"] = flops + 2 * channels * num_classes
    return stats


def densenet_params(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                    num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                    compression: float = 0.5, num_classes: int = 1000, in_channels: int = 3,
                    stem: str | Stem = "imagenet", conv_bias: bool | None = None) -> int:
    """Closed-form parameter count of ``dnet_lib.models.DenseNet`` with the same arguments."""
    return densenet_stats(growth_rate, block_config, num_init_features, bottleneck, bn_size,
                          compression, num_classes, in_channels, stem, conv_bias)["params"]


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
        check_int("widths entries", w, 1)
    check_choice("connection", connection, CONNECTIONS)
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
    check_int("num_layers", num_layers, 1)
    check_int("width", width, 1)
    check_choice("scheme", scheme, GROWTH_SCHEMES)
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


# --------------------------------------------------------------------------- FLOPs
def _conv_flops(in_channels: int, out_channels: int, kernel_size: int, out_size: int) -> int:
    """2·k²·C_in·C_out per output pixel (a multiply and an add per weight)."""
    return 2 * kernel_size * kernel_size * in_channels * out_channels * out_size * out_size


def dense_layer_flops(in_channels: int, growth_rate: int, image_size: int, *, bottleneck: bool,
                      bn_size: int = 4) -> int:
    """FLOPs of one ``DenseLayer``'s convolutions on one ``image_size`` x ``image_size`` image."""
    check_int("in_channels", in_channels, 1)
    check_int("growth_rate", growth_rate, 1)
    check_int("image_size", image_size, 1)
    if not bottleneck:
        return _conv_flops(in_channels, growth_rate, 3, image_size)
    width = bn_size * growth_rate
    return (_conv_flops(in_channels, width, 1, image_size)
            + _conv_flops(width, growth_rate, 3, image_size))


def transition_flops(in_channels: int, out_channels: int, image_size: int) -> int:
    """FLOPs of a ``Transition``'s 1x1 convolution on its ``image_size`` input (pooling: none)."""
    return _conv_flops(in_channels, out_channels, 1, image_size)


def densenet_flops(image_size: int, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                   num_init_features: int = 64, bottleneck: bool = True, bn_size: int = 4,
                   compression: float = 0.5, num_classes: int = 1000, in_channels: int = 3,
                   stem: str | Stem = "imagenet") -> int:
    """Closed-form FLOPs (2 per multiply-add, convolutions and the classifier) of one image.

    Counts what ``count_flops`` counts, without running the model: a conv from C_in to C_out
    with a k x k kernel on an H x W output costs 2·k²·C_in·C_out·H·W.
    """
    return densenet_stats(growth_rate, block_config, num_init_features, bottleneck, bn_size,
                          compression, num_classes, in_channels, stem,
                          image_size=image_size)["flops"]


def resnet_flops(image_size: int, layers: Sequence[int] = (2, 2, 2, 2),
                 widths: Sequence[int] = (64, 128, 256, 512), bottleneck: bool = False,
                 num_classes: int = 1000, in_channels: int = 3, stem: str | Stem = "imagenet") -> int:
    """Closed-form FLOPs of ``dnet_lib.models.ResNet`` (``Bottleneck`` blocks if ``bottleneck``).

    Same rule as ``densenet_flops``; a strided 3x3 conv (padding 1) halves the side, rounding up.
    """
    check_int("image_size", image_size, 1)
    layers = check_block_config(layers)
    spec = resolve_stem(stem, norm_for_cifar=True)
    size = spec.conv_size(image_size)
    flops = _conv_flops(in_channels, widths[0], spec.kernel_size, size)
    size = spec.out_size(image_size)
    expansion = 4 if bottleneck else 1
    channels = widths[0]
    for i, (num_blocks, width) in enumerate(zip(layers, widths)):
        for j in range(num_blocks):
            stride = 2 if i > 0 and j == 0 else 1
            out_size = (size - 1) // stride + 1
            out = width * expansion
            if bottleneck:
                flops += (_conv_flops(channels, width, 1, size) + _conv_flops(width, width, 3, out_size)
                          + _conv_flops(width, out, 1, out_size))
            else:
                flops += _conv_flops(channels, width, 3, out_size) + _conv_flops(width, width, 3, out_size)
            if stride != 1 or channels != out:                  # 1x1 projection shortcut
                flops += _conv_flops(channels, out, 1, out_size)
            channels, size = out, out_size
    return flops + 2 * channels * num_classes


# --------------------------------------------------------------------------- real models
def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Parameters of a real model: every value in ``model.parameters()`` (BatchNorm's running
    statistics are buffers, not parameters). ``trainable_only`` skips frozen ones
    (``requires_grad=False``). Shared parameters count once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


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
        check_int("channels entries", c, 1)
    check_int("out_channels", out_channels, 1)
    check_int("size", size, 1)
    check_int("kernel_size", kernel_size, 1)
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
    check_int("num_layers", num_layers, 1)
    check_int("channels", channels, 2)
    check_int("growth_rate", growth_rate, 2)
    check_int("size", size, 2)
    check_int("batch", batch, 2)
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
