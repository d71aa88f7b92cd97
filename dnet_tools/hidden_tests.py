"""Hidden tests of the graded exercises, split so that student code cannot decide the verdict.

Each question has two halves:

* ``probe(ns, params)`` calls the student's function (found in the namespace ``ns``) on fixed
  inputs and returns **plain data** (ints, floats, strings, lists, dicts) built by :func:`plain`,
  which accepts only exact built-in types and exact ``torch.Tensor`` objects. It runs wherever
  the student's code runs: inline in the book build, or in a sandboxed subprocess when grading.
* ``judge(data, params)`` runs in the grader's own process. It receives the probe's output as
  JSON, recomputes every expected value itself from a pristine ``dnet_lib``/PyTorch, and raises
  ``AssertionError`` on a mismatch. Nothing the student's code returns is ever compared by its
  own ``__eq__``.

The variants of each exercise (the parameters the judges read) live in ``dnet_tools.variants``.
``forbidden`` names library functions that implement the asked function: the
sandbox replaces them by stubs that raise, so calling them cannot earn the points.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

__all__ = ["Question", "QUESTIONS", "plain", "check_inline", "judge", "variant_params", "PlainDataError"]


class PlainDataError(TypeError):
    """A student's value is not of the exact type the question asks for."""


def plain(x: Any, what: str = "value") -> Any:
    """``x`` as JSON-ready data, accepting exact types only (no subclasses, no look-alikes)."""
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else repr(x)
    if t is torch.Tensor or t is nn.Parameter:
        return {"tensor": x.detach().cpu().to(torch.float64).tolist(), "shape": list(x.shape),
                "dtype": str(x.dtype).replace("torch.", "")}
    if t is torch.Size:
        return [int(n) for n in x]
    if t in (list, tuple):
        return {"list" if t is list else "tuple": [plain(v, what) for v in x]}
    if t is dict:
        out = {}
        for k, v in x.items():
            if type(k) is not str:
                raise PlainDataError(f"{what}: dict keys must be str, got {type(k).__name__}")
            out[k] = plain(v, what)
        return {"dict": out}
    raise PlainDataError(f"{what}: expected a plain Python/PyTorch value, got {t.__module__}.{t.__qualname__}")


def _call(fn: Callable, *args, what: str, **kwargs) -> Any:
    """Plain data of ``fn(*args)``, or ``{"error": ...}`` when it raises."""
    try:
        return plain(fn(*args, **kwargs), what)
    except BaseException as e:      # noqa: BLE001 - a student's error is data here
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return {"error": type(e).__name__, "message": str(e)[:200]}


def _seq(data, what: str) -> list:
    """The list inside plain data of a list or tuple."""
    assert isinstance(data, dict) and ("list" in data or "tuple" in data), f"{what}: expected a list or tuple, got {_show(data)}"
    return data.get("list", data.get("tuple"))


def _show(data) -> str:
    if isinstance(data, dict) and "error" in data:
        return f"an error ({data['error']}: {data.get('message', '')})"
    text = json.dumps(data)
    return text if len(text) < 120 else text[:117] + "..."


def _float(data, what: str) -> float:
    assert type(data) is float, f"{what} must be a Python float, got {_show(data)}"
    return data


def _int(data, what: str) -> int:
    assert type(data) is int, f"{what} must be a Python int, got {_show(data)}"
    return data


def _tensor(data, what: str) -> torch.Tensor:
    assert isinstance(data, dict) and "tensor" in data, f"{what} must be a torch.Tensor, got {_show(data)}"
    return torch.tensor(data["tensor"], dtype=torch.float64).reshape(data["shape"])


def _close(got: float, want: float, what: str, tol: float = 1e-9) -> None:
    assert abs(got - want) <= tol * max(1.0, abs(want)), f"{what}: expected {want:.6g}, got {got:.6g}"


def _raised(data, error: str, what: str) -> None:
    assert isinstance(data, dict) and data.get("error") == error, f"{what} should raise {error}, got {_show(data)}"


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: nn.Module) -> dict:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


# =========================================================================== ex01: pooling
def _ex01_pools():
    return [nn.MaxPool2d(2, 2), nn.AvgPool2d(2, 2), nn.MaxPool2d(3, 1, 1), nn.MaxPool2d(3, 3)]


