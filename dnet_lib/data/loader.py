"""Feeding a model: class-balanced subsets and ``DeviceLoader``, which keeps a whole dataset
on the device and builds every batch there: no workers, no PIL, no host-to-device copies."""
from __future__ import annotations

import functools
import hashlib
import math
import os
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from ..validate import check_int, check_ints
from .readers import Split, load_fashion_mnist


def balanced_subset(labels: torch.Tensor, size: float | int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a class-balanced random subset of ``size`` (a fraction in (0, 1] or a
    count): count // classes per class, the remainder to the first classes."""
    labels = torch.as_tensor(labels)
    n = len(labels)
    is_count = isinstance(size, int) and not isinstance(size, bool)
    if not (is_count and 1 <= size <= n) and not (isinstance(size, float) and 0 < size <= 1):
        raise ValueError(f"subset must be a fraction in (0, 1] or a count in [1, {n}], "
                         f"got {size!r}")
    count = size if is_count else max(1, round(size * n))
    classes = torch.unique(labels).tolist()
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for i, c in enumerate(classes):
        k = count // len(classes) + (i < count % len(classes))
        idx = torch.nonzero(labels == c).flatten()
        if k > len(idx):
            raise ValueError(f"subset={size!r} asks for {k} examples of class {c} but it has "
                             f"{len(idx)}")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    return torch.sort(torch.cat(chosen)).values


def _mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (stable across processes, unlike hash())."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class DeviceLoader:
    """Batches ``(x float32 (B, C, H, W), y int64 (B,))`` built on the device from uint8 images.
    Per batch: gather, to float, optional ``augment(x, generator)`` (e.g. a random crop) and
    random flip, bilinear resize, ``(x / 255 - mean) / std``. Epoch ``e``'s order and
    augmentation come from ``(seed, e)`` alone: a resumed run (``set_epoch``) sees the same."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, drop_last: bool = False, resize: int | None = None,
                 mean: float | Sequence[float] | None = None,
                 std: float | Sequence[float] | None = None, flip: bool = False,
                 augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                 device: str | torch.device | None = None, seed: int = 0):
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be a uint8 tensor, got dtype {images.dtype}")
        images = images.unsqueeze(1) if images.dim() == 3 else images
        if images.dim() != 4 or len(images) == 0:
            raise ValueError(f"images must be (N, H, W) or (N, C, H, W), N >= 1: {images.shape}")
        labels = torch.as_tensor(labels)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
        check_ints(1, batch_size=batch_size, **({} if resize is None else {"resize": resize}))
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together (or both None)")
        self.set_shard(0, 1)      # all examples; distributed training shards it per rank
        self.device = torch.device(device) if device is not None else images.device
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.resize, self.flip, self.augment = resize, flip, augment
        self.seed, self.epoch = seed, 0
        m, sd = (torch.as_tensor(v, dtype=torch.float32).reshape(1, -1, 1, 1).to(self.device)
                 for v in ((0.0, 1.0) if mean is None else (mean, std)))
        if (sd <= 0).any():
            raise ValueError(f"std must be > 0, got {std!r}")
        # (x/255 - mean)/std == x * scale + shift: one fused multiply-add per pixel
        self._scale, self._shift = 1.0 / (255.0 * sd), -m / sd
        self._aug_generator = torch.Generator(device=self.device)

    def __len__(self) -> int:   # read every step: counted, not shuffled (padded: rank 0's count)
        n = len(range(0 if self.pad_shards else self.rank, len(self.labels), self.world_size))
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle/augmentation randomness of ``epoch`` for the next iteration."""
        self.epoch = int(epoch)

    def set_shard(self, rank: int, world_size: int, pad: bool = True) -> None:
        """Take every ``world_size``-th example from ``rank`` on; ``pad`` repeats the first
        examples so that every rank gets as many (training), else each example counts once."""
        check_int("world_size", world_size, 1)
        self.rank, self.world_size = check_int("rank", rank, 0, world_size - 1), world_size
        self.pad_shards = pad

    def indices(self, epoch: int | None = None) -> torch.Tensor:
        """This rank's example order for ``epoch`` (a CPU int64 tensor)."""
        n, g = len(self.labels), torch.Generator()
        g.manual_seed(_mix_seed(self.seed, self.epoch if epoch is None else epoch))
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        if self.pad_shards:     # repeat the start: every rank gets the same count
            order = torch.cat([order, order[:(-n) % self.world_size]])
        return order[self.rank::self.world_size]

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) on the device -> normalised float batch (augmented if enabled)."""
        x = images.float()
        if self.augment is not None:
            x = self.augment(x, self._aug_generator)
        if self.flip:
            flip = torch.rand(x.shape[0], device=x.device, generator=self._aug_generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.resize is not None and tuple(x.shape[-2:]) != (self.resize, self.resize):
            x = F.interpolate(x, size=(self.resize,) * 2, mode="bilinear", align_corners=False)
        return torch.addcmul(self._shift, x, self._scale)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._aug_generator.manual_seed(_mix_seed(self.seed, self.epoch, self.rank, 1))
        order = self.indices().to(self.device)
        self.epoch += 1      # a plain next iteration moves on to a new epoch
        for idx in order.split(self.batch_size)[:len(self)]:    # drop_last: not the partial one
            yield self.transform(self.images[idx]), self.labels[idx]


@functools.lru_cache(maxsize=1)      # by tensor object: the readers' cached training split
def dataset_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (do not modify them in place)."""
    x = images if images.dim() == 4 else images.unsqueeze(1)
    x = x.transpose(0, 1).flatten(1).double() / 255.0
    return x.mean(1).tolist(), x.std(1).tolist()


def make_loaders(train: Split, test: Split, batch_size: int, resize: int | None = None, *,
                 device: str | torch.device | None = None, subset: float | int | None = None,
                 test_subset: float | int | None = None, seed: int = 0, normalize: bool = True,
                 flip: bool = False, augment=None,
                 drop_last: bool = False) -> tuple[DeviceLoader, DeviceLoader]:
    """(train_iter, test_iter) on ``device`` (default: runtime.pick_device()); ``subset``s are
    class-balanced (``balanced_subset``, ``seed``); ``normalize`` uses the full training set's
    mean/std; ``flip`` and ``augment`` change the training batches only."""
    from .. import runtime
    device = runtime.pick_device(device)
    mean, std = dataset_stats(train.images) if normalize else (None, None)
    train, test = (s if n is None else Split(*(t[balanced_subset(s.labels, n, seed)] for t in s))
                   for s, n in ((train, subset), (test, test_subset)))
    common = dict(resize=resize, mean=mean, std=std, device=device, seed=seed)
    return (DeviceLoader(*train, batch_size, shuffle=True, drop_last=drop_last, flip=flip,
                         augment=augment, **common),
            DeviceLoader(*test, batch_size, shuffle=False, **common))


def load_data_fashion_mnist(batch_size: int, resize: int | None = None, *,
                            data_dir: str | os.PathLike | None = None, **options):
    """``make_loaders`` over Fashion-MNIST (``options``: its keywords; no augmentation)."""
    return make_loaders(load_fashion_mnist(True, data_dir), load_fashion_mnist(False, data_dir),
                        batch_size, resize, **options)

