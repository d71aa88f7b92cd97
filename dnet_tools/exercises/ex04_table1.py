"""Exercise 4 (the paper's Table 1): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex04_table1``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, call, show, as_int, raised, shapes

EXERCISE = "ex04"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


_TABLES = {"imagenet": {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)},
           "cifar-bc": {100: (16, 16, 16), 190: (31, 31, 31), 250: (41, 41, 41)}}
# Q1's hidden cases: Table 1's rows, then block lengths the notebook never shows (other lengths,
# one to four blocks, plain layers), lists as well as tuples; None: the default bottleneck=True
_Q1_CASES = [((6, 12, 24, 16), None), ((6, 12, 32, 32), None), ((6, 12, 48, 32), None),
             ((6, 12, 64, 48), None), ((6, 12, 36, 24), None), ((16, 16, 16), True),
             ((12, 12, 12), False), ((3, 4, 5, 6), None), ([5, 5, 5], False), ((1,), True),
             ((2, 3), False), ([31, 31, 31], True), ((4, 4, 4, 4), False), ((7, 1, 9), True)]
_Q1_BAD = [(), (6, 0, 24), (6, -2), [0]]
_Q1_NAMES = {"depth": "table1_depth", "batchnorm": "count_batchnorms"}


def _q1_text(name: str, blocks, bottleneck) -> str:
    return f"{name}({list(blocks)}{'' if bottleneck is None else f', bottleneck={bottleneck}'})"


def _q1_call(fn, blocks, bottleneck, name):
    blocks = list(blocks) if isinstance(blocks, list) else tuple(blocks)   # a copy for the answer
    if bottleneck is None:
        return call(fn, blocks, what=_q1_text(name, blocks, bottleneck))
    return call(fn, blocks, bottleneck=bottleneck, what=_q1_text(name, blocks, bottleneck))


def _q1_probe(ns, p):
    name = _Q1_NAMES[p["count"]]
    fn = ns.get(name)
    if not callable(fn):
        return {"error": "NameError", "message": f"the answer defines no function {name}"}
    return {"good": [_q1_call(fn, b, bn, name) for b, bn in _Q1_CASES],
            "bad": [_q1_call(fn, b, None, name) for b in _Q1_BAD]}


def _q1_want(blocks, bottleneck: bool, count: str) -> int:
    """The count read off a real model (meta device): weighted layers, or BatchNorm layers of the
    CIFAR model."""
    from dnet_lib import models
    stem = models.IMAGENET_STEM if count == "depth" else models.CIFAR_STEM
    with torch.device("meta"):
        net = models.DenseNet(growth_rate=4, block_config=tuple(blocks), num_init_features=8,
                              bottleneck=bottleneck, compression=0.5, num_classes=10, stem=stem)
    kinds = (nn.Conv2d, nn.Linear) if count == "depth" else (nn.BatchNorm2d,)
    return sum(isinstance(m, kinds) for m in net.modules())


def _q1_judge(data, p):
    name = _Q1_NAMES[p["count"]]
    for (blocks, bottleneck), got in zip(_Q1_CASES, data["good"], strict=True):
        call_text = _q1_text(name, blocks, bottleneck)
        want = _q1_want(blocks, bottleneck is not False, p["count"])
        assert as_int(got, call_text) == want, f"{call_text}: expected {want}, got {got}"
    for blocks, got in zip(_Q1_BAD, data["bad"], strict=True):
        raised(got, "ValueError", f"{name}({list(blocks)})")
        assert "block_config" in got.get("message", ""), \
            f"the ValueError of {name}({list(blocks)}) should name block_config, got {got.get('message')!r}"


def _reference(depth: int, p: dict, num_classes: int):
    from dnet_lib import models
    if p["table"] == "imagenet":
        return models.DenseNet(growth_rate=32, block_config=_TABLES["imagenet"][depth], num_init_features=64,
                               bn_size=4, compression=0.5, num_classes=num_classes, stem=models.IMAGENET_STEM)
    return models.DenseNet(growth_rate=12, block_config=_TABLES["cifar-bc"][depth], num_init_features=24,
                           bn_size=4, compression=0.5, num_classes=num_classes, stem=models.CIFAR_STEM)


def _q2_probe(ns, p):
    out = []
    for depth, classes in zip(sorted(_TABLES[p["table"]])[:3], (1000, 10, 100)):
        try:
            with torch.device("meta"):
                model = ns["build_table1_densenet"](depth, num_classes=classes)
            out.append({"type": type(model).__qualname__, "shapes": shapes(model)})
        except Exception as e:      # noqa: BLE001
            out.append({"error": type(e).__name__, "message": str(e)[:200]})
    return out


def _q2_judge(data, p):
    for depth, classes, got in zip(sorted(_TABLES[p["table"]])[:3], (1000, 10, 100), data):
        assert "error" not in got, f"build_table1_densenet({depth}) raised {got.get('error')}: {got.get('message')}"
        assert got["type"] == "DenseNet", f"build_table1_densenet must return a dnet_lib DenseNet, got {got['type']}"
        with torch.device("meta"):
            want = shapes(_reference(depth, p, classes))
        assert got["shapes"] == want, f"DenseNet-{depth} ({classes} classes): layers differ from the table's"


def _q3_probe(ns, p):
    from dnet_lib import models
    with torch.device("meta"):
        m = models.densenet169()
    return [call(ns["output_sizes"], m, s, what="output_sizes") for s in (224, 320)]


def _q3_judge(data, p):
    from dnet_lib import models
    with torch.device("meta"):
        m = models.densenet169()
    for size, got in zip((224, 320), data):
        x = torch.empty(1, 3, size, size, device="meta")
        want = {}
        for name, child in m.features.named_children():
            x = child(x)
            want[name] = int(x.shape[-1] if p["report"] == "side" else x.shape[1])
        assert isinstance(got, dict) and "dict" in got, f"output_sizes must return a dict, got {show(got)}"
        got = {k: as_int(v, f"output_sizes[{k!r}]") for k, v in got["dict"].items()}
        assert got == want, f"output_sizes(densenet169, {size}): expected {want}, got {got}"



# Q1's text: plain arithmetic on the block lengths (no model to count, no table to look up)
ARITHMETIC = Rules("Q1 asks for the count from the block lengths",
                   names=("models", "nn", "torch", "dnet_lib", "arith", "TABLE1"), imports=("math",),
                   reflection=False)
# Q2's text: "Take the block lengths from TABLE1" (not the library's factories or presets)
FACTORIES = ("densenet121", "densenet161", "densenet169", "densenet201", "densenet264", "densenet_cifar")
OWN_CONFIG = Rules("Q2 asks to build the model from TABLE1",
                   names=(*FACTORIES, *(f.upper() for f in FACTORIES[:5]), "cifar_config"),
                   reflection=False)
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge, rules=ARITHMETIC),
             "q2": Question(_q2_probe, _q2_judge, tuple(f"models.{f}" for f in FACTORIES),
                            rules=OWN_CONFIG),
             "q3": Question(_q3_probe, _q3_judge)}


check_inline = _common.inline_checker(__name__)


# Q1's text in the book, and in the CIFAR variant (which counts the BatchNorm layers instead)
_Q1_BOOK = r"""## Q1. The depth from the block lengths (2 points)

