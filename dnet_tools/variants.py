"""Variants of the graded exercises: the book's version and versions the book does not answer.

``VARIANTS[exercise][name]`` has ``params`` (what ``dnet_tools.hidden_tests`` judges against) and
``replace``: (cell id, old text, new text) edits that turn the master into that variant's source
notebook: the question's text, the master's solution (so the answer key stays right) and the
visible check. ``python -m dnet_tools.course build --variant-seed N`` draws one non-book variant
per exercise; the book's pages keep ``book``. The build fails if an ``old`` text is missing, so
an edit of a master cannot silently disconnect a variant.
"""
from __future__ import annotations

__all__ = ["VARIANTS"]

_EX01_SMALL = [
    ("ex01-03", "that receive a non-zero gradient when",
     "that receive **no** gradient (a gradient of exactly zero) when"),
    ("ex01-04", "(x.grad != 0)", "(x.grad == 0)"),
    ("ex01-05", "check_gradient_coverage(gradient_coverage)", 'check_gradient_coverage(gradient_coverage, count="zero")'),
    ("ex01-06", "the largest absolute difference", "the **mean** absolute difference"),
    ("ex01-07", ".abs().max())", ".abs().mean())"),
]


def _ex01_net(growth: int, blocks: tuple, stem: int, words: str) -> list:
    return [("ex01-09", "growth rate 12, three dense blocks of 2 bottleneck\nlayers, 24 stem channels",
             f"growth rate {growth}, {words}\nlayers, {stem} stem channels"),
            ("ex01-10", "growth_rate=12, block_config=(2, 2, 2), num_init_features=24",
             f"growth_rate={growth}, block_config={blocks}, num_init_features={stem}")]


_EX02 = [
    ("ex02-03", "the number of learnable values in `model` (all its parameters, not the\n"
                "BatchNorm running statistics, which are buffers)",
     "the number of *trainable* values in `model`: the parameters with\n"
     "`requires_grad=True` (frozen parameters and BatchNorm running statistics do not count)"),
    ("ex02-04", "return sum(p.numel() for p in model.parameters())",
     "return sum(p.numel() for p in model.parameters() if p.requires_grad)"),
    ("ex02-06", "a DenseNet-B layer\n  BN($c$) - ReLU - $1\\times1$ conv ($c \\to$ `bn_size`$\\cdot k$, no bias) - BN - "
                "ReLU - $3\\times3$ conv\n  ($\\to k$, no bias)",
     "a plain DenseNet layer\n  without bottleneck (`bn_size` is ignored): BN($c$) - ReLU - $3\\times3$ conv "
     "($c \\to k$, no bias)"),
    ("ex02-07", "    width = bn_size * growth_rate\n"
                "    return 2 * in_channels + in_channels * width + 2 * width + 9 * width * growth_rate",
     "    return 2 * in_channels + 9 * in_channels * growth_rate"),
    ("ex02-08", "check_layer_formulas(dense_layer_params, basic_block_params)",
     "check_layer_formulas(dense_layer_params, basic_block_params, bottleneck=False)"),
    ("ex02-09", '* `"head"`: the final BatchNorm (DenseNet) and the classifier (`classifier` / `fc`).',
     '* a DenseNet\'s final BatchNorm as an entry of its own, under its module name (`norm5`);\n'
     '* `"head"`: the classifier only (`classifier` / `fc`).'),
    ("ex02-10", 'table["head"] = table.get("head", 0) + params(child)', "table[name] = params(child)"),
]


def _ex02_ratio(resnet: str, densenet: str, rname: str, dname: str) -> list:
    return [
        ("ex02-12", "(parameters of d2l's ResNet-18) / (parameters of d2l's DenseNet), both built for\n"
                    "1-channel 96×96 Fashion-MNIST with 10 classes: `models.d2l_resnet18()` and `models.d2l_densenet()`",
         f"(parameters of {rname}) / (parameters of {dname}), the ImageNet models\n"
         f"`models.{resnet}()` and `models.{densenet}()` (build them on the `meta` device: counts only)"),
        ("ex02-13", "param_ratio = count_parameters(models.d2l_resnet18()) / count_parameters(models.d2l_densenet())",
         f'with torch.device("meta"):\n'
         f"    param_ratio = count_parameters(models.{resnet}()) / count_parameters(models.{densenet}())"),
        ("ex02-13", "ResNet-18 / DenseNet (d2l versions)", f"{rname} / {dname}"),
    ]


