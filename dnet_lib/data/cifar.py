"""CIFAR-10 from its python batches (a folder you give), or downloaded by torchvision."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch

from .fashion_mnist import Split
from .sources import DataError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


def default_download_root() -> Path:
    """Where torchvision downloads CIFAR-10 (``$DNET_DOWNLOAD_DIR``, else ~/.cache/dnet_lib)."""
    return Path(os.environ.get("DNET_DOWNLOAD_DIR", Path.home() / ".cache" / "dnet_lib"))


def _download(train: bool, root: Path) -> Split:
    import torchvision
    try:
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=True)
    except Exception as exc:
        raise DataError(f"CIFAR-10 could not be downloaded to {root} ({exc}). Offline, pass "
                        f"data_dir= a folder holding cifar-10-batches-py/") from exc
    images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    return Split(images, torch.as_tensor(ds.targets, dtype=torch.int64))


def load_cifar10(train: bool = True, data_dir: str | os.PathLike | None = None,
                 download_root: str | os.PathLike | None = None) -> Split:
    """CIFAR-10 as ``Split(images uint8 (N, 3, 32, 32), labels int64 (N,))``.

    Reads CIFAR's own python format (``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
    pickled dicts with ``b'data'`` uint8 (N, 3072) and ``b'labels'``) from ``data_dir`` (the
    batches folder or its parent). Without ``data_dir`` it downloads with torchvision.
    Only open pickle files you trust: unpickling can run code.
    """
    if data_dir is None:
        return _download(train, Path(download_root or default_download_root()))
    folder = Path(data_dir).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    images, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]:
        path = folder / name
        if not path.is_file():
            raise DataError(f"missing CIFAR-10 file {path}; expected the folder cifar-10-batches-py "
                            f"from cifar-10-python.tar.gz (data_batch_1..5, test_batch)")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{path}: b'data' has shape {data.shape}, expected (N, 3072)")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return Split(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)))