def _ex01_q1_probe(ns, p):
    x = torch.randn(3, 5, 10, 10, generator=torch.Generator().manual_seed(21))
    values = [_call(ns["gradient_coverage"], pool, x, what="gradient_coverage") for pool in _ex01_pools()]
    return {"values": values, "untouched": x.grad is None and not x.requires_grad}


def _ex01_q1_judge(data, p):
    x = torch.randn(3, 5, 10, 10, generator=torch.Generator().manual_seed(21))
    assert data["untouched"] is True, "gradient_coverage must not modify the caller's tensor"
    for pool, got in zip(_ex01_pools(), data["values"]):
        y = x.clone().requires_grad_(True)
        pool(y).sum().backward()
        hit = float((y.grad != 0).double().mean())
        _close(_float(got, f"gradient_coverage({pool})"), hit if p["count"] == "nonzero" else 1.0 - hit,
               f"gradient_coverage({pool})", 1e-6)      # a float32 mean is fine


def _ex01_q2_inputs():
    torch.manual_seed(22)
    return torch.randn(2, 6, 8, 8), nn.Conv2d(6, 5, 1)


def _ex01_q2_probe(ns, p):
    x, conv = _ex01_q2_inputs()
    return [_call(ns["swap_error"], pool, conv, x, what="swap_error") for pool in _ex01_pools()]


def _ex01_q2_judge(data, p):
    x, conv = _ex01_q2_inputs()
    for pool, got in zip(_ex01_pools(), data):
        with torch.no_grad():
            diff = (pool(conv(x)) - conv(pool(x))).abs()
        want = float(diff.max() if p["reduce"] == "max" else diff.mean())
        _close(_float(got, f"swap_error({pool})"), want, f"swap_error({pool})", 1e-5)


def _ex01_q3_probe(ns, p):
    out = {}
    for pool in ("avg", "max"):
        try:
            model = ns["make_densenet"](pool)
            out[pool] = {"type": type(model).__qualname__, "shapes": _shapes(model),
                         "pools": [type(m).__name__ for m in model.modules()
                                   if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))],
                         "logits": list(model.eval()(torch.zeros(2, 1, 28, 28)).shape)}
        except Exception as e:      # noqa: BLE001
            out[pool] = {"error": type(e).__name__, "message": str(e)[:200]}
    return out


def _ex01_q3_judge(data, p):
    from dnet_lib import models
    for pool in ("avg", "max"):
        got = data[pool]
        assert "error" not in got, f"make_densenet({pool!r}) raised {got.get('error')}: {got.get('message')}"
        ref = models.DenseNet(growth_rate=p["growth"], block_config=tuple(p["blocks"]),
                              num_init_features=p["stem"], bottleneck=True, compression=0.5,
                              num_classes=10, in_channels=1, stem=models.CIFAR_STEM, transition_pool=pool)
        assert got["type"] == "DenseNet", f"make_densenet must return a dnet_lib DenseNet, got {got['type']}"
        assert got["shapes"] == _shapes(ref), f"make_densenet({pool!r}) has other layers than asked"
        kind = "AvgPool2d" if pool == "avg" else "MaxPool2d"
        want = [type(m).__name__ for m in ref.modules() if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))]
        assert got["pools"] == want and kind in want, f"pools of make_densenet({pool!r}): {got['pools']}"
        assert got["logits"] == [2, 10], f"expected logits of shape [2, 10], got {got['logits']}"


# =========================================================================== ex02: parameters
def _ex02_q1_models():
    from dnet_lib import models
    frozen = nn.Linear(3, 2)
    frozen.weight.requires_grad_(False)
    with torch.device("meta"):
        d121 = models.densenet121()
    for prm in d121.features.denseblock1.parameters():
        prm.requires_grad_(False)
    return [nn.BatchNorm2d(10), nn.Linear(3, 2), frozen, d121]


def _ex02_q1_probe(ns, p):
    return [_call(ns["count_parameters"], m, what="count_parameters") for m in _ex02_q1_models()]


def _ex02_q1_judge(data, p):
    for m, got in zip(_ex02_q1_models(), data):
        want = sum(q.numel() for q in m.parameters() if p["count"] == "all" or q.requires_grad)
        assert _int(got, f"count_parameters({type(m).__name__})") == want, \
            f"count_parameters({type(m).__name__}): expected {want:,}, got {got:,}"


_EX02_Q2_CASES = [(3, 1, 1), (1024, 32, 4), (100, 12, 2), (77, 48, 4)]


