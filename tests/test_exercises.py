"""The exercise masters (nbgrader sources), their variants, student copies and visible checks.

Master notebooks are executed in smoke mode with every other chapter (tests/test_notebooks.py),
their hidden tests inline. Here: the nbgrader layout of every master, that every variant's answer
key passes its own hidden tests while the book's answers fail them (probes and judges run
in-process, no kernel), that student copies leak nothing and stop at a stub, and the checks.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from dnet_lib import models
from dnet_lib.exercises import (ex01_pooling, ex02_parameters, ex03_memory, ex04_table1,
                               ex05_concat_vs_add, ex06_house_prices)
from dnet_lib.exercises._common import relative_error
from dnet_tools import course, exercises

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = sorted((ROOT / "students").glob("ex*.ipynb"))
MASTERS = course.master_paths(ROOT)
EXPECTED = ["ex01_pooling", "ex02_parameters", "ex03_memory", "ex04_table1", "ex05_concat_vs_add",
            "ex06_house_prices"]
VISIBLE = {m.__name__.rsplit(".", 1)[-1][:4]: m for m in (ex01_pooling, ex02_parameters, ex03_memory,
                                                          ex04_table1, ex05_concat_vs_add, ex06_house_prices)}
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME", "hidden_tests(")


def _meta(cell) -> dict:
    return course.nbgrader_meta(cell)


def _by_gid(nb) -> dict:
    return {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("grade_id")}


def test_every_exercise_has_a_master_and_a_student_copy():
    assert [m.stem for m in MASTERS] == EXPECTED
    assert [s.stem for s in STUDENTS] == EXPECTED


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_master_carries_nbgrader_metadata(master):
    pytest.importorskip("nbgrader")
    from nbgrader.nbgraderformat import MetadataValidator
    nb = nbformat.read(ROOT / master, as_version=4)
    MetadataValidator().validate_nb(nb)            # what nbgrader itself checks before releasing
    ex = course.exercise_of(master)
    cells = _by_gid(nb)
    setup = [c for c in nb.cells if course.SETUP_TAG in c.metadata.get("tags", [])]
    assert len(setup) == 1 and _meta(setup[0])["locked"]
    for q in exercises.MODULES[ex].QUESTIONS:
        assert _meta(cells[f"{q}-question"])["locked"]
        answer, tests = cells[f"{q}-answer"], cells[f"{q}-tests"]
        assert _meta(answer)["solution"] and "### BEGIN SOLUTION" in answer.source
        assert _meta(tests)["grade"] and _meta(tests)["points"] > 0 and _meta(tests)["locked"]
        assert "checks.check_" in tests.source.split("### BEGIN HIDDEN TESTS")[0]
        assert f'checks.hidden_tests("{q}", globals())' in tests.source
    why, rubric = cells["why-answer"], cells["why-rubric"]
    assert why.cell_type == "markdown" and _meta(why)["grade"] and _meta(why)["solution"] and _meta(why)["points"] >= 2
    assert _meta(rubric)["task"] and "remove-cell" in rubric.metadata["tags"]
    scheme = rubric.source.split("### BEGIN MARK SCHEME")[1].split("### END MARK SCHEME")[0]
    assert scheme.count("1 point") >= 2, "a rubric says what earns each point"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit masters without outputs"
    long = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines() if len(line) > 100]
    assert not long, f"code lines over 100 characters: {long[:2]}"


# --------------------------------------------------------------------------- variants
def test_variants_are_drawn_by_seed():
    names = sorted(exercises.MODULES)
    assert course.choose_variants(names, None) == {ex: "book" for ex in names}
    drawn = course.choose_variants(names, 7)
    assert drawn == course.choose_variants(names, 7) and "book" not in drawn.values()


def _namespace(ex: str) -> dict:
    from dnet_lib import memory
    return {"torch": torch, "nn": nn, "models": models, "memory": memory, "checks": VISIBLE[ex]}


def _answers(nb, ex: str, questions, setup=None) -> dict:
    """The answer cells of ``nb`` run after the setup cell of ``setup`` (default ``nb``), as the
    sandbox runs a submission after the setup cell of the course's source notebook."""
    import matplotlib
    ns = _namespace(ex)
    with matplotlib.rc_context():               # the setup cell's style.use() stays in here
        for code in course._setup_cells(nb if setup is None else setup):
            exec(compile(code, f"{ex} setup", "exec"), ns)
    cells = _by_gid(nb)
    for q in questions:
        exec(compile(cells[f"{q}-answer"].source, f"{ex} {q}", "exec"), ns)
    return ns


