"""Exercise 2 (counting parameters): the graders' part -- hidden tests, rules and variants.

The notebook's visible checks are ``dnet_lib.exercises.ex02_parameters``. ``variants()`` holds the
variants' answer keys: the sandbox's copy of this module leaves it out.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _common
from ._common import Question, Rules, plain, call, show, as_float, as_int, close, count

EXERCISE = "ex02"
__all__ = ["EXERCISE", "QUESTIONS", "check_inline", "variants"]


def _q1_models():
    from dnet_lib import models
    frozen = nn.Linear(3, 2)
    frozen.weight.requires_grad_(False)
    with torch.device("meta"):
        d121 = models.densenet121()
    for prm in d121.features.denseblock1.parameters():
        prm.requires_grad_(False)
    return [nn.BatchNorm2d(10), nn.Linear(3, 2), frozen, d121]


def _q1_probe(ns, p):
    return [call(ns["count_parameters"], m, what="count_parameters") for m in _q1_models()]


def _q1_judge(data, p):
    for m, got in zip(_q1_models(), data):
        want = sum(q.numel() for q in m.parameters() if p["count"] == "all" or q.requires_grad)
        assert as_int(got, f"count_parameters({type(m).__name__})") == want, \
            f"count_parameters({type(m).__name__}): expected {want:,}, got {got:,}"


_Q2_CASES = [(3, 1, 1), (1024, 32, 4), (100, 12, 2), (77, 48, 4)]


def _q2_probe(ns, p):
    dense = [call(ns["dense_layer_params"], c, k, b, what="dense_layer_params") for c, k, b in _Q2_CASES]
    basic = [call(ns["basic_block_params"], c, what="basic_block_params") for c in (1, 16, 512)]
    return {"dense": dense, "basic": basic}


def _q2_judge(data, p):
    from dnet_lib import models
    for (c, k, b), got in zip(_Q2_CASES, data["dense"]):
        want = count(models.DenseLayer(c, k, bottleneck=p["bottleneck"], bn_size=b))
        assert as_int(got, "dense_layer_params") == want, f"dense_layer_params{(c, k, b)}: expected {want}, got {got}"
    for c, got in zip((1, 16, 512), data["basic"]):
        want = count(models.BasicBlock(c, c))
        assert as_int(got, "basic_block_params") == want, f"basic_block_params({c}): expected {want}, got {got}"


def _q3_models():
    from dnet_lib import models
    with torch.device("meta"):
        return models.resnet50(), models.densenet169()


def _q3_probe(ns, p):
    return [call(ns["stage_parameters"], m, what="stage_parameters") for m in _q3_models()]


def _q3_judge(data, p):
    resnet, dense = _q3_models()
    want_r = {"stem": count(resnet.conv1) + count(resnet.bn1), "head": count(resnet.fc)}
    want_r.update({f"layer{i}": count(getattr(resnet, f"layer{i}")) for i in range(1, 5)})
    feats = dict(dense.features.named_children())
    want_d = {"stem": sum(count(feats[n]) for n in ("conv0", "norm0"))}
    want_d.update({n: count(m) for n, m in feats.items() if n.startswith(("denseblock", "transition"))})
    final = [n for n in feats if n.startswith("norm") and n != "norm0"]
    if p["final_norm"] == "head":
        want_d["head"] = sum(count(feats[n]) for n in final) + count(dense.classifier)
    else:
        want_d.update({n: count(feats[n]) for n in final})
        want_d["head"] = count(dense.classifier)
    for name, got, want in (("ResNet-50", data[0], want_r), ("DenseNet-169", data[1], want_d)):
        assert isinstance(got, dict) and "dict" in got, f"stage_parameters({name}) must return a dict, got {show(got)}"
        table = got["dict"]
        assert set(table) == set(want), f"stage_parameters({name}): keys {sorted(table)}, expected {sorted(want)}"
        for k, v in want.items():
            assert as_int(table[k], f"{name} {k}") == v, f"stage_parameters({name})[{k!r}]: expected {v:,}, got {table[k]:,}"


def _q4_probe(ns, p):
    return plain(ns["param_ratio"], "param_ratio")


def _q4_judge(data, p):
    from dnet_lib import models
    with torch.device("meta"):
        want = count(getattr(models, p["resnet"])()) / count(getattr(models, p["densenet"])())
    close(as_float(data, "param_ratio"), want, "param_ratio")



# Q2's text: "plain arithmetic, no modules"
FORMULA = Rules("Q2 asks for the formula", names=("models", "nn", "torch", "dnet_lib", "arith"),
                imports=("math",), reflection=False)
QUESTIONS = {"q1": Question(_q1_probe, _q1_judge, ("arith.count_params",)),
             "q2": Question(_q2_probe, _q2_judge, ("arith.dense_layer_params",), rules=FORMULA),
             "q3": Question(_q3_probe, _q3_judge),
             "q4": Question(_q4_probe, _q4_judge, depends=("q1",))}


check_inline = _common.inline_checker(__name__)


def variants() -> dict:
    """name -> params and replace edits (``dnet_tools.exercises`` says what they are)."""
    edits = [
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
                    "    return (2 * in_channels + in_channels * width + 2 * width\n"
                    "            + 9 * width * growth_rate)",
         "    return 2 * in_channels + 9 * in_channels * growth_rate"),
        ("ex02-08", "check_layer_formulas(dense_layer_params, basic_block_params)",
         "check_layer_formulas(dense_layer_params, basic_block_params, bottleneck=False)"),
        ("ex02-09", '* `"head"`: the final BatchNorm (DenseNet) and the classifier (`classifier` / `fc`).',
         '* a DenseNet\'s final BatchNorm as an entry of its own, under its module name (`norm5`);\n'
         '* `"head"`: the classifier only (`classifier` / `fc`).'),
        ("ex02-10", 'table["head"] = table.get("head", 0) + params(child)', "table[name] = params(child)"),
    ]

    def _ratio(resnet: str, densenet: str, rname: str, dname: str) -> list:
        return [
            ("ex02-12", "(parameters of d2l's ResNet-18) / (parameters of d2l's DenseNet), both built for\n"
                        "1-channel 96×96 Fashion-MNIST with 10 classes: `models.d2l_resnet18()` and `models.d2l_densenet()`",
             f"(parameters of {rname}) / (parameters of {dname}), the ImageNet models\n"
             f"`models.{resnet}()` and `models.{densenet}()` (build them on the `meta` device: counts only)"),
            ("ex02-13", "param_ratio = (count_parameters(models.d2l_resnet18())\n"
                        "               / count_parameters(models.d2l_densenet()))",
             f'with torch.device("meta"):\n'
             f"    param_ratio = (count_parameters(models.{resnet}())\n"
             f"                   / count_parameters(models.{densenet}()))"),
            ("ex02-13", "ResNet-18 / DenseNet (d2l versions)", f"{rname} / {dname}"),
        ]

    params = {"count": "trainable", "bottleneck": False, "final_norm": "own"}
    return {
        "book": {"params": {"count": "all", "bottleneck": True, "final_norm": "head",
                            "resnet": "d2l_resnet18", "densenet": "d2l_densenet"}, "replace": []},
        "b": {"params": {**params, "resnet": "resnet34", "densenet": "densenet121"},
              "replace": edits + _ratio("resnet34", "densenet121", "ResNet-34", "DenseNet-121")},
        "c": {"params": {**params, "resnet": "resnet50", "densenet": "densenet169"},
              "replace": edits + _ratio("resnet50", "densenet169", "ResNet-50", "DenseNet-169")},
    }