def _ex02_q2_probe(ns, p):
    dense = [_call(ns["dense_layer_params"], c, k, b, what="dense_layer_params") for c, k, b in _EX02_Q2_CASES]
    basic = [_call(ns["basic_block_params"], c, what="basic_block_params") for c in (1, 16, 512)]
    return {"dense": dense, "basic": basic}


def _ex02_q2_judge(data, p):
    from dnet_lib import models
    for (c, k, b), got in zip(_EX02_Q2_CASES, data["dense"]):
        want = _count(models.DenseLayer(c, k, bottleneck=p["bottleneck"], bn_size=b))
        assert _int(got, "dense_layer_params") == want, f"dense_layer_params{(c, k, b)}: expected {want}, got {got}"
    for c, got in zip((1, 16, 512), data["basic"]):
        want = _count(models.BasicBlock(c, c))
        assert _int(got, "basic_block_params") == want, f"basic_block_params({c}): expected {want}, got {got}"


def _ex02_q3_models():
    from dnet_lib import models
    with torch.device("meta"):
        return models.resnet50(), models.densenet169()


def _ex02_q3_probe(ns, p):
    return [_call(ns["stage_parameters"], m, what="stage_parameters") for m in _ex02_q3_models()]


def _ex02_q3_judge(data, p):
    resnet, dense = _ex02_q3_models()
    want_r = {"stem": _count(resnet.conv1) + _count(resnet.bn1), "head": _count(resnet.fc)}
    want_r.update({f"layer{i}": _count(getattr(resnet, f"layer{i}")) for i in range(1, 5)})
    feats = dict(dense.features.named_children())
    want_d = {"stem": sum(_count(feats[n]) for n in ("conv0", "norm0"))}
    want_d.update({n: _count(m) for n, m in feats.items() if n.startswith(("denseblock", "transition"))})
    final = [n for n in feats if n.startswith("norm") and n != "norm0"]
    if p["final_norm"] == "head":
        want_d["head"] = sum(_count(feats[n]) for n in final) + _count(dense.classifier)
    else:
        want_d.update({n: _count(feats[n]) for n in final})
        want_d["head"] = _count(dense.classifier)
    for name, got, want in (("ResNet-50", data[0], want_r), ("DenseNet-169", data[1], want_d)):
        assert isinstance(got, dict) and "dict" in got, f"stage_parameters({name}) must return a dict, got {_show(got)}"
        table = got["dict"]
        assert set(table) == set(want), f"stage_parameters({name}): keys {sorted(table)}, expected {sorted(want)}"
        for k, v in want.items():
            assert _int(table[k], f"{name} {k}") == v, f"stage_parameters({name})[{k!r}]: expected {v:,}, got {table[k]:,}"


def _ex02_q4_probe(ns, p):
    return plain(ns["param_ratio"], "param_ratio")


def _ex02_q4_judge(data, p):
    from dnet_lib import models
    with torch.device("meta"):
        want = _count(getattr(models, p["resnet"])()) / _count(getattr(models, p["densenet"])())
    _close(_float(data, "param_ratio"), want, "param_ratio")


# =========================================================================== ex03: memory
def _ex03_q1_cases():
    from dnet_lib import models
    torch.manual_seed(3)
    net = models.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, stem=models.CIFAR_STEM,
                          in_channels=1, num_classes=3)
    relu = nn.Sequential(nn.Linear(10, 10), nn.ReLU(inplace=True), nn.ReLU(inplace=True))
    return [(net, torch.randn(2, 1, 12, 12)), (nn.Linear(100, 1, bias=False), torch.randn(8, 100)),
            (relu, torch.randn(4, 10))]


def _ex03_q1_probe(ns, p):
    return [_call(ns["saved_bytes"], m, x, what="saved_bytes") for m, x in _ex03_q1_cases()]


def _ex03_q1_judge(data, p):
    from dnet_lib import memory
    for (m, x), got in zip(_ex03_q1_cases(), data):
        want = memory.saved_activation_bytes(m, x).total_bytes // (4 if p["unit"] == "elements" else 1)
        assert _int(got, "saved_bytes") == want, f"saved_bytes({type(m).__name__}): expected {want:,}, got {got}"


def _ex03_q2_probe(ns, p):
    return plain(ns["resolution_ratio"], "resolution_ratio")