_EX03 = [
    ("ex03-03", "return the number of bytes of the tensors\npacked for backward, as an `int`.",
     "return the number of **elements** of the tensors\npacked for backward (a storage's `nbytes()` divided by "
     "the `element_size()` of the tensor packed), as an `int`."),
    ("ex03-04", "seen[ptr] = t.untyped_storage().nbytes()", "seen[ptr] = t.untyped_storage().nbytes() // t.element_size()"),
    ("ex03-05", "check_saved_bytes(saved_bytes)", 'check_saved_bytes(saved_bytes, unit="elements")'),
    ("ex03-09", "and return\n`(plain, efficient)`.", "and return\n`(efficient, plain)`: the memory-efficient model **first**."),
    ("ex03-10", "    return plain, efficient", "    return efficient, plain"),
    ("ex03-11", "check_efficient_pair(efficient_pair)", 'check_efficient_pair(efficient_pair, order="efficient-first")'),
    ("ex03-13", "plain, efficient = efficient_pair(models.d2l_densenet)",
     "efficient, plain = efficient_pair(models.d2l_densenet)"),
]


def _ex03_sizes(high: int, low: int) -> list:
    out = [("ex03-06", "From 96×96 to 224×224", f"From {low}×{low} to {high}×{high}"),
           ("ex03-06", "at 224×224 divided by saved bytes at 96×96", f"at {high}×{high} divided by saved bytes at {low}×{low}"),
           ("ex03-07", "torch.randn(1, 1, 224, 224)", f"torch.randn(1, 1, {high}, {high})"),
           ("ex03-07", "224x224 / 96x96", f"{high}x{high} / {low}x{low}"),
           ("ex03-07", "(224 / 96) ** 2", f"({high} / {low}) ** 2"),
           ("ex03-08", "check_resolution_ratio(resolution_ratio)", f"check_resolution_ratio(resolution_ratio, sizes=({high}, {low}))")]
    if low != 96:
        out.append(("ex03-07", "torch.randn(1, 1, 96, 96)", f"torch.randn(1, 1, {low}, {low})"))
    return out


_EX04_CIFAR = [
    ("ex04-03", "Write\n`table1_block_config(depth)` returning the four block lengths $(n_1, n_2, n_3, n_4)$ of Table 1 for depth\n"
                "121, 169, 201 or 264 (all start with 6 and 12 layers), and raising `ValueError` naming the depth for any\n"
                "other value.",
     "**In this assignment you work with Table 2's CIFAR models instead**: a DenseNet-BC of depth $L$ has\n"
     "three dense blocks of $(L-4)/6$ bottleneck layers each. Write `table1_block_config(depth)` returning the\n"
     "three block lengths for depth 100, 190 or 250 (the DenseNet-BC rows of Table 2), and raising `ValueError`\n"
     "naming the depth for any other value."),
    ("ex04-04", "configs = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32),\n               201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}",
     "configs = {100: (16, 16, 16), 190: (31, 31, 31), 250: (41, 41, 41)}"),
    ("ex04-05", "check_table1_config(table1_block_config)", 'check_table1_config(table1_block_config, table="cifar-bc")'),
    ("ex04-06", "Table 1 configuration: growth rate 32, 64 stem channels, bottleneck width $4k$, compression 0.5, the\n"
                "ImageNet stem.",
     "CIFAR DenseNet-BC configuration: growth rate 12, 24 stem channels, bottleneck width $4k$, compression 0.5,\n"
     'the CIFAR stem (`stem=models.CIFAR_STEM`, 3 input channels).'),
    ("ex04-07", "growth_rate=32,", "growth_rate=12,"),
    ("ex04-07", "num_init_features=64,", "num_init_features=24,"),
    ("ex04-07", "stem=models.IMAGENET_STEM", "stem=models.CIFAR_STEM"),
    ("ex04-08", "check_table1_model(build_table1_densenet)", 'check_table1_model(build_table1_densenet, table="cifar-bc")'),
    ("ex04-09", "*child name -> side length*", "*child name -> number of channels*"),
    ("ex04-09", "Table 1 says: 112 after the\nstem convolution, 56 after the pooling and the first block, then 28, 14 and 7 "
                "after each transition.",
     "For DenseNet-121: 64 channels after\nthe stem, 256 after the first block, then halved by each transition."),
    ("ex04-10", "sizes[name] = x.shape[-1]", "sizes[name] = x.shape[1]"),
    ("ex04-11", "check_output_sizes(output_sizes)", 'check_output_sizes(output_sizes, report="channels")'),
    ("ex04-13", "(121, 169, 201, 264)", "(100, 190, 250)"),
]

