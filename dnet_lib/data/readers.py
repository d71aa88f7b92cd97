"""One reader per dataset: Fashion-MNIST (its .gz IDX files) and the Kaggle house prices
(d2l's CSV copies, and d2l's preprocessing)."""
from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .sources import FASHION_MNIST_FILES, HOUSE_PRICE_FILES, checked_file, locate


class Split(NamedTuple):
    images: torch.Tensor    # uint8, (N, 28, 28) or (N, C, H, W)
    labels: torch.Tensor    # int64, (N,)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The uint8 array in a gzip-compressed IDX file (Fashion-MNIST's). Only md5-checked files
    are read, so the header is trusted: magic 0x0008, ndim, the sizes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    shape = np.frombuffer(raw, ">u4", raw[3], offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(shape)


def load_fashion_mnist(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST's 60,000 training or 10,000 test images as ``Split(images uint8
    (N, 28, 28), labels int64 (N,))``, from ``data_dir`` or the data folder (downloaded there
    once when missing). Cached per process: do not modify in place."""
    return _fashion_mnist(locate("fashion-mnist", data_dir).resolve(), "train" if train else "test")


@functools.lru_cache(maxsize=None)
def _fashion_mnist(folder: Path, split: str) -> Split:
    images, labels = (read_idx(checked_file(folder, *FASHION_MNIST_FILES[(split, kind)]))
                      for kind in ("images", "labels"))
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def load_house_prices(data_dir: str | os.PathLike | None = None, download: bool = True):
    """(train, test) pandas DataFrames: 1460 x 81 (with SalePrice) and 1459 x 80, md5-checked,
    from ``data_dir`` or the data folder (downloaded there once when missing, as ``locate``)."""
    import pandas as pd
    folder = locate("house-prices", data_dir, download)
    return tuple(pd.read_csv(checked_file(folder, *HOUSE_PRICE_FILES[split]))
                 for split in ("train", "test"))


def preprocess_house_prices(train, test) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """d2l's preprocessing -> (train_features, train_log_price (N, 1), test_features), float32:
    numeric columns standardised over train+test with NaN as 0 (the mean), categoricals one-hot
    with a "missing" column (dummy_na), Id dropped."""
    import pandas as pd
    label = "SalePrice"
    if label not in train.columns:
        raise ValueError(f"train must have a {label!r} column")
    features = pd.concat([train.drop(columns=["Id", label]), test.drop(columns=["Id"])])
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    features[numeric] = ((features[numeric] - features[numeric].mean())
                         / features[numeric].std()).fillna(0)
    features = pd.get_dummies(features, dummy_na=True)
    values = torch.tensor(features.to_numpy(dtype=np.float32))
    log_price = torch.tensor(np.log(train[label].to_numpy(dtype=np.float64)), dtype=torch.float32)
    return values[:len(train)], log_price.reshape(-1, 1), values[len(train):]
