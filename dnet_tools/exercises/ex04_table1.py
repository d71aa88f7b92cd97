"""Exercise 4 (the paper's Table 1): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex04_table1``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, call, seq, show, as_int, raised, shapes

EXERCISE = "ex04"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


_TABLES = {"imagenet": {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)},
           "cifar-bc": {100: (16, 16, 16), 190: (31, 31, 31), 250: (41, 41, 41)}}
_DEPTHS = (121, 169, 201, 264, 100, 190, 250, 0, 40, 161, 265)


def _q1_probe(ns, p):
    return [call(ns["table1_block_config"], d, what="table1_block_config") for d in _DEPTHS]


def _q1_judge(data, p):
    table = _TABLES[p["table"]]
    for depth, got in zip(_DEPTHS, data):
        if depth in table:
            values = [as_int(v, f"table1_block_config({depth})") for v in seq(got, f"table1_block_config({depth})")]
            assert tuple(values) == table[depth], f"table1_block_config({depth}): expected {table[depth]}, got {values}"
        else:
            raised(got, "ValueError", f"table1_block_config({depth})")


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



# Q2's text: "Use your table1_block_config" (not the library's factories or presets)
FACTORIES = ("densenet121", "densenet161", "densenet169", "densenet201", "densenet264", "densenet_cifar")
OWN_CONFIG = Rules("Q2 asks to build the model from your table1_block_config",
                   names=(*FACTORIES, *(f.upper() for f in FACTORIES[:5]), "cifar_config"),
                   require=("table1_block_config",), reflection=False)
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge),
             "q2": Question(_q2_probe, _q2_judge, tuple(f"models.{f}" for f in FACTORIES),
                            depends=("q1",), rules=OWN_CONFIG),
             "q3": Question(_q3_probe, _q3_judge)}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits_cifar = [
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

    return {
        "book": {"params": {"table": "imagenet", "report": "side"}, "replace": []},
        "b": {"params": {"table": "cifar-bc", "report": "channels"}, "replace": edits_cifar},
    }
