"""Exercise 4 (the paper's Table 1): the visible checks of the notebook `ex04_table1`."""
import torch

from .. import models
from ._common import answer, hidden_tests_of, need_callable, ok

hidden_tests = hidden_tests_of(__name__)

# per variant: the function's name and its visible cases, (block lengths, bottleneck) -> count
_VISIBLE = {"depth": ("table1_depth", {((6, 12, 24, 16), True): 121, ((6, 12, 32, 32), True): 169,
                                       ((6, 12, 48, 32), True): 201, ((6, 12, 64, 48), True): 265}),
            "batchnorm": ("count_batchnorms",
                          {((16, 16, 16), True): 99, ((12, 12, 12), False): 39})}


def check_table1_depth(fn, count: str = "depth") -> None:
    """``fn(block_config, bottleneck=True)`` on a few known block lengths and on bad input."""
    name, cases = _VISIBLE[count]
    need_callable(fn, name)
    for (blocks, bottleneck), want in cases.items():
        got = fn(blocks) if bottleneck else fn(blocks, bottleneck=False)
        assert type(got) is int, f"{name}{blocks} must return an int, got {type(got).__name__}"
        note = " (the paper calls it DenseNet-264: a slip in its naming)" if want == 265 else ""
        assert got == want, f"{name}{blocks}: expected {want}{note}, got {got}"
    for bad in ((), (6, 0, 24)):
        try:
            fn(bad)
        except ValueError as e:
            assert "block_config" in str(e), \
                f"the ValueError of {name}({bad}) should name block_config, got {str(e)!r}"
        else:
            raise AssertionError(f"{name}({bad}) should raise ValueError: "
                                 "a DenseNet has at least one block of at least one layer")
    ok(f"{len(cases)} block configurations and bad input")


def check_table1_model(fn, table: str = "imagenet") -> None:
    need_callable(fn, "build_table1_densenet")
    depth, blocks, low, high = ((121, (6, 12, 24, 16), 7e6, 9e6) if table == "imagenet"
                                else (100, (16, 16, 16), 7e5, 1.2e6))
    with torch.device("meta"):                     # shapes only: no memory, no time
        model = fn(depth)
    n = sum(p.numel() for p in model.parameters())
    got = tuple(getattr(model, "block_config", blocks))
    assert got == blocks, f"DenseNet-{depth} has dense blocks of {blocks} layers, got {got}"
    assert low < n < high, \
        f"DenseNet-{depth} has {low / 1e6:.1f}-{high / 1e6:.1f} million parameters, yours {n:,}"
    ok(f"DenseNet-{depth} built with {n:,} parameters")


def check_output_sizes(fn, report: str = "side") -> None:
    with torch.device("meta"):
        model = models.densenet121()
    sizes = answer(fn, "output_sizes", dict, model, 224)
    want = 56 if report == "side" else 64
    assert sizes.get("pool0") == want, (f"DenseNet-121's stem (7x7/2 conv, 3x3/2 max pool, 64 "
                                        f"channels) leaves pool0 with {report} {want} for a 224 "
                                        f"input, got {sizes.get('pool0')}")
    ok(f"stem output: {want} {report}")