def _ex03_q2_judge(data, p):
    from dnet_lib import memory, models
    m = models.d2l_densenet()
    high, low = p["sizes"]
    want = (memory.saved_activation_bytes(m, torch.zeros(1, 1, high, high)).total_bytes
            / memory.saved_activation_bytes(m, torch.zeros(1, 1, low, low)).total_bytes)
    _close(_float(data, "resolution_ratio"), want, "resolution_ratio")


def _ex03_small(**kw):
    from dnet_lib import models
    return models.DenseNet(growth_rate=4, block_config=(3, 3), num_init_features=8, stem=models.CIFAR_STEM,
                           in_channels=1, num_classes=3, **kw)


def _ex03_q3_probe(ns, p):
    def describe(model):
        flags = [bool(m.memory_efficient) for m in model.modules() if hasattr(m, "memory_efficient")]
        return {"type": type(model).__qualname__, "flags": flags,
                "state": {k: plain(v) for k, v in model.state_dict().items()}}
    try:
        pair = ns["efficient_pair"](_ex03_small, seed=5)
        assert type(pair) is tuple and len(pair) == 2, "efficient_pair must return a tuple of two models"
        return [describe(m) for m in pair]
    except Exception as e:      # noqa: BLE001
        return {"error": type(e).__name__, "message": str(e)[:200]}


def _ex03_q3_judge(data, p):
    assert isinstance(data, list) and len(data) == 2, f"efficient_pair(...) gave {_show(data)}"
    torch.manual_seed(5)
    ref = _ex03_small()
    first, second = data if p["order"] == "plain-first" else data[::-1]
    assert first["flags"] and not any(first["flags"]), "the plain model must not be memory-efficient"
    assert second["flags"] and all(second["flags"]), "the memory-efficient model must have memory_efficient=True"
    for name, got in (("plain", first), ("memory-efficient", second)):
        assert set(got["state"]) == set(ref.state_dict()), f"the {name} model has other layers than factory()"
        for k, v in ref.state_dict().items():
            assert torch.equal(_tensor(got["state"][k], k), v.to(torch.float64)), \
                f"the {name} model's {k} differs from a model built after torch.manual_seed(seed)"


# =========================================================================== ex04: Table 1
_TABLES = {"imagenet": {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)},
           "cifar-bc": {100: (16, 16, 16), 190: (31, 31, 31), 250: (41, 41, 41)}}
_EX04_DEPTHS = (121, 169, 201, 264, 100, 190, 250, 0, 40, 161, 265)


def _ex04_q1_probe(ns, p):
    return [_call(ns["table1_block_config"], d, what="table1_block_config") for d in _EX04_DEPTHS]


def _ex04_q1_judge(data, p):
    table = _TABLES[p["table"]]
    for depth, got in zip(_EX04_DEPTHS, data):
        if depth in table:
            values = [_int(v, f"table1_block_config({depth})") for v in _seq(got, f"table1_block_config({depth})")]
            assert tuple(values) == table[depth], f"table1_block_config({depth}): expected {table[depth]}, got {values}"
        else:
            _raised(got, "ValueError", f"table1_block_config({depth})")


def _ex04_reference(depth: int, p: dict, num_classes: int):
    from dnet_lib import models
    if p["table"] == "imagenet":
        return models.DenseNet(growth_rate=32, block_config=_TABLES["imagenet"][depth], num_init_features=64,
                               bn_size=4, compression=0.5, num_classes=num_classes, stem=models.IMAGENET_STEM)
    return models.DenseNet(growth_rate=12, block_config=_TABLES["cifar-bc"][depth], num_init_features=24,
                           bn_size=4, compression=0.5, num_classes=num_classes, stem=models.CIFAR_STEM)


def _ex04_q2_probe(ns, p):
    out = []
    for depth, classes in zip(sorted(_TABLES[p["table"]])[:3], (1000, 10, 100)):
        try:
            with torch.device("meta"):
                model = ns["build_table1_densenet"](depth, num_classes=classes)
            out.append({"type": type(model).__qualname__, "shapes": _shapes(model)})
        except Exception as e:      # noqa: BLE001
            out.append({"error": type(e).__name__, "message": str(e)[:200]})
    return out


