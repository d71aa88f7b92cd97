"""DenseNet arithmetic in closed form: channels, parameters, FLOPs (whole networks given as a
``models.DenseNetConfig``); ``tests/test_arith.py`` checks every formula against real models,
torchvision's counts and ``torch.utils.flop_counter``."""
from __future__ import annotations

import functools
import itertools
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .models import DENSENET121, BasicBlock, DenseBlock, DenseNetConfig, transition_channels
from .units import BYTES_PER_FLOAT32
from .validate import check_block_config, check_choice, check_int, check_ints

__all__ = [
    "dense_block_channels", "stage_channels", "conv_params", "dense_layer_params",
    "transition_params", "densenet_params", "mlp_params", "growth_curve", "GROWTH_SCHEMES",
    "dense_block_stats", "densenet_stats", "densenet_flops", "count_params", "count_flops",
    "conv_over_concat_equals_sum", "feature_correlation",
]

GROWTH_SCHEMES = ("residual", "dense", "doubling")


# --------------------------------------------------------------------------- layers and blocks
def conv_params(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = False
                ) -> int:
    """k·k·C_in weights per filter, C_out filters (plus C_out biases)."""
    check_ints(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)


def _conv_flops(in_channels: int, out_channels: int, kernel_size: int, out_size: int) -> int:
    """2·k²·C_in·C_out per output pixel (a multiply and an add per weight)."""
    return 2 * kernel_size * kernel_size * in_channels * out_channels * out_size * out_size


def dense_block_channels(in_channels: int, num_layers: int, growth_rate: int) -> list[int]:
    """Channels entering each layer (``in_channels + i·k``), then the block's output channels."""
    check_ints(in_channels=in_channels, growth_rate=growth_rate)
    check_int("num_layers", num_layers, 0)
    return [in_channels + i * growth_rate for i in range(num_layers + 1)]


def _dense_layer_convs(in_channels, growth_rate, bottleneck, bn_size):
    """(C_in, C_out, kernel) of a ``DenseLayer``'s convs: 3x3, or 1x1 to bn_size·k then 3x3."""
    check_ints(in_channels=in_channels, growth_rate=growth_rate, bn_size=bn_size)
    if not bottleneck:
        return [(in_channels, growth_rate, 3)]
    return [(in_channels, bn_size * growth_rate, 1), (bn_size * growth_rate, growth_rate, 3)]


def dense_layer_params(in_channels: int, growth_rate: int, *, bottleneck: bool, bn_size: int = 4,
                       conv_bias: bool = False) -> int:
    """Parameters of one ``DenseLayer``: a BatchNorm (2 per channel) before each conv."""
    convs = _dense_layer_convs(in_channels, growth_rate, bottleneck, bn_size)
    return sum(2 * i + conv_params(i, o, k, conv_bias) for i, o, k in convs)


def dense_block_stats(in_channels: int, num_layers: int, growth_rate: int, image_size: int = 1, *,
                      bottleneck: bool, bn_size: int = 4, conv_bias: bool = False) -> dict:
    """Channels, parameters and float32 activation sizes of one ``DenseBlock`` for one image, per
    layer (``layers``) and in all (``layer_input_values``, all the layers' inputs, grows as L²)."""
    check_ints(num_layers=num_layers, image_size=image_size)
    pixels = image_size * image_size
    channels = dense_block_channels(in_channels, num_layers, growth_rate)
    layers = [{"layer": i + 1, "in_channels": c, "out_channels": growth_rate,
               "params": dense_layer_params(c, growth_rate, bottleneck=bottleneck,
                                            bn_size=bn_size, conv_bias=conv_bias),
               "input_values": c * pixels} for i, c in enumerate(channels[:-1])]
    out = channels[-1]
    return {"in_channels": in_channels, "num_layers": num_layers, "growth_rate": growth_rate,
            "image_size": image_size, "bottleneck": bottleneck, "layers": layers,
            "out_channels": out, "params": sum(row["params"] for row in layers),
            "output_values": out * pixels, "output_bytes": out * pixels * BYTES_PER_FLOAT32,
            "layer_input_values": sum(row["input_values"] for row in layers)}


def transition_params(in_channels: int, out_channels: int, conv_bias: bool = False) -> int:
    """A ``Transition``: BN over its input and a 1x1 convolution (pooling has no parameters)."""
    return 2 * in_channels + conv_params(in_channels, out_channels, 1, conv_bias)


