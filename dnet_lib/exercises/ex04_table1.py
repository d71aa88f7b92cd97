"""Exercise 4 (the paper's Table 1): the visible checks of the notebook `ex04_table1`."""
from __future__ import annotations

from typing import Callable

import torch

from .. import models
from ._common import ok, need_callable, hidden_tests_of

__all__ = ["check_table1_config", "check_table1_model", "check_output_sizes", "hidden_tests"]

hidden_tests = hidden_tests_of(__name__)


def check_table1_config(fn: Callable, table: str = "imagenet") -> None:
    need_callable(fn, "table1_block_config")
    depth, want, bad = (121, (6, 12, 24, 16), 100) if table == "imagenet" else (100, (16, 16, 16), 121)
    got = fn(depth)
    assert tuple(got) == want, f"DenseNet-{depth} has dense blocks of {want} layers, got {got}"
    try:
        fn(bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"table1_block_config({bad}) should raise ValueError: the table has no DenseNet-{bad}")
    ok(f"DenseNet-{depth} config and bad depth")


def check_table1_model(fn: Callable, table: str = "imagenet") -> None:
    need_callable(fn, "build_table1_densenet")
    depth, low, high, extra = (121, 7_000_000, 9_000_000, 5) if table == "imagenet" else (100, 700_000, 1_200_000, 4)
    with torch.device("meta"):                     # shapes only: no memory, no time
        model = fn(depth)
    n = sum(p.numel() for p in model.parameters())
    got = 2 * sum(model.block_config) + extra if hasattr(model, "block_config") else None
    assert got in (None, depth), f"the model's blocks give depth {got}, expected {depth}"
    assert low < n < high, f"DenseNet-{depth} has {low / 1e6:.1f}-{high / 1e6:.1f} million parameters, yours {n:,}"
    ok(f"DenseNet-{depth} built with {n:,} parameters")


def check_output_sizes(fn: Callable, report: str = "side") -> None:
    need_callable(fn, "output_sizes")
    with torch.device("meta"):
        model = models.densenet121()
    sizes = fn(model, 224)
    assert isinstance(sizes, dict), f"output_sizes must return a dict stage -> side length, got {type(sizes).__name__}"
    if report == "side":
        assert sizes.get("pool0") == 56, \
            f"after the stem (7x7/2 conv + 3x3/2 max pool) a 224 input is 56x56, got {sizes.get('pool0')}"
        ok("stem output 56x56")
    else:
        assert sizes.get("pool0") == 64, f"DenseNet-121's stem outputs 64 channels, got {sizes.get('pool0')}"
        ok("stem output 64 channels")
