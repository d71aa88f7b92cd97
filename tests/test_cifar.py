"""dnet_tools.cifar: the training CLI's CIFAR-10 reader, on a tiny archive written here."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dnet_lib.data import DataError
from dnet_tools.cifar import load_cifar10, load_data_cifar10


def _write_cifar(folder: Path, n_per_batch: int, seed: int):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    arrays = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n_per_batch).tolist(), b"batch_label": name.encode()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        arrays[name] = batch
    return arrays


def test_cifar10_tiny_archive(tmp_path):
    arrays = _write_cifar(tmp_path / "cifar-10-batches-py", 7, seed=0)
    train = load_cifar10(True, tmp_path)
    test = load_cifar10(False, tmp_path / "cifar-10-batches-py")
    assert train.images.shape == (35, 3, 32, 32) and test.images.shape == (7, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    # channel-major rows: the first 1024 bytes are the red plane
    assert torch.equal(train.images[0, 0].flatten(), torch.from_numpy(arrays["data_batch_1"][b"data"][0, :1024]))
    assert train.labels[7:14].tolist() == arrays["data_batch_2"][b"labels"]
    tr, te = load_data_cifar10(5, device="cpu", data_dir=tmp_path)
    x, y = next(iter(tr))
    assert x.shape == (5, 3, 32, 32)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(False, tmp_path)