# --------------------------------------------------------------------------- whole networks
def densenet_stats(config: DenseNetConfig = DENSENET121, image_size: int | None = None) -> dict:
    """``models.DenseNet(config)`` in closed form: channels per stage, block and transition,
    ``params`` and its parts (``params_stem``, ..., ``params_head``: BN + linear); with
    ``image_size``, ``flops`` of one image (what ``count_flops`` measures)."""
    if not isinstance(config, DenseNetConfig):
        raise ValueError(f"config must be a models.DenseNetConfig, got {config!r}")
    c, stem, size, flops = config, config.stem, 1, 0     # without image_size: FLOPs unused
    if image_size is not None:
        check_int("image_size", image_size, 1)
        size = stem.out_size(image_size)
        if size < 2 ** (len(c.block_config) - 1):
            raise ValueError(f"image_size={image_size} is too small for this stem and "
                             f"{len(c.block_config)} blocks")
        flops = _conv_flops(c.in_channels, c.num_init_features, stem.kernel_size,
                            stem.conv_size(image_size))
    channels, stages, blocks, transitions = c.num_init_features, [c.num_init_features], [], []
    for i, num_layers in enumerate(c.block_config):
        block = dense_block_stats(channels, num_layers, c.growth_rate, size,
                                  bottleneck=c.bottleneck, bn_size=c.bn_size, conv_bias=c.conv_bias)
        blocks.append({k: block[k] for k in ("in_channels", "num_layers", "out_channels",
                                              "params")})
        flops += sum(_conv_flops(*conv, size) for row in block["layers"] for conv in
                     _dense_layer_convs(row["in_channels"], c.growth_rate, c.bottleneck, c.bn_size))
        channels = block["out_channels"]
        if i != len(c.block_config) - 1:
            out = transition_channels(channels, c.compression)
            transitions.append({"in_channels": channels, "out_channels": out,
                                "params": transition_params(channels, out, c.conv_bias)})
            flops += _conv_flops(channels, out, 1, size)
            channels, size = out, max(size // 2, 1)
        stages.append(channels)
    stem_norm = 2 * c.num_init_features if stem.norm else 0
    parts = {"params_stem": stem_norm + conv_params(c.in_channels, c.num_init_features,
                                                    stem.kernel_size, c.conv_bias),
             "params_blocks": sum(b["params"] for b in blocks),
             "params_transitions": sum(t["params"] for t in transitions),
             "params_head": 2 * channels + channels * c.num_classes + c.num_classes}
    stats = {"variant": c.variant, "bottleneck": c.bottleneck, "compression": c.compression,
             "stage_channels": stages, "num_features": channels, "blocks": blocks,
             "transitions": transitions, "params": sum(parts.values()), **parts}
    if image_size is not None:
        stats["flops"] = flops + 2 * channels * c.num_classes
    return stats


def stage_channels(config: DenseNetConfig = DENSENET121) -> list[int]:
    """``DenseNet(config).stage_channels``: entering each block, then the classifier's input."""
    return densenet_stats(config)["stage_channels"]


def densenet_params(config: DenseNetConfig = DENSENET121) -> int:
    """Parameter count of ``models.DenseNet(config)``."""
    return densenet_stats(config)["params"]


def densenet_flops(config: DenseNetConfig, image_size: int) -> int:
    """FLOPs of ``models.DenseNet(config)`` on one image (2 per multiply-add, convs and linear)."""
    return densenet_stats(config, image_size)["flops"]


# --------------------------------------------------------------------------- fully connected stacks
def mlp_params(widths: Sequence[int], connection: str = "plain", bias: bool = False) -> int:
    """Weights of a fully connected stack of ``widths`` units (``widths[0]``: input); layer j reads
    layer j-1 (``plain``, ``residual``: equal widths) or layers 0..j-1 (``dense``)."""
    widths = list(check_block_config(widths, "widths"))
    if len(widths) < 2:
        raise ValueError(f"widths must list at least 2 layers, got {widths!r}")
    check_choice("connection", connection, ("plain", "residual", "dense"))
    if connection == "residual" and len(set(widths)) != 1:
        raise ValueError(f"connection='residual' adds layers, so all widths must be equal, "
                         f"got {widths!r}")
    fan_ins = [sum(widths[:j]) if connection == "dense" else widths[j - 1]
               for j in range(1, len(widths))]
    return sum(f * w + (w if bias else 0) for f, w in zip(fan_ins, widths[1:]))


def growth_curve(num_layers: int, width: int, scheme: str) -> list[int]:
    """Cumulative weights after 1..``num_layers`` layers of ``width`` units; layer j costs width²
    (``residual``: linear), j·width² (``dense``: reads all j earlier layers; quadratic) or
    (width·2^(j-1))² (``doubling``: emits as much as it reads; exponential)."""
    check_ints(num_layers=num_layers, width=width)
    check_choice("scheme", scheme, GROWTH_SCHEMES)
    factor = {"residual": lambda j: 1, "dense": lambda j: j, "doubling": lambda j: 4 ** (j - 1)}
    return list(itertools.accumulate(width * width * factor[scheme](j)
                                     for j in range(1, num_layers + 1)))


# --------------------------------------------------------------------------- real models
def count_params(model: nn.Module) -> int:
    """Values in ``model.parameters()``, frozen ones too (shared ones once; buffers not)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass by ``torch.utils.flop_counter`` (2 per multiply-add: twice
    torchvision's "GFLOPS")."""
    from torch.utils.flop_counter import FlopCounterMode
    input_shape = check_block_config(input_shape, "input_shape")
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
    """Max absolute differences (float64) behind ``conv(cat(X), W) == sum_i conv(X_i, W_i)``:
    ``concat_vs_split_sum``; with equal channels (else None) a tied slice W_s against
    ``conv(sum_i X_i, W_s)``, ResNet's sum: ``shared_weight_vs_conv_of_sum`` (~0) and
    ``independent_slices_vs_conv_of_sum`` (large: an untied DenseNet weight sees more)."""
    channels = list(check_block_config(channels, "channels"))
    check_ints(out_channels=out_channels, size=size, kernel_size=kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.randn(2, c, size, size, generator=gen, dtype=torch.float64) for c in channels]
    weight = torch.randn(out_channels, sum(channels), kernel_size, kernel_size, generator=gen,
                         dtype=torch.float64)
    conv = functools.partial(F.conv2d, padding=kernel_size // 2)
    whole = conv(torch.cat(xs, 1), weight)
    slices = torch.split(weight, channels, dim=1)
    gap = lambda a, b: (a - b).abs().max().item()                     # noqa: E731
    result = {"concat_vs_split_sum": gap(whole, sum(conv(x, w) for x, w in zip(xs, slices))),
              "shared_weight_vs_conv_of_sum": None, "independent_slices_vs_conv_of_sum": None}
    if len(set(channels)) == 1:
        tied = conv(torch.cat(xs, 1), slices[0].repeat(1, len(xs), 1, 1))
        of_sum = conv(sum(xs), slices[0])
        result["shared_weight_vs_conv_of_sum"] = gap(tied, of_sum)
        result["independent_slices_vs_conv_of_sum"] = gap(whole, of_sum)
    return result


def _mean_abs_channel_correlation(features: torch.Tensor) -> float:
    """Mean |Pearson r| over all pairs of channels (samples = batch x positions)."""
    flat = features.transpose(0, 1).reshape(features.shape[1], -1).double()
    flat = flat[flat.std(dim=1) > 1e-12]          # a dead (constant) channel has no correlation
    corr = torch.corrcoef(flat)
    return corr[~torch.eye(corr.shape[0], dtype=torch.bool)].abs().mean().item()


def feature_correlation(num_layers: int = 6, channels: int = 16, growth_rate: int = 16,
                        size: int = 16, batch: int = 32, seed: int = 0,
                        inputs: torch.Tensor | None = None) -> dict:
    """Mean |correlation| between the channels a next layer reads, at initialisation (BN in
    training mode): ``residual`` after each ``BasicBlock``, ``dense`` after each plain dense layer
    (``dense_new_only`` without the input's channels), ``input``. ``inputs`` replaces the noise."""
    check_int("num_layers", num_layers, 1)
    check_ints(2, channels=channels, growth_rate=growth_rate, size=size, batch=batch)
    torch.manual_seed(seed)
    x = torch.randn(batch, channels, size, size) if inputs is None else inputs.float()
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"inputs must have shape (batch, {channels}, H, W), got {tuple(x.shape)}")
    residual = nn.Sequential(*[BasicBlock(channels, channels) for _ in range(num_layers)])
    dense = DenseBlock(num_layers, channels, growth_rate, bottleneck=False)
    out = {"residual": [], "dense": [], "dense_new_only": [],
           "input": _mean_abs_channel_correlation(x)}
    with torch.no_grad():
        state, features = x, [x]
        for block, layer in zip(residual, dense.values()):
            state = block(state)
            out["residual"].append(_mean_abs_channel_correlation(state))
            features.append(layer(features))
            out["dense"].append(_mean_abs_channel_correlation(torch.cat(features, 1)))
            out["dense_new_only"].append(_mean_abs_channel_correlation(torch.cat(features[1:], 1)))
    return out