def _ex04_q2_judge(data, p):
    for depth, classes, got in zip(sorted(_TABLES[p["table"]])[:3], (1000, 10, 100), data):
        assert "error" not in got, f"build_table1_densenet({depth}) raised {got.get('error')}: {got.get('message')}"
        assert got["type"] == "DenseNet", f"build_table1_densenet must return a dnet_lib DenseNet, got {got['type']}"
        with torch.device("meta"):
            want = _shapes(_ex04_reference(depth, p, classes))
        assert got["shapes"] == want, f"DenseNet-{depth} ({classes} classes): layers differ from the table's"


def _ex04_q3_probe(ns, p):
    from dnet_lib import models
    with torch.device("meta"):
        m = models.densenet169()
    return [_call(ns["output_sizes"], m, s, what="output_sizes") for s in (224, 320)]


def _ex04_q3_judge(data, p):
    from dnet_lib import models
    with torch.device("meta"):
        m = models.densenet169()
    for size, got in zip((224, 320), data):
        x = torch.empty(1, 3, size, size, device="meta")
        want = {}
        for name, child in m.features.named_children():
            x = child(x)
            want[name] = int(x.shape[-1] if p["report"] == "side" else x.shape[1])
        assert isinstance(got, dict) and "dict" in got, f"output_sizes must return a dict, got {_show(got)}"
        got = {k: _int(v, f"output_sizes[{k!r}]") for k, v in got["dict"].items()}
        assert got == want, f"output_sizes(densenet169, {size}): expected {want}, got {got}"


# =========================================================================== ex05: concat vs add
def _ex05_q1_case():
    torch.manual_seed(11)
    return nn.Linear(13, 4) , nn.Linear(5, 12)


def _ex05_q1_probe(ns, p):
    reads, writes = _ex05_q1_case()
    return [_call(ns["split_linear"], reads, [5, 1, 7], what="split_linear"),
            _call(ns["split_linear"], writes, [3, 9], what="split_linear")]


def _ex05_q1_judge(data, p):
    for lin, sizes, got in zip(_ex05_q1_case(), ([5, 1, 7], [3, 9]), data):
        if p["split"] == "columns" and sum(sizes) != lin.in_features:
            _raised(got, "ValueError", f"split_linear(Linear({lin.in_features}, {lin.out_features}), {sizes})")
            continue
        if p["split"] == "rows" and sum(sizes) != lin.out_features:
            _raised(got, "ValueError", f"split_linear(Linear({lin.in_features}, {lin.out_features}), {sizes})")
            continue
        blocks = [_tensor(b, "a weight block") for b in _seq(got, "split_linear(...)")]
        dim = 1 if p["split"] == "columns" else 0
        want = torch.split(lin.weight.detach().to(torch.float64), sizes, dim=dim)
        assert len(blocks) == len(want), f"expected {len(want)} blocks, got {len(blocks)}"
        for b, w in zip(blocks, want):
            assert b.shape == w.shape and torch.allclose(b, w, atol=1e-7), \
                f"block of shape {tuple(b.shape)} differs from the weight's {tuple(w.shape)} slice"


def _ex05_q2_cases():
    g = torch.Generator().manual_seed(12)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64) + 6 * torch.eye(6, dtype=torch.float64)
    B = torch.randn(6, 3, generator=g, dtype=torch.float64)
    C = torch.randn(3, 6, generator=g, dtype=torch.float64)
    return [(A, B), (A, C)]


def _ex05_q2_probe(ns, p):
    A, B = _ex05_q2_cases()[0 if p["side"] == "left" else 1]
    return _call(ns["as_residual"], A, B, what="as_residual")


def _ex05_q2_judge(data, p):
    A, B = _ex05_q2_cases()[0 if p["side"] == "left" else 1]
    M = _tensor(data, "as_residual(A, B)")
    g = torch.Generator().manual_seed(99)
    if p["side"] == "left":        # A (x + M v) == A x + B v for column vectors
        assert tuple(M.shape) == (6, 3), f"M must have shape (6, 3), got {tuple(M.shape)}"
        v = torch.randn(3, 9, generator=g, dtype=torch.float64)
        err = ((A @ (M @ v)) - B @ v).abs().max() / (B @ v).abs().max()
    else:                          # (x + v M) A == x A + v B for row vectors
        assert tuple(M.shape) == (3, 6), f"M must have shape (3, 6), got {tuple(M.shape)}"
        v = torch.randn(9, 3, generator=g, dtype=torch.float64)
        err = ((v @ M) @ A - v @ B).abs().max() / (v @ B).abs().max()
    assert float(err) < 1e-9, f"the residual form differs from the concatenation's by {float(err):.3g} (relative)"


