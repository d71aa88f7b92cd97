"""Exercise 6 (house prices): the visible checks of the notebook `ex06_house_prices`."""
import math

import torch

from ._common import answer, hidden_tests_of, need_callable, ok

hidden_tests = hidden_tests_of(__name__)


def check_dense_linear_block(cls) -> None:
    x = torch.randn(4, 5)
    out = cls(5, 3, 2)(x)
    assert tuple(out.shape) == (4, 11), \
        f"DenseLinearBlock(5, growth=3, num_layers=2) outputs 11 features, got {tuple(out.shape)}"
    assert torch.equal(out[:, :5], x), "the first in_features outputs must be the input itself"
    ok("output width and pass-through of the input")


def check_k_fold(fn) -> None:
    need_callable(fn, "k_fold_indices")
    folds = list(fn(10, 5))
    assert len(folds) == 5, f"5 folds expected, got {len(folds)}"
    train, valid = folds[0]
    assert (len(valid), len(train)) == (2, 8), \
        f"fold 0 of 10 samples, k=5: 2 valid and 8 train, got {len(valid)}/{len(train)}"
    assert not set(map(int, train)) & set(map(int, valid)), "train and validation indices overlap"
    ok("5 folds of 10 samples")


def check_log_rmse(fn, base: float | str = "e") -> None:
    y, factor = torch.tensor([[100.0], [200.0]]), math.e if base == "e" else float(base)
    got = answer(fn, "log_rmse", float, y, y)
    assert abs(got) < 1e-7, f"a perfect prediction has log-RMSE 0, got {got}"
    got = fn(y * factor, y)
    assert abs(got - 1.0) < 1e-5, f"{factor:.4g} times the price is 1 off in log space, got {got}"
    ok(f"log-RMSE of perfect and {factor:.4g}-times predictions")
