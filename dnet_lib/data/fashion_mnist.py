"""Fashion-MNIST read straight from its four original ``.gz`` IDX files (gzip + numpy)."""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .fetch import checked_file, locate
from .sources import FASHION_MNIST_FILES, SETUP_COMMAND, DataError


class Split(NamedTuple):
    images: torch.Tensor    # uint8, (N, 28, 28) or (N, C, H, W)
    labels: torch.Tensor    # int64, (N,)


# IDX type codes (the third byte of the magic number) -> numpy dtype, big-endian
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_HINT = ("Put the four original Fashion-MNIST .gz files (train-images-idx3-ubyte.gz, "
         "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
         f"in that folder, or run `{SETUP_COMMAND}`.")
_CACHE: dict[tuple[str, str], Split] = {}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Decode one IDX file (gzip-compressed or plain) into a numpy array."""
    path = Path(path)
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape)) if shape else 1
    if len(raw) != header + count * dtype.itemsize:
        raise DataError(f"{path}: header says shape {shape} but the file holds "
                        f"{len(raw) - header} data bytes")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)


def load_fashion_mnist(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST as ``Split(images uint8 (N, 28, 28), labels int64 (N,))``.

    60,000 training or 10,000 test images, from ``data_dir`` or the data folder (downloaded
    there once when missing, see ``ensure_data``). The tensors are cached per process and shared
    between calls: do not modify them in place.
    """
    split = "train" if train else "test"
    folder = locate("fashion-mnist", data_dir)
    key = (str(folder.resolve()), split)
    if key not in _CACHE:
        images, labels = (read_idx(checked_file(folder, *FASHION_MNIST_FILES[(split, kind)], _HINT))
                          for kind in ("images", "labels"))
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise DataError(f"unexpected shapes {images.shape} / {labels.shape} in {folder}")
        _CACHE[key] = Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))
    return _CACHE[key]
