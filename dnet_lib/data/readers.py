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

from .sources import checked_file, locate


class Split(NamedTuple):
    images: torch.Tensor    # uint8, (N, 28, 28) or (N, C, H, W)
    labels: torch.Tensor    # int64, (N,)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The uint8 array in a gzip-compressed IDX file (Fashion-MNIST's). Only md5-checked files
    are read, so the header is trusted: magic 0x0008, ndim, the sizes."""
    raw = gzip.decompress(Path(path).read_bytes())
    shape = np.frombuffer(raw, ">u4", raw[3], offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(shape)


def load_fashion_mnist(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST's 60,000 training or 10,000 test images (N, 28, 28) as a ``Split``, from
    ``data_dir`` or the data folder (downloaded once if missing). Cached: do not modify in place."""
    return _fashion_mnist(locate("fashion-mnist", data_dir).resolve(), "train" if train else "t10k")


@functools.lru_cache(maxsize=None)
def _fashion_mnist(folder: Path, prefix: str) -> Split:
    images, labels = (read_idx(checked_file(folder, f"{prefix}-{kind}-ubyte.gz"))
                      for kind in ("images-idx3", "labels-idx1"))
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def load_house_prices(data_dir: str | os.PathLike | None = None, download: bool = True):
    """(train, test) pandas DataFrames: 1460 x 81 (with SalePrice) and 1459 x 80, md5-checked,
    from ``data_dir`` or the data folder (downloaded there once when missing, as ``locate``)."""
    import pandas as pd
    folder = locate("house-prices", data_dir, download)
    return tuple(pd.read_csv(checked_file(folder, f"kaggle_house_pred_{split}.csv"))
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
    numeric = features.select_dtypes("number").columns
    features[numeric] = features[numeric].apply(lambda x: (x - x.mean()) / x.std()).fillna(0)
    features = pd.get_dummies(features, dummy_na=True)
    values = torch.tensor(features.to_numpy(dtype=np.float32))
    log_price = torch.tensor(np.log(train[label].to_numpy(dtype=np.float64)), dtype=torch.float32)
    return values[:len(train)], log_price.reshape(-1, 1), values[len(train):]
