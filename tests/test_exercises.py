"""The exercise notebooks and their visible checks.

Master notebooks are executed (smoke mode) by tests/test_notebooks.py with every other chapter, and
their hidden tests run inline there; here the *student* copies are run, in-process (no kernel
start-up), to show that a student meets a NotImplementedError stub before any other error.
"""
from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from dnet_lib import checks, models
from dnet_tools import assign

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = sorted((ROOT / "students").glob("*.ipynb"))


@pytest.mark.parametrize("path", STUDENTS, ids=lambda p: p.stem)
def test_student_notebook_runs_until_its_first_stub(path, monkeypatch):
    monkeypatch.setenv("DNET_SMOKE", "1")
    monkeypatch.chdir(ROOT / "chapters" / "exercises")     # where the master runs in the book
    nb = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__student__"}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"{path.name}[{index}]", "exec"), namespace)
        except NotImplementedError as e:
            assert "your solution goes here" in str(e)
            assert any("raise NotImplementedError(" in c.source for c in nb.cells[:index + 1]
                       if c.cell_type == "code")
            return
        except Exception as e:   # anything else before the first stub is a bug in the notebook
            pytest.fail(f"{path.name} cell {index} raised {type(e).__name__}: {e} before any stub")
    pytest.fail(f"{path.name} ran to the end without meeting a NotImplementedError stub")


@pytest.mark.parametrize("master", assign.master_paths(ROOT), ids=lambda p: p.stem)
def test_master_layout(master):
    nb = nbformat.read(ROOT / master, as_version=4)
    assert "colab-setup" in nb.cells[0].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    tested = {assign.question_of(c) for c in nb.cells if assign.points_of(c) is not None}
    solved = {assign.question_of(c) for c in nb.cells if assign.BEGIN_SOLUTION in c.source}
    assert solved and solved == tested, f"questions with a solution {sorted(solved)} vs with tests {sorted(tested)}"
    for c in nb.cells:
        if assign.points_of(c) is not None:
            assert assign.BEGIN_HIDDEN in c.source, f"{master}: test cell of {assign.question_of(c)} has no hidden tests"
            assert "checks.check_" in c.source, f"{master}: test cell of {assign.question_of(c)} has no visible check"
    assert any(assign.SOLUTION_TAG in c.metadata.get("tags", []) for c in nb.cells), "no written answer"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit masters without outputs"


# --------------------------------------------------------------------------- visible checks
def _fails(check, *args, match: str | None = None):
    with pytest.raises(AssertionError, match=match):
        check(*args)


def _coverage(pool, x):
    x = x.clone().requires_grad_(True)
    pool(x).sum().backward()
    return float((x.grad != 0).float().mean())


def test_pooling_checks(capsys):
    checks.check_gradient_coverage(_coverage)
    _fails(checks.check_gradient_coverage, lambda pool, x: 0.25, match="1.0")
    _fails(checks.check_gradient_coverage, lambda pool, x: 1, match="float")
    checks.check_swap_error(lambda pool, conv, x: float((pool(conv(x)) - conv(pool(x))).detach().abs().max()))
    _fails(checks.check_swap_error, lambda pool, conv, x: float(pool(conv(x)).detach().abs().max()))
    small = lambda pool: models.DenseNet(4, (1, 1), 8, stem="cifar", in_channels=1, num_classes=10,
                                         transition_pool=pool)
    checks.check_pool_densenet(small)
    _fails(checks.check_pool_densenet, lambda pool: small("max"), match="AvgPool2d")
    assert capsys.readouterr().out.count("ok:") == 3


def test_parameter_checks():
    count = lambda m: sum(p.numel() for p in m.parameters())
    checks.check_count_parameters(count)
    _fails(checks.check_count_parameters, lambda m: count(m) + sum(b.numel() for b in m.buffers()) + 1)
    dense = lambda c, k, b=4: 2 * c + c * b * k + 2 * b * k + 9 * b * k * k
    basic = lambda c: 2 * (9 * c * c + 2 * c)
    checks.check_layer_formulas(dense, basic)
    _fails(checks.check_layer_formulas, lambda c, k, b=4: c * b * k + 9 * b * k * k, basic, match="BatchNorm")
    _fails(checks.check_layer_formulas, dense, lambda c: 2 * 9 * c * c)
    checks.check_stage_parameters(lambda m: {"all": count(m), "denseblock1": 0})
    _fails(checks.check_stage_parameters, lambda m: {"denseblock1": count(m.features.denseblock1)})
    checks.check_param_ratio(14.7)
    for bad in (0.07, 14, float("nan")):
        _fails(checks.check_param_ratio, bad)