def _ex05_q3_cases():
    g = torch.Generator().manual_seed(13)
    F = torch.randn(200, 4, generator=g, dtype=torch.float64)
    noise = torch.randn(200, 2, generator=g, dtype=torch.float64)
    return [(F, noise), (F, F[:, :2] + noise + 3.0), (F, F[:, 1:3] * 2 - 1.0)]


def _ex05_q3_probe(ns, p):
    return [_call(ns["fit_error"], f, y, what="fit_error") for f, y in _ex05_q3_cases()]


def _ex05_q3_judge(data, p):
    for (f, y), got in zip(_ex05_q3_cases(), data):
        design = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], 1) if p["fit"] == "affine" else f
        # the normal equations, not lstsq: an independent route to the same least-squares fit
        coef = torch.linalg.solve(design.T @ design, design.T @ y)
        scale = (y - y.mean(0)).norm() if p["fit"] == "affine" else y.norm()
        _close(_float(got, "fit_error"), float((design @ coef - y).norm() / scale), "fit_error", 1e-7)


# =========================================================================== ex06: house prices
_ACT = {"relu": torch.relu, "tanh": torch.tanh}


def _ex06_q1_probe(ns, p):
    torch.manual_seed(1)
    block = ns["DenseLinearBlock"](7, 4, 3)
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(2))
    layers = [{"weight": plain(lin.weight), "bias": plain(lin.bias)} for lin in block.layers]
    return {"layers": layers, "types": [type(lin).__name__ for lin in block.layers],
            "count": plain(sum(q.numel() for q in block.parameters())), "out": plain(block(x))}


def _ex06_q1_judge(data, p):
    assert data["types"] == ["Linear"] * 3, f"self.layers must hold 3 nn.Linear, got {data['types']}"
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(2)).to(torch.float64)
    feats = [x]
    for i, layer in enumerate(data["layers"]):
        w, b = _tensor(layer["weight"], "weight"), _tensor(layer["bias"], "bias")
        assert tuple(w.shape) == (4, 7 + 4 * i), f"layer {i} must map {7 + 4 * i} features to 4, got {tuple(w.shape)}"
        feats.append(_ACT[p["activation"]](torch.cat(feats, 1) @ w.T + b))
    assert _int(data["count"], "parameter count") == sum((7 + 4 * i + 1) * 4 for i in range(3)), \
        "the block has parameters besides its three layers"
    out, want = _tensor(data["out"], "the block's output"), torch.cat(feats, 1)
    assert out.shape == want.shape, f"output shape {tuple(out.shape)}, expected {tuple(want.shape)}"
    assert torch.allclose(out, want, atol=1e-5), "the block's output differs from its layers' dense composition"


_EX06_Q2_CASES = [(1460, 7), (10, 5), (11, 3), (1460, 1), (1460, 0), (1460, 1461)]


def _ex06_q2_probe(ns, p):
    return [_call(ns["k_fold_indices"], n, k, what="k_fold_indices") for n, k in _EX06_Q2_CASES]


