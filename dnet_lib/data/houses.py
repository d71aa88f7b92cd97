"""The Kaggle house prices (d2l's copies) and d2l's preprocessing of them."""
from __future__ import annotations

import os

import numpy as np
import torch

from .fetch import checked_file, locate
from .sources import HOUSE_PRICE_FILES, SETUP_COMMAND, find_data_dir, not_found

_HINT = ("Put kaggle_house_pred_train.csv and kaggle_house_pred_test.csv (d2l's copies of "
         "Kaggle's 'House Prices' train.csv/test.csv) in that folder, or run "
         f"`{SETUP_COMMAND}`.")


def load_house_prices(data_dir: str | os.PathLike | None = None, download: bool = True):
    """(train, test) pandas DataFrames: 1460 x 81 (with SalePrice) and 1459 x 80.

    Read from ``data_dir`` or the data folder, md5-checked. When the files are missing they are
    downloaded there once (see ``ensure_data``), unless ``download=False`` or ``DNET_OFFLINE=1``.
    """
    import pandas as pd
    folder = locate("house-prices", data_dir) if download else find_data_dir("house-prices", data_dir)
    if folder is None:
        raise not_found("house-prices")
    train, test = (pd.read_csv(checked_file(folder, *HOUSE_PRICE_FILES[split], _HINT))
                   for split in ("train", "test"))
    return train, test


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
    n = len(train)
    log_price = torch.tensor(np.log(train[label].to_numpy(dtype=np.float64)), dtype=torch.float32)
    return values[:n], log_price.reshape(-1, 1), values[n:]


def load_house_price_tensors(data_dir: str | os.PathLike | None = None):
    """``preprocess_house_prices(*load_house_prices(data_dir))``."""
    return preprocess_house_prices(*load_house_prices(data_dir))