def test_memory_checks():
    from dnet_lib import memory
    checks.check_saved_bytes(lambda m, x: memory.saved_activation_bytes(m, x).total_bytes)
    _fails(checks.check_saved_bytes, lambda m, x: x.numel())              # elements, not bytes
    checks.check_resolution_ratio((224 / 96) ** 2)
    _fails(checks.check_resolution_ratio, 224 / 96)

    def pair(efficient=True, same=True):
        torch.manual_seed(0)
        plain = models.DenseNet(4, (2,), 8, stem="cifar", in_channels=1, num_classes=3)
        other = models.DenseNet(4, (2,), 8, stem="cifar", in_channels=1, num_classes=3, memory_efficient=efficient)
        if same:
            other.load_state_dict(plain.state_dict())
        return plain, other
    checks.check_efficient_pair(pair)
    _fails(checks.check_efficient_pair, lambda: pair(same=False), match="identical weights")
    _fails(checks.check_efficient_pair, lambda: pair(efficient=False), match="memory_efficient=True")


def test_table1_checks():
    configs = {121: (6, 12, 24, 16)}

    def config(depth):
        if depth not in configs:
            raise ValueError(depth)
        return configs[depth]
    checks.check_table1_config(config)
    _fails(checks.check_table1_config, lambda d: (6, 12, 24, 16), match="ValueError")
    checks.check_table1_model(lambda depth: models.densenet121())
    _fails(checks.check_table1_model, lambda depth: models.DenseNet(growth_rate=8, block_config=(6, 12, 24, 16)))

    def sizes(model, size):
        x = torch.empty(1, 3, size, size, device="meta")
        out = {}
        for name, child in model.features.named_children():
            x = child(x)
            out[name] = x.shape[-1]
        return out
    checks.check_output_sizes(sizes)
    _fails(checks.check_output_sizes, lambda m, s: {"pool0": s // 2})


def test_concat_checks():
    checks.check_split_linear(lambda lin, sizes: list(torch.split(lin.weight, list(sizes), 1)))
    _fails(checks.check_split_linear, lambda lin, sizes: list(torch.split(lin.weight.flip(1), list(sizes), 1)))
    checks.check_as_residual(lambda A, B: torch.linalg.solve(A, B))
    _fails(checks.check_as_residual, lambda A, B: B)

    def fit(f, y):
        d = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], 1)
        return float((d @ torch.linalg.lstsq(d, y).solution - y).norm() / (y - y.mean(0)).norm())
    checks.check_fit_error(fit)
    _fails(checks.check_fit_error, lambda f, y: float((f @ torch.linalg.lstsq(f, y).solution - y).norm()))


def test_house_price_checks():
    class Block(nn.Module):
        def __init__(self, n, g, layers, dense=True):
            super().__init__()
            self.dense = dense
            self.layers = nn.ModuleList(nn.Linear(n + i * g, g) for i in range(layers))

        def forward(self, x):
            feats = [x]
            for layer in self.layers:
                feats.append(torch.relu(layer(torch.cat(feats, 1))))
            return torch.cat(feats, 1) if self.dense else torch.cat(feats[1:] + [x], 1)
    checks.check_dense_linear_block(Block)
    _fails(checks.check_dense_linear_block, lambda n, g, l: Block(n, g, l, dense=False), match="input itself")

    def folds(n, k):
        return [(torch.cat([torch.arange(0, j * n // k), torch.arange((j + 1) * n // k, n)]),
                 torch.arange(j * n // k, (j + 1) * n // k)) for j in range(k)]
    checks.check_k_fold(folds)
    _fails(checks.check_k_fold, lambda n, k: [(torch.arange(n - n // k), torch.arange(n // k))] * k, match="overlap")
    rmse = lambda p, y: float(((p.clamp(min=1).log() - y.log()) ** 2).mean().sqrt())
    checks.check_log_rmse(rmse)
    _fails(checks.check_log_rmse, lambda p, y: float(((p - y) ** 2).mean().sqrt()))
    assert math.isclose(checks.relative_error(torch.tensor([2.0]), torch.tensor([1.0])), 1.0)