CASES = [(ex, v) for ex, m in sorted(exercises.MODULES.items()) for v in m.variants()]


@pytest.mark.parametrize("ex,variant", CASES, ids=[f"{e}-{v}" for e, v in CASES])
def test_every_variant_key_passes_and_book_answers_fail_it(ex, variant):
    master = next(m for m in MASTERS if course.exercise_of(m) == ex)
    book = nbformat.read(ROOT / master, as_version=4)
    source = course.variant_source(book, ex, variant)
    params = exercises.MODULES[ex].variants()[variant]["params"]
    specs = exercises.MODULES[ex].QUESTIONS
    key = _answers(source, ex, specs)
    public = _answers(book, ex, specs, setup=source)
    for q, spec in specs.items():
        data = json.loads(json.dumps(spec.probe(key, params)))
        exercises.judge(spec, q, data, params)                      # the answer key earns the points
        assert exercises.rule_violation([_by_gid(source)[f"{q}-answer"].source], spec.rules) is None
        if variant != "book":                                       # the public page's answer does not
            with pytest.raises(AssertionError):
                exercises.judge(spec, q, json.loads(json.dumps(spec.probe(public, params))), params)
    if variant != "book":
        release_text = json.dumps([c.source for c in source.cells])
        assert release_text != json.dumps([c.source for c in book.cells])


VARIANTS = [(ex, v) for ex, v in CASES if v != "book"]