The number in a DenseNet's name is its depth $L$: the number of layers with weights, that is the
convolutions and the fully connected classifier (BatchNorm, ReLU and pooling do not count).
`TABLE1` in the setup cell lists the block lengths $(n_1, n_2, n_3, n_4)$ of Table 1's four models,
and the depth follows from what the network is made of:

- the stem: one $7\times7$ convolution, then BN-ReLU and a max pool;
- each dense layer: BN-ReLU-conv $3\times3$, with a bottleneck BN-ReLU-conv $1\times1$ before it
  when `bottleneck=True` (DenseNet-B; Table 1's models all have it);
- between two dense blocks, a transition: BN-ReLU, a $1\times1$ convolution, average pooling;
- the head: BN-ReLU, global average pooling and the fully connected classifier.

Write `table1_depth(block_config, bottleneck=True)` returning that count (an `int`) for any block
lengths, not only Table 1's, and raising `ValueError` naming `block_config` and the allowed values
when it is empty or a length is not an integer of at least 1. Count with plain arithmetic on the
block lengths: no model to count modules of, no lookup in `TABLE1`. Then check your count against
the table: it gives 121, 169 and 201, but the "264" row's blocks give 265, a known slip in the
paper's naming. It also names Table 2's CIFAR models: three blocks of 12 plain layers are
DenseNet-40, three blocks of 16 bottleneck layers DenseNet-BC-100."""
_Q1_CIFAR = r"""## Q1. The BatchNorm layers from the block lengths (2 points)

**In this assignment you work with Table 2's CIFAR DenseNet-BC models instead**, and Q1 counts
their BatchNorm layers. `TABLE1` in the setup cell holds their block lengths: three equal blocks of
$(L-4)/6$ bottleneck layers for depth $L$. A CIFAR DenseNet is made of:

- the stem: one $3\times3$ convolution, with no BatchNorm and no pooling;
- each dense layer: BN-ReLU-conv $3\times3$, with a bottleneck BN-ReLU-conv $1\times1$ before it
  when `bottleneck=True` (DenseNet-BC has it, Table 2's plain DenseNets do not);
- between two dense blocks, a transition: BN-ReLU, a $1\times1$ convolution, average pooling;
- the head: BN-ReLU, global average pooling and the fully connected classifier.

Write `count_batchnorms(block_config, bottleneck=True)` returning the number of BatchNorm layers
(an `int`) for any block lengths, not only Table 2's, and raising `ValueError` naming
`block_config` and the allowed values when it is empty or a length is not an integer of at least
1. Count with plain arithmetic on the block lengths: no model to count modules of, no lookup in
`TABLE1`."""


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits_cifar = [
        ("ex04-02", "# Table 1: the depth in a model's name -> the layers in dense blocks 1 to 4\n"
                    "TABLE1 = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32),\n"
                    "          201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}",
         "# this assignment's models, Table 2's DenseNet-BC: depth -> the layers in\n"
         "# dense blocks 1 to 3\n"
         "TABLE1 = {100: (16, 16, 16), 190: (31, 31, 31), 250: (41, 41, 41)}"),
        ("ex04-03", _Q1_BOOK, _Q1_CIFAR),
        ("ex04-04", "def table1_depth(", "def count_batchnorms("),
        ("ex04-04", "    convs_per_layer = 2 if bottleneck else 1      # bottleneck: 1x1, then 3x3\n"
                    "    transitions = len(block_config) - 1           # one 1x1 conv each\n"
                    "    # the stem conv, the dense layers' convs, the transitions, the classifier\n"
                    "    return 1 + convs_per_layer * sum(block_config) + transitions + 1",
         "    norms_per_layer = 2 if bottleneck else 1      # one before each conv\n"
         "    transitions = len(block_config) - 1           # one BN each\n"
         "    # none in the CIFAR stem; the dense layers', the transitions', the final one\n"
         "    return norms_per_layer * sum(block_config) + transitions + 1"),
        ("ex04-05", "check_table1_depth(table1_depth)", 'check_table1_depth(count_batchnorms, count="batchnorm")'),
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
        ("ex04-13", '"depth (Q1)": table1_depth(config),', '"BatchNorms (Q1)": count_batchnorms(config),'),
        ("ex04-13", '"side after each block":', '"channels after each block":'),
        # the given cells after Q3 read this variant's models, or build DenseNet-121 themselves
        ("fd29167b", 'glue("d264_depth", int(table1.loc["DenseNet-264", "depth (Q1)"]), display=False)\n'
                     'glue("d121_params", int(table1.loc["DenseNet-121", "params (ours)"]), display=False)\n'
                     'glue("d264_params", int(table1.loc["DenseNet-264", "params (ours)"]), display=False)',
         'glue("bn250", int(table1.loc["DenseNet-250", "BatchNorms (Q1)"]), display=False)\n'
         'glue("bc100_params", int(table1.loc["DenseNet-100", "params (ours)"]), display=False)\n'
         'glue("bc250_params", int(table1.loc["DenseNet-250", "params (ours)"]), display=False)'),
        ("57c2dc90", "Three of the four models, {glue:text}`tv_equal:d` in all, have exactly torchvision's parameter\n"
                     "count (DenseNet-121: {glue:text}`d121_params:,d`); DenseNet-264, which torchvision lacks, has\n"
                     "{glue:text}`d264_params:,d`, and its blocks give a depth of {glue:text}`d264_depth:d`, not 264.",
         "torchvision has none of these models (its DenseNets are Table 1's ImageNet ones): DenseNet-BC-100\n"
         "has {glue:text}`bc100_params:,d` parameters with a 1000-class head (Table 2's 0.8M is for 10\n"
         "classes), DenseNet-BC-250 at the same growth rate {glue:text}`bc250_params:,d`, with\n"
         "{glue:text}`bn250:d` BatchNorm layers."),
        ("a8ce6bb4", "    d121 = build_table1_densenet(121)",
         "    d121 = models.DenseNet(growth_rate=32, block_config=(6, 12, 24, 16),\n"
         "                           num_init_features=64, bottleneck=True,\n"
         "                           compression=0.5, stem=models.IMAGENET_STEM)"),
        ("a8ce6bb4", 'sides = [s for n, s in output_sizes(d121).items() if n.startswith("dense")]',
         "sides = [56, 28, 14, 7]     # Table 1's output sizes of blocks 1 to 4 at 224 px"),
    ]

    return {
        "book": {"params": {"table": "imagenet", "report": "side", "count": "depth"}, "replace": []},
        "b": {"params": {"table": "cifar-bc", "report": "channels", "count": "batchnorm"},
              "replace": edits_cifar},
    }