_EX05_ROWS = [
    ("ex05-03", "Write `split_linear(linear, sizes)`: given an `nn.Linear` that reads a concatenation of pieces of widths\n"
                "`sizes`, return the list of weight blocks $W_i$ (each of shape `(out_features, sizes[i])`) such that\n"
                "`linear(torch.cat(pieces, 1)) == sum(p @ W_i.T) + linear.bias`.",
     "**In this assignment the cut is on the other side**: a layer whose *output* is cut into pieces of widths\n"
     "`sizes`. Write `split_linear(linear, sizes)` returning the list of weight blocks $W_i$ (each of shape\n"
     "`(sizes[i], in_features)`) such that piece $i$ of `linear(x)` equals `x @ W_i.T` plus its part of the bias;\n"
     "raise `ValueError` unless `sum(sizes) == linear.out_features`."),
    ("ex05-04", "Column blocks of ``linear.weight``, one per concatenated piece.",
     "Row blocks of ``linear.weight``, one per piece of the output."),
    ("ex05-04", "if sum(sizes) != linear.in_features:", "if sum(sizes) != linear.out_features:"),
    ("ex05-04", "add up to in_features={linear.in_features}", "add up to out_features={linear.out_features}"),
    ("ex05-04", "list(sizes), dim=1))", "list(sizes), dim=0))"),
    ("ex05-05", "check_split_linear(split_linear)", 'check_split_linear(split_linear, split="rows")'),
    ("ex05-06", "Write `as_residual(A, B)` returning the matrix $M$ with $A(\\mathbf{x} + M\\mathbf{v}) = A\\mathbf{x} + "
                "B\\mathbf{v}$\nfor all $\\mathbf{x}, \\mathbf{v}$.",
     "**In this assignment vectors are rows**, as in `nn.Linear` (a sample is a row): write `as_residual(A, B)`\n"
     "returning the matrix $M$ with $(\\mathbf{x} + \\mathbf{v}M)A = \\mathbf{x}A + \\mathbf{v}B$ for all row vectors "
     "$\\mathbf{x}, \\mathbf{v}$."),
    ("ex05-07", "M such that A @ (x + M @ v) == A @ x + B @ v.", "M such that (x + v @ M) @ A == x @ A + v @ B."),
    ("ex05-07", "torch.linalg.solve(A, B)", "torch.linalg.solve(A, B, left=False)"),
    ("ex05-08", "check_as_residual(as_residual)", 'check_as_residual(as_residual, side="right")'),
    ("ex05-09", "the best affine least-squares fit of `target`", "the best *linear* least-squares fit of `target`"),
    ("ex05-09", "i.e. minimise\n$\\lVert [\\,F\\;\\mathbf{1}\\,] W - Y\\rVert$", "**without** an intercept, i.e. minimise\n$\\lVert F W - Y\\rVert$"),
    ("ex05-09", "$\\lVert \\hat Y - Y\\rVert / \\lVert Y - \\bar Y\\rVert$", "$\\lVert \\hat Y - Y\\rVert / \\lVert Y\\rVert$"),
    ("ex05-10", "design = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)", "design = features"),
    ("ex05-10", "(target - target.mean(0)).norm()", "target.norm()"),
    ("ex05-11", "check_fit_error(fit_error)", 'check_fit_error(fit_error, fit="linear")'),
    ("ex05-13", "A, B = split_linear(out, [width, width])", "A, B = out.weight[:, :width], out.weight[:, width:]"),
    ("ex05-13", "M = as_residual(A.detach(), B.detach())", "M = as_residual(A.detach().T, B.detach().T)"),
    ("ex05-13", "(terms[0] + terms[1] @ M.T) @ A.T", "(terms[0] + terms[1] @ M) @ A.T"),
]