@pytest.mark.parametrize("ex,variant", VARIANTS, ids=[f"{e}-{v}" for e, v in VARIANTS])
def test_a_variant_runs_from_top_to_bottom_with_its_key(ex, variant, monkeypatch):
    """The class's notebook, answered with the variant's key, runs every cell: the given cells
    after the questions read the variant's models, not the book's."""
    import matplotlib
    monkeypatch.setenv("DNET_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(ROOT / "chapters" / "exercises")
    master = next(m for m in MASTERS if course.exercise_of(m) == ex)
    source = course.variant_source(nbformat.read(ROOT / master, as_version=4), ex, variant)
    namespace = {"__name__": "__variant__"}
    with matplotlib.rc_context():
        for index, cell in enumerate(source.cells):
            if cell.cell_type == "code" and "colab-setup" not in cell.metadata.get("tags", []):
                exec(compile(cell.source, f"{ex}-{variant}[{index}]", "exec"), namespace)
    matplotlib.pyplot.close("all")


def test_table1_depth_is_counted_not_looked_up():
    """ex04 Q1's hidden tests: unseen block lengths defeat a lookup of Table 1, the variant's
    BatchNorm count is not the book's depth, and its rule forbids counting a model's modules."""
    ex = exercises.MODULES["ex04"]
    spec, params = ex.QUESTIONS["q1"], {v: ex.variants()[v]["params"] for v in ("book", "b")}
    master = nbformat.read(ROOT / course.MASTER_DIR / "ex04_table1.ipynb", as_version=4)
    key = _answers(master, "ex04", ["q1"])

    def judged(ns, variant):
        exercises.judge(spec, "q1", json.loads(json.dumps(spec.probe(ns, params[variant]))), params[variant])
    judged(key, "book")
    table = {(6, 12, 24, 16): 121, (6, 12, 32, 32): 169, (6, 12, 48, 32): 201, (6, 12, 64, 48): 265}

    def lookup(block_config, bottleneck=True):
        if tuple(block_config) not in table:
            raise ValueError(f"block_config must be a row of Table 1, got {block_config}")
        return table[tuple(block_config)]
    ex04_table1.check_table1_depth(lookup)                  # passes the visible check...
    with pytest.raises(AssertionError, match=r"table1_depth\(\[6, 12, 36, 24\]\)"):
        judged({"table1_depth": lookup}, "book")            # ...but not the hidden tests
    with pytest.raises(AssertionError, match="expected 120, got 121"):
        judged({"count_batchnorms": key["table1_depth"]}, "b")
    counted = ("def table1_depth(block_config, bottleneck=True):\n"
               "    net = models.DenseNet(block_config=block_config, bottleneck=bottleneck)\n"
               "    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())\n")
    assert "the answer" in exercises.rule_violation([counted], spec.rules)


# --------------------------------------------------------------------------- student copies
def _secret_lines(master_nb) -> set[str]:
    """Lines only the master shows: inside solution, hidden-test and mark-scheme regions, and the
    whole of manually graded answers."""
    secret, public = set(), set()
    for cell in master_nb.cells:
        whole = cell.cell_type == "markdown" and _meta(cell).get("solution")
        inside = False
        for line in cell.source.splitlines():
            s = line.strip()
            if any(s == f"### BEGIN {m}" for m in ("SOLUTION", "HIDDEN TESTS", "MARK SCHEME")):
                inside = True
            elif any(s == f"### END {m}" for m in ("SOLUTION", "HIDDEN TESTS", "MARK SCHEME")):
                inside = False
            elif s:
                (secret if whole or inside else public).add(s)
    return secret - public


@pytest.mark.parametrize("student", STUDENTS, ids=lambda p: p.stem)
def test_student_copy_leaks_nothing(student):
    nb = nbformat.read(student, as_version=4)
    text = json.dumps([c.source for c in nb.cells])
    for marker in SECRET_MARKERS:
        assert marker not in text, marker
    lines = {line.strip() for c in nb.cells for line in c.source.splitlines()}
    for master in MASTERS:                    # no line of any master's answers, tests or rubrics
        leaked = _secret_lines(nbformat.read(ROOT / master, as_version=4)) & lines
        leaked -= _public_lines(ROOT / course.MASTER_DIR / student.name)
        assert not leaked, f"{student.name} shows lines of {master.name}'s answers: {sorted(leaked)[:3]}"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "colab-setup" in nb.cells[0].metadata.get("tags", [])
    stubs = sum(c.source.count("raise NotImplementedError()") for c in nb.cells)
    assert stubs >= len(exercises.MODULES[course.exercise_of(student)].QUESTIONS)
    assert sum(c.source == "YOUR ANSWER HERE" for c in nb.cells) == 1


def _public_lines(master: Path) -> set[str]:
    nb = nbformat.read(master, as_version=4)
    return {line.strip() for c in nb.cells for line in c.source.splitlines()} - _secret_lines(nb)


@pytest.mark.parametrize("path", STUDENTS, ids=lambda p: p.stem)
def test_student_notebook_runs_until_its_first_stub(path, monkeypatch):
    monkeypatch.setenv("DNET_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(ROOT / "chapters" / "exercises")     # where the master runs in the book
    nb = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__student__"}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"{path.name}[{index}]", "exec"), namespace)
        except NotImplementedError:
            assert _meta(cell).get("solution") or _meta(cell).get("grade"), f"stub met in cell {index}"
            return
        except Exception as e:   # anything else before the first stub is a bug in the notebook
            pytest.fail(f"{path.name} cell {index} raised {type(e).__name__}: {e} before any stub")
    pytest.fail(f"{path.name} ran to the end without meeting a NotImplementedError stub")


# --------------------------------------------------------------------------- visible checks
def _fails(check, *args, match: str | None = None, **kwargs):
    with pytest.raises(AssertionError, match=match):
        check(*args, **kwargs)


def _coverage(pool, x, zero=False):
    x = x.clone().requires_grad_(True)
    pool(x).sum().backward()
    return float(((x.grad == 0) if zero else (x.grad != 0)).float().mean())


def test_pooling_checks(capsys):
    ex01_pooling.check_gradient_coverage(_coverage)
    ex01_pooling.check_gradient_coverage(lambda p, x: _coverage(p, x, zero=True), count="zero")
    _fails(ex01_pooling.check_gradient_coverage, _coverage, count="zero")
    _fails(ex01_pooling.check_gradient_coverage, lambda pool, x: 0.25, match="1.0")
    _fails(ex01_pooling.check_gradient_coverage, lambda pool, x: 1, match="float")
    ex01_pooling.check_swap_error(lambda pool, conv, x: float((pool(conv(x)) - conv(pool(x))).detach().abs().max()))
    _fails(ex01_pooling.check_swap_error, lambda pool, conv, x: float(pool(conv(x)).detach().abs().max()))
    small = lambda pool: models.DenseNet(growth_rate=4, block_config=(1, 1), num_init_features=8, stem=models.CIFAR_STEM, in_channels=1, num_classes=10,
                                         transition_pool=pool)
    ex01_pooling.check_pool_densenet(small)
    _fails(ex01_pooling.check_pool_densenet, lambda pool: small("max"), match="AvgPool2d")
    assert capsys.readouterr().out.count("ok:") == 4


def test_parameter_checks():
    count = lambda m: sum(p.numel() for p in m.parameters())
    ex02_parameters.check_count_parameters(count)
    _fails(ex02_parameters.check_count_parameters, lambda m: count(m) + sum(b.numel() for b in m.buffers()) + 1)
    dense = lambda c, k, b=4: 2 * c + c * b * k + 2 * b * k + 9 * b * k * k
    basic = lambda c: 2 * (9 * c * c + 2 * c)
    ex02_parameters.check_layer_formulas(dense, basic)
    ex02_parameters.check_layer_formulas(lambda c, k, b=4: 2 * c + 9 * c * k, basic, bottleneck=False)
    _fails(ex02_parameters.check_layer_formulas, dense, basic, bottleneck=False)
    _fails(ex02_parameters.check_layer_formulas, lambda c, k, b=4: c * b * k + 9 * b * k * k, basic, match="BatchNorm")
    _fails(ex02_parameters.check_layer_formulas, dense, lambda c: 2 * 9 * c * c)
    ex02_parameters.check_stage_parameters(lambda m: {"all": count(m), "denseblock1": 0})
    _fails(ex02_parameters.check_stage_parameters, lambda m: {"denseblock1": count(m.features.denseblock1)})
    ex02_parameters.check_param_ratio(14.7)
    for bad in (0.07, 14, float("nan")):
        _fails(ex02_parameters.check_param_ratio, bad)


def test_memory_checks():
    from dnet_lib import memory
    ex03_memory.check_saved_bytes(lambda m, x: memory.saved_activation_bytes(m, x).total_bytes)
    ex03_memory.check_saved_bytes(lambda m, x: memory.saved_activation_bytes(m, x).total_bytes // 4, unit="elements")
    _fails(ex03_memory.check_saved_bytes, lambda m, x: x.numel())              # elements, not bytes
    ex03_memory.check_resolution_ratio((224 / 96) ** 2)
    ex03_memory.check_resolution_ratio((160 / 96) ** 2, sizes=(160, 96))
    _fails(ex03_memory.check_resolution_ratio, 224 / 96)
    _fails(ex03_memory.check_resolution_ratio, (224 / 96) ** 2, sizes=(160, 96))

    def pair(efficient=True, same=True):
        torch.manual_seed(0)
        plain = models.DenseNet(growth_rate=4, block_config=(2,), num_init_features=8, stem=models.CIFAR_STEM, in_channels=1, num_classes=3)
        other = models.DenseNet(growth_rate=4, block_config=(2,), num_init_features=8, stem=models.CIFAR_STEM, in_channels=1, num_classes=3,
                                memory_efficient=efficient)
        if same:
            other.load_state_dict(plain.state_dict())
        return plain, other
    ex03_memory.check_efficient_pair(pair)
    ex03_memory.check_efficient_pair(lambda: pair()[::-1], order="efficient-first")
    _fails(ex03_memory.check_efficient_pair, lambda: pair(same=False), match="identical weights")
    _fails(ex03_memory.check_efficient_pair, lambda: pair(efficient=False), match="memory_efficient=True")


def test_table1_checks():
    def depth(blocks, bottleneck=True, norms=False):
        if not blocks or any(n < 1 for n in blocks):
            raise ValueError(f"block_config must be block lengths >= 1, got {blocks}")
        return (2 if bottleneck else 1) * sum(blocks) + len(blocks) + (0 if norms else 1)
    ex04_table1.check_table1_depth(depth)
    ex04_table1.check_table1_depth(lambda b, bottleneck=True: depth(b, bottleneck, norms=True),
                                   count="batchnorm")
    _fails(ex04_table1.check_table1_depth, lambda b, bottleneck=True: depth(b, bottleneck, True))
    _fails(ex04_table1.check_table1_depth, depth, count="batchnorm")
    _fails(ex04_table1.check_table1_depth, lambda b, bottleneck=True: 2 * sum(b) + 5, match="ValueError")
    _fails(ex04_table1.check_table1_depth, lambda b, bottleneck=True: float(depth(b)), match="int")
    table = {(6, 12, 24, 16): 121, (6, 12, 32, 32): 169, (6, 12, 48, 32): 201, (6, 12, 64, 48): 264}
    _fails(ex04_table1.check_table1_depth, lambda b, bottleneck=True: table[tuple(b)], match="265")

    def no_name(blocks, bottleneck=True):
        if not blocks or min(blocks) < 1:
            raise ValueError("bad input")
        return depth(blocks, bottleneck)
    _fails(ex04_table1.check_table1_depth, no_name, match="block_config")
    ex04_table1.check_table1_model(lambda depth: models.densenet121())
    ex04_table1.check_table1_model(lambda depth: models.DenseNet(growth_rate=12, block_config=(16, 16, 16), num_init_features=24, stem=models.CIFAR_STEM), table="cifar-bc")
    _fails(ex04_table1.check_table1_model, lambda depth: models.DenseNet(growth_rate=8, block_config=(6, 12, 24, 16)))

    def sizes(model, size, dim=-1):
        x = torch.empty(1, 3, size, size, device="meta")
        out = {}
        for name, child in model.features.named_children():
            x = child(x)
            out[name] = x.shape[dim]
        return out
    ex04_table1.check_output_sizes(sizes)
    ex04_table1.check_output_sizes(lambda m, s: sizes(m, s, dim=1), report="channels")
    _fails(ex04_table1.check_output_sizes, lambda m, s: {"pool0": s // 2})


def test_concat_checks():
    ex05_concat_vs_add.check_split_linear(lambda lin, sizes: list(torch.split(lin.weight, list(sizes), 1)))
    ex05_concat_vs_add.check_split_linear(lambda lin, sizes: list(torch.split(lin.weight, list(sizes), 0)), split="rows")
    _fails(ex05_concat_vs_add.check_split_linear, lambda lin, sizes: list(torch.split(lin.weight.flip(1), list(sizes), 1)))
    ex05_concat_vs_add.check_as_residual(lambda A, B: torch.linalg.solve(A, B))
    ex05_concat_vs_add.check_as_residual(lambda A, B: torch.linalg.solve(A, B, left=False), side="right")
    _fails(ex05_concat_vs_add.check_as_residual, lambda A, B: torch.linalg.solve(A, B), side="right")
    _fails(ex05_concat_vs_add.check_as_residual, lambda A, B: B)

    def fit(f, y, affine=True):
        d = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], 1) if affine else f
        scale = (y - y.mean(0)).norm() if affine else y.norm()
        return float((d @ torch.linalg.lstsq(d, y).solution - y).norm() / scale)
    ex05_concat_vs_add.check_fit_error(fit)
    ex05_concat_vs_add.check_fit_error(lambda f, y: fit(f, y, affine=False), fit="linear")
    _fails(ex05_concat_vs_add.check_fit_error, lambda f, y: fit(f, y, affine=False))


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
    ex06_house_prices.check_dense_linear_block(Block)
    _fails(ex06_house_prices.check_dense_linear_block, lambda n, g, l: Block(n, g, l, dense=False), match="input itself")

    def folds(n, k):
        return [(torch.cat([torch.arange(0, j * n // k), torch.arange((j + 1) * n // k, n)]),
                 torch.arange(j * n // k, (j + 1) * n // k)) for j in range(k)]
    ex06_house_prices.check_k_fold(folds)
    _fails(ex06_house_prices.check_k_fold, lambda n, k: [(torch.arange(n - n // k), torch.arange(n // k))] * k, match="overlap")
    rmse = lambda p, y, log=torch.log: float(((log(p.clamp(min=1)) - log(y)) ** 2).mean().sqrt())
    ex06_house_prices.check_log_rmse(rmse)
    ex06_house_prices.check_log_rmse(lambda p, y: rmse(p, y, torch.log10), base=10)
    _fails(ex06_house_prices.check_log_rmse, rmse, base=10)
    _fails(ex06_house_prices.check_log_rmse, lambda p, y: float(((p - y) ** 2).mean().sqrt()))
    assert math.isclose(relative_error(torch.tensor([2.0]), torch.tensor([1.0])), 1.0)