def _ex06_q2_judge(data, p):
    for (n, k), got in zip(_EX06_Q2_CASES, data):
        if not 2 <= k <= n:
            _raised(got, "ValueError", f"k_fold_indices({n}, {k})")
            continue
        folds = _seq(got, f"k_fold_indices({n}, {k})")
        assert len(folds) == k, f"k_fold_indices({n}, {k}) gave {len(folds)} folds"
        for j, fold in enumerate(folds):
            train, valid = (_tensor(t, "an index tensor") for t in _seq(fold, "a fold"))
            for t in _seq(fold, "a fold"):
                assert t["dtype"] == "int64", f"index tensors must be torch.long, got {t['dtype']}"
            if p["folds"] == "contiguous":
                want = list(range(j * n // k, (j + 1) * n // k))
            else:
                want = list(range(j, n, k))
            assert [int(v) for v in valid.tolist()] == want, f"fold {j} of k_fold_indices({n}, {k}) validates on other indices"
            assert sorted(int(v) for v in train.tolist()) == sorted(set(range(n)) - set(want)), \
                f"fold {j} of k_fold_indices({n}, {k}) must train on every other index, once"


def _ex06_q3_cases():
    g = torch.Generator().manual_seed(4)
    pred = torch.rand(50, 1, generator=g, dtype=torch.float64) * 4e5 - 5e4      # some negative
    price = torch.rand(50, 1, generator=g, dtype=torch.float64) * 3e5 + 5e4
    return [(pred, price), (price * math.e, price), (price, price)]


def _ex06_q3_probe(ns, p):
    return [_call(ns["log_rmse"], a, b, what="log_rmse") for a, b in _ex06_q3_cases()]


def _ex06_q3_judge(data, p):
    log = math.log if p["base"] == "e" else math.log10
    for (pred, price), got in zip(_ex06_q3_cases(), data):
        sq = [(log(max(a, 1.0)) - log(b)) ** 2 for a, b in zip(pred.flatten().tolist(), price.flatten().tolist())]
        _close(_float(got, "log_rmse"), math.sqrt(sum(sq) / len(sq)), "log_rmse", 1e-9)


# =========================================================================== registry
@dataclass(frozen=True)
class Question:
    probe: Callable
    judge: Callable
    forbidden: tuple = ()       # "module.name" in dnet_lib: the asked function, already written
    depends: tuple = ()         # questions whose answer cells this one's answer uses
    timeout: float = 60.0


QUESTIONS: dict[str, dict[str, Question]] = {
    "ex01": {"q1": Question(_ex01_q1_probe, _ex01_q1_judge),
             "q2": Question(_ex01_q2_probe, _ex01_q2_judge),
             "q3": Question(_ex01_q3_probe, _ex01_q3_judge)},
    "ex02": {"q1": Question(_ex02_q1_probe, _ex02_q1_judge, ("arith.count_params",)),
             "q2": Question(_ex02_q2_probe, _ex02_q2_judge, ("arith.dense_layer_params",)),
             "q3": Question(_ex02_q3_probe, _ex02_q3_judge),
             "q4": Question(_ex02_q4_probe, _ex02_q4_judge, depends=("q1",))},
    "ex03": {"q1": Question(_ex03_q1_probe, _ex03_q1_judge, ("memory.saved_activation_bytes",)),
             "q2": Question(_ex03_q2_probe, _ex03_q2_judge),
             "q3": Question(_ex03_q3_probe, _ex03_q3_judge)},
    "ex04": {"q1": Question(_ex04_q1_probe, _ex04_q1_judge),
             "q2": Question(_ex04_q2_probe, _ex04_q2_judge,
                            ("models.densenet121", "models.densenet169", "models.densenet201",
                             "models.densenet264", "models.densenet_cifar"), depends=("q1",)),
             "q3": Question(_ex04_q3_probe, _ex04_q3_judge)},
    "ex05": {"q1": Question(_ex05_q1_probe, _ex05_q1_judge),
             "q2": Question(_ex05_q2_probe, _ex05_q2_judge),
             "q3": Question(_ex05_q3_probe, _ex05_q3_judge)},
    "ex06": {"q1": Question(_ex06_q1_probe, _ex06_q1_judge, ("models.DenseMLP",)),
             "q2": Question(_ex06_q2_probe, _ex06_q2_judge),
             "q3": Question(_ex06_q3_probe, _ex06_q3_judge)},
}

def variant_params(exercise: str, variant: str = "book") -> dict:
    from . import variants
    return variants.VARIANTS[exercise][variant]["params"]


def judge(exercise: str, question: str, data: Any, params: dict) -> None:
    """Raise AssertionError unless ``data`` (the probe's plain output) answers the question."""
    q = QUESTIONS[exercise][question]
    assert not (isinstance(data, dict) and "error" in data and len(data) <= 2), \
        f"{exercise} {question}: the answer raised {data.get('error')}: {data.get('message', '')}"
    try:
        q.judge(data, params)
    except AssertionError:
        raise
    except Exception as e:      # malformed data is a wrong answer, never a grader crash
        raise AssertionError(f"{exercise} {question}: unexpected answer ({type(e).__name__}: {e})") from None


def check_inline(exercise: str, question: str, namespace: dict, variant: str = "book") -> None:
    """Probe and judge in this process: the masters' hidden tests in the book build.

    When grading, the same probe runs in a sandbox instead and only its JSON reaches the judge.
    """
    params = variant_params(exercise, variant)
    data = json.loads(json.dumps(QUESTIONS[exercise][question].probe(namespace, params)))
    judge(exercise, question, data, params)
    print(f"ok: hidden tests of {exercise} {question} ({variant})")
