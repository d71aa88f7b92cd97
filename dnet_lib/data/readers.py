"""One reader per dataset: Fashion-MNIST (its .gz IDX files) and the Kaggle house prices
(d2l's CSV copies, and d2l's preprocessing)."""
from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np
import torch

from .sources import FASHION_MNIST_FILES, HOUSE_PRICE_FILES, DataError, checked_file, locate

_CACHE: dict[tuple[str, str], "Split"] = {}


class Split(NamedTuple):
    images: torch.Tensor    # uint8, (N, 28, 28) or (N, C, H, W)
    labels: torch.Tensor    # int64, (N,)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Decode one gzip-compressed IDX file of unsigned bytes (Fashion-MNIST's) into an array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3] if len(raw) >= 4 else 0
    if raw[:3] != b"\0\0\x08" or len(raw) < 4 + 4 * ndim:     # 0x08: unsigned byte
        raise DataError(f"{path} is not an IDX file of bytes (magic number {raw[:4].hex()})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    if len(raw) != 4 + 4 * ndim + int(np.prod(shape)):
        raise DataError(f"{path}: header says shape {shape} but the file holds "
                        f"{len(raw) - 4 - 4 * ndim} data bytes")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST as ``Split(images uint8 (N, 28, 28), labels int64 (N,))``.

    60,000 training or 10,000 test images, from ``data_dir`` or the data folder (downloaded
    there once when missing, see ``ensure_data``). Cached per process: do not modify in place.
    """
    split = "train" if train else "test"
    folder = locate("fashion-mnist", data_dir)
    key = (str(folder.resolve()), split)
    if key not in _CACHE:
        images, labels = (read_idx(checked_file(folder, *FASHION_MNIST_FILES[(split, kind)]))
                          for kind in ("images", "labels"))
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise DataError(f"unexpected shapes {images.shape} / {labels.shape} in {folder}")
        _CACHE[key] = Split(torch.from_numpy(images.copy()),
                            torch.from_numpy(labels.astype(np.int64)))
    return _CACHE[key]


def load_house_prices(data_dir: str | os.PathLike | None = None, download: bool = True):
    """(train, test) pandas DataFrames: 1460 x 81 (with SalePrice) and 1459 x 80.

    Read from ``data_dir`` or the data folder, md5-checked; downloaded there once when missing,
    unless ``download=False`` or ``DNET_OFFLINE=1``.
    """
    import pandas as pd
    folder = locate("house-prices", data_dir, download)
    return tuple(pd.read_csv(checked_file(folder, *HOUSE_PRICE_FILES[split]))
                 for split in ("train", "test"))


def preprocess_house_prices(train, test) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """d2l's preprocessing -> (train_features, train_log_price (N, 1), test_features), float32.

    Numeric columns are standardised over train+test, NaN becomes 0 (the mean), categoricals are
    one-hot encoded with an extra "missing" column (dummy_na). The Id column is dropped.
    """
    import pandas as pd
    label = "SalePrice"
    if label not in train.columns:
        raise ValueError(f"train must have a {label!r} column")
    features = pd.concat([train.drop(columns=["Id", label]), test.drop(columns=["Id"])])
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    features[numeric] = features[numeric].apply(lambda col: (col - col.mean()) / col.std())
    features[numeric] = features[numeric].fillna(0)
    features = pd.get_dummies(features, dummy_na=True)
    values = torch.tensor(features.to_numpy(dtype=np.float32))
    log_price = torch.tensor(np.log(train[label].to_numpy(dtype=np.float64)), dtype=torch.float32)
    return values[:len(train)], log_price.reshape(-1, 1), values[len(train):]
