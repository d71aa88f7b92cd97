"""CIFAR-10 for the training CLI (``--dataset cifar10``): its python batches read from a local
folder, and its standard random-crop augmentation (``--crop-padding``). The book's chapters use
neither, so dnet_lib has neither."""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dnet_lib.data import DataError, Split, data_root, make_loaders
from dnet_lib.validate import check_int


@dataclass(frozen=True)
class RandomCrop:
    """``DeviceLoader(augment=RandomCrop(4))``: zero-pad by ``padding``, then take a random HxW
    window per image from the loader's generator (no Python loop)."""
    padding: int = 4

    def __post_init__(self):
        check_int("padding", self.padding, 1)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        p, (b, c, h, w), device = self.padding, x.shape, x.device
        padded = F.pad(x, (p, p, p, p))
        off = torch.randint(0, 2 * p + 1, (2, b), device=device, generator=generator)
        rows = off[0][:, None] + torch.arange(h, device=device)                  # (B, H)
        cols = off[1][:, None] + torch.arange(w, device=device)                  # (B, W)
        # two gathers (rows, then columns): cheaper than one 4-index lookup
        padded = padded.gather(2, rows[:, None, :, None].expand(b, c, h, padded.shape[-1]))
        return padded.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def load_cifar10(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """CIFAR-10 as ``Split(images uint8 (N, 3, 32, 32), labels int64 (N,))``.

    Reads ``cifar-10-batches-py/`` (from cifar-10-python.tar.gz: ``data_batch_1..5``,
    ``test_batch``) in ``data_dir`` (that folder or its parent; default ``data_root()``).
    Unpickle only files you trust.
    """
    folder = Path(data_dir if data_dir is not None else data_root()).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    images, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]:
        if not (folder / name).is_file():
            raise DataError(f"missing CIFAR-10 file {folder / name}; expected the folder "
                            f"cifar-10-batches-py from cifar-10-python.tar.gz")
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{folder / name}: b'data' has shape {data.shape}, expected (N, 3072)")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return Split(torch.from_numpy(np.concatenate(images)),
                 torch.from_numpy(np.concatenate(labels)))


def load_data_cifar10(batch_size: int, resize: int | None = None, *,
                      data_dir: str | os.PathLike | None = None, flip: bool = True,
                      augment=RandomCrop(4), **options):
    """``make_loaders`` over CIFAR-10 with the standard flip + 4-pixel crop augmentation."""
    return make_loaders(load_cifar10(True, data_dir), load_cifar10(False, data_dir), batch_size,
                        resize, flip=flip, augment=augment, **options)