_EX06 = [
    ("ex06-03", "followed by\na ReLU,", "followed by\na **tanh**,"),
    ("ex06-04", "torch.relu(layer(", "torch.tanh(layer("),
    ("ex06-06", "Fold $j$ validates on the contiguous range `[j * n // k, (j + 1) * n // k)` and trains on all\n"
                "other indices, so every sample is validated exactly once (d2l instead drops the last `n % k` samples).",
     "Fold $j$ validates on the **interleaved** indices `j, j + k, j + 2k, ...` (below `n`) and trains on all\n"
     "other indices, so every sample is validated exactly once."),
    ("ex06-07", "        lo, hi = j * n // k, (j + 1) * n // k\n        valid = torch.arange(lo, hi)\n"
                "        train = torch.cat([torch.arange(0, lo), torch.arange(hi, n)])",
     "        valid = torch.arange(j, n, k)\n        keep = torch.ones(n, dtype=torch.bool)\n"
     "        keep[valid] = False\n        train = torch.arange(n)[keep]"),
    ("ex06-09", "Kaggle scores the root-mean-squared error between the logarithms of predicted and true prices. Write\n"
                "`log_rmse(pred_price, price)` returning it as a float;",
     "**In this assignment the error is measured in decimal logarithms**: write `log_rmse(pred_price, price)`\n"
     "returning the root-mean-squared error between the base-10 logarithms of predicted and true prices, as a\n"
     "float;"),
    ("ex06-10", "torch.log(clipped) - torch.log(price)", "torch.log10(clipped) - torch.log10(price)"),
    ("ex06-11", "check_log_rmse(log_rmse)", "check_log_rmse(log_rmse, base=10)"),
]

_P01 = {"count": "zero", "reduce": "mean"}
_P02 = {"count": "trainable", "bottleneck": False, "final_norm": "own"}
_P03 = {"unit": "elements", "order": "efficient-first"}

VARIANTS: dict[str, dict[str, dict]] = {
    "ex01": {
        "book": {"params": {"count": "nonzero", "reduce": "max", "growth": 12, "blocks": [2, 2, 2], "stem": 24},
                 "replace": []},
        "b": {"params": {**_P01, "growth": 8, "blocks": [3, 3], "stem": 16},
              "replace": _EX01_SMALL + _ex01_net(8, (3, 3), 16, "two dense blocks of 3 bottleneck")},
        "c": {"params": {**_P01, "growth": 16, "blocks": [1, 2, 3], "stem": 32},
              "replace": _EX01_SMALL + _ex01_net(16, (1, 2, 3), 32, "three dense blocks of 1, 2 and 3 bottleneck")},
    },
    "ex02": {
        "book": {"params": {"count": "all", "bottleneck": True, "final_norm": "head",
                            "resnet": "d2l_resnet18", "densenet": "d2l_densenet"}, "replace": []},
        "b": {"params": {**_P02, "resnet": "resnet34", "densenet": "densenet121"},
              "replace": _EX02 + _ex02_ratio("resnet34", "densenet121", "ResNet-34", "DenseNet-121")},
        "c": {"params": {**_P02, "resnet": "resnet50", "densenet": "densenet169"},
              "replace": _EX02 + _ex02_ratio("resnet50", "densenet169", "ResNet-50", "DenseNet-169")},
    },
    "ex03": {
        "book": {"params": {"unit": "bytes", "sizes": [224, 96], "order": "plain-first"}, "replace": []},
        "b": {"params": {**_P03, "sizes": [160, 96]}, "replace": _EX03 + _ex03_sizes(160, 96)},
        "c": {"params": {**_P03, "sizes": [192, 64]}, "replace": _EX03 + _ex03_sizes(192, 64)},
    },
    "ex04": {
        "book": {"params": {"table": "imagenet", "report": "side"}, "replace": []},
        "b": {"params": {"table": "cifar-bc", "report": "channels"}, "replace": _EX04_CIFAR},
    },
    "ex05": {
        "book": {"params": {"split": "columns", "side": "left", "fit": "affine"}, "replace": []},
        "b": {"params": {"split": "rows", "side": "right", "fit": "linear"}, "replace": _EX05_ROWS},
    },
    "ex06": {
        "book": {"params": {"activation": "relu", "folds": "contiguous", "base": "e"}, "replace": []},
        "b": {"params": {"activation": "tanh", "folds": "interleaved", "base": "10"}, "replace": _EX06},
    },
}
