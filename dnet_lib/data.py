"""Datasets for the book: Fashion-MNIST, CIFAR-10 and the Kaggle house prices.

Two ways to feed a model:

* ``DeviceLoader`` keeps a whole dataset as one uint8 tensor on the device and builds every
  batch there (index, resize, flip/crop, normalise). No worker processes, no PIL, no copies
  from host to device per step -- this is what ``load_data_fashion_mnist`` returns.
* ``classic_loaders`` is the usual torchvision dataset + transforms + ``DataLoader`` pipeline,
  kept so the two can be compared.

Fashion-MNIST is read straight from its four ``.gz`` IDX files (gzip + numpy, md5-checked).

Where the files live (``data_root``): ``$DNET_DATA_DIR`` when set, else ``../shared/data`` beside
the repository when present, else the repository's git-ignored ``data/`` folder (outside a
checkout, e.g. in Colab: ``~/.cache/dnet_lib/data``). ``python -m dnet_lib.data`` (run by
``make data``, which ``make book`` and ``make test`` run first) fills that folder once from
``DATA_SOURCES`` -- each file md5-checked before it is saved. A loader that finds nothing
downloads the same way, except when ``DNET_OFFLINE=1`` (the tests set it): then it raises a
``DataError`` naming the set-up command.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import shutil
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .files import atomic_write

__all__ = [
    "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES", "HOUSE_PRICE_FILES", "DATASETS",
    "DATA_SOURCES", "CIFAR10_CLASSES", "DataError", "data_root", "dataset_dir", "find_data_dir",
    "ensure_data",
    "data_source", "md5sum", "read_idx", "load_fashion_mnist", "load_cifar10",
    "balanced_subset", "DeviceLoader", "load_data_fashion_mnist", "load_data_cifar10",
    "torchvision_root", "classic_loaders", "load_house_prices", "preprocess_house_prices",
    "load_house_price_tensors",
]

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

# File name and md5 of the original upstream files (the same md5s torchvision checks).
FASHION_MNIST_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}

# d2l's copies of the Kaggle house-price files (their sha1s are d2l's DATA_HUB hashes).
HOUSE_PRICE_FILES = {
    "train": ("kaggle_house_pred_train.csv", "80ccab65fb115cbad143dbbd2bcd5577"),
    "test": ("kaggle_house_pred_test.csv", "dcec4b79bf9c7317bd9e17789bf888f0"),
}

# Every file the set-up provides, as {dataset folder: {file name: md5}}.
DATASETS = {
    "fashion-mnist": dict(FASHION_MNIST_FILES.values()),
    "house-prices": dict(HOUSE_PRICE_FILES.values()),
}

# Where the set-up downloads each dataset from: the mirrors torchvision (FashionMNIST.mirrors)
# and d2l (DATA_URL) use. DNET_DATA_MIRROR=URL replaces both with one server laid out like the
# data folder: URL/fashion-mnist/<file>, URL/house-prices/<file>.
DATA_SOURCES = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "house-prices": "http://d2l-data.s3-accelerate.amazonaws.com/",
}
MIRROR_ENV = "DNET_DATA_MIRROR"
SETUP_COMMAND = "make data"         # = python -m dnet_lib.data; make book and make test run it

_REPO_ROOT = Path(__file__).resolve().parents[1]


class DataError(RuntimeError):
    """A dataset file is missing or does not match its checksum."""


# --------------------------------------------------------------------------- locating files
def _in_checkout() -> bool:
    return (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "dnet_lib").is_dir()


def data_root() -> Path:
    """The folder that holds (or will hold) ``fashion-mnist/`` and ``house-prices/``.

    ``$DNET_DATA_DIR`` when set; else ``<repo>/../shared/data`` when it exists; else the
    repository's git-ignored ``data/`` (outside a checkout: ``~/.cache/dnet_lib/data``).
    """
    env = os.environ.get("DNET_DATA_DIR")
    if env:
        return Path(env).expanduser()
    shared = _REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return _REPO_ROOT / "data" if _in_checkout() else Path.home() / ".cache" / "dnet_lib" / "data"


def _dataset_folder(root: Path, name: str, must_contain: str | None) -> Path | None:
    """``root/name``, or ``root`` itself when it is that dataset's folder (DNET_DATA_DIR may point
    at ``.../fashion-mnist``), or its sibling ``root/../name``."""
    for folder in (root / name, root, root.parent / name):
        if folder.is_dir() and (must_contain is None or (folder / must_contain).exists()):
            return folder
    return None


def find_data_dir(name: str, data_dir: str | os.PathLike | None = None,
                  must_contain: str | None = None) -> Path | None:
    """The folder holding dataset ``name`` ("fashion-mnist" or "house-prices"), or None.

    Looks in ``data_dir`` when given (an explicit folder that does not exist is an error, and
    one without the files is returned as it is, so the file check can say what is missing),
    else in ``data_root()``.
    """
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.exists():
            raise DataError(f"data_dir {str(root)!r} does not exist")
        return _dataset_folder(root, name, must_contain) or root
    return _dataset_folder(data_root(), name, must_contain)


def dataset_dir(name: str) -> Path:
    """The folder of dataset ``name`` under ``data_root()``; never downloads.

    Raises ``DataError`` naming the set-up command when it is not there (what the tests use).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    folder = _dataset_folder(data_root(), name, next(iter(DATASETS[name])))
    if folder is None:
        raise _not_found(name)
    return folder


def downloads_allowed() -> bool:
    """False when ``DNET_OFFLINE`` is 1/true/yes: loaders then never download (the tests set it)."""
    return os.environ.get("DNET_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def data_source(name: str) -> str:
    """Base URL the set-up downloads dataset ``name`` from (``$DNET_DATA_MIRROR`` overrides)."""
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        return mirror.rstrip("/") + f"/{name}/"
    return DATA_SOURCES[name]


def _not_found(name: str) -> DataError:
    return DataError(
        f"{name} data not found under {data_root() / name}. Run `{SETUP_COMMAND}` (part of "
        f"`make test` and `make book`; or `python -m dnet_lib.data`) to download it, or set "
        f"DNET_DATA_DIR to a folder holding {name}/ ({', '.join(DATASETS[name])}).")


def _locate(name: str, data_dir, must_contain: str) -> Path:
    """Folder of dataset ``name``; downloads it into ``data_root()`` when missing and allowed."""
    folder = find_data_dir(name, data_dir, must_contain)
    if folder is not None:
        return folder
    if not downloads_allowed():
        raise _not_found(name)
    return ensure_data(names=[name])[name]


_MD5_CACHE: dict[tuple[str, int, int], str] = {}
_MD5_LOCK = threading.Lock()


def md5sum(path: str | os.PathLike) -> str:
    """md5 of a file, computed once per (path, size, mtime) per process."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _MD5_LOCK:
        if key in _MD5_CACHE:
            return _MD5_CACHE[key]
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    with _MD5_LOCK:
        _MD5_CACHE[key] = digest.hexdigest()
    return _MD5_CACHE[key]


def _checked_file(folder: Path, filename: str, expected_md5: str, hint: str) -> Path:
    path = folder / filename
    if not path.is_file():
        raise DataError(f"missing file {path} (expected md5 {expected_md5}). {hint}")
    actual = md5sum(path)
    if actual != expected_md5:
        raise DataError(f"corrupt file {path}: md5 {actual}, expected md5 {expected_md5}. "
                        f"Replace it with the original file. {hint}")
    return path


# --------------------------------------------------------------------------- set-up (downloads)
def _download(url: str, path: Path, expected_md5: str, progress: bool) -> None:
    """Fetch ``url`` into ``path`` atomically; the md5 is checked before the file appears."""
    from tqdm.auto import tqdm

    def fetch(f) -> None:
        digest, received, total = hashlib.md5(), 0, None
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=path.name, disable=not progress, leave=False) as bar:
                    while chunk := response.read(1 << 16):
                        f.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, ValueError) as exc:   # 404, refused, timeout, bad URL
            raise DataError(f"could not download {path.name} from {url}: {exc}. Nothing was "
                            f"saved; check the connection or point {MIRROR_ENV} at a mirror.") from exc
        if total is not None and received != total:
            raise DataError(f"download of {path.name} from {url} stopped after {received:,} of "
                            f"{total:,} bytes. Nothing was saved; run `{SETUP_COMMAND}` again.")
        if digest.hexdigest() != expected_md5:
            raise DataError(f"{path.name} from {url} has md5 {digest.hexdigest()}, expected md5 "
                            f"{expected_md5} ({received:,} bytes received). Nothing was saved; "
                            f"the source serves a different or damaged file.")

    atomic_write(path, fetch)


def ensure_data(root: str | os.PathLike | None = None, names: Sequence[str] | None = None, *,
                progress: bool = True) -> dict[str, Path]:
    """The set-up: make sure every dataset file is under ``root`` (default ``data_root()``).

    A file already there is md5-checked; a missing one is downloaded from ``data_source(name)``
    and saved only once its md5 matches. Returns ``{name: folder}``. Raises ``DataError`` naming
    the file and the source when a download fails or a checksum does not match.
    """
    root = Path(root).expanduser() if root is not None else data_root()
    names = list(DATASETS) if names is None else list(names)
    folders = {}
    for name in names:
        if name not in DATASETS:
            raise ValueError(f"names must be among {sorted(DATASETS)}, got {name!r}")
        files = DATASETS[name]
        folder = _dataset_folder(root, name, next(iter(files))) or root / name
        for filename, md5 in files.items():
            path = folder / filename
            if path.is_file():
                _checked_file(folder, filename, md5,
                              f"Delete it and run `{SETUP_COMMAND}` to download it again.")
                continue
            _download(data_source(name) + filename, path, md5, progress)
        folders[name] = folder
    return folders


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m dnet_lib.data",
        description="Download (once) and md5-check the book's datasets into the data folder: "
                    "$DNET_DATA_DIR, else ../shared/data when present, else data/.")
    parser.add_argument("--root", type=Path, default=None, help="data folder (default: see above)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        folders = ensure_data(args.root, progress=not args.quiet)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, folder in folders.items():
        size = sum((folder / f).stat().st_size for f in DATASETS[name])
        print(f"ok: {name}: {len(DATASETS[name])} files, {size / 1e6:.1f} MB, md5 checked, in {folder}")
    return 0


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Decode one IDX file (gzip-compressed or plain) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
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


# --------------------------------------------------------------------------- Fashion-MNIST
class Split(NamedTuple):
    images: torch.Tensor    # uint8, (N, 28, 28) or (N, C, H, W)
    labels: torch.Tensor    # int64, (N,)


_FASHION_CACHE: dict[tuple[str, str], Split] = {}
_FASHION_HINT = ("Put the four original Fashion-MNIST .gz files (train-images-idx3-ubyte.gz, "
                 "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
                 f"in that folder, or run `{SETUP_COMMAND}`.")


def _default_download_root() -> Path:
    """torchvision's downloads (CIFAR-10) and its unpacked Fashion-MNIST layout."""
    return Path(os.environ.get("DNET_DOWNLOAD_DIR", Path.home() / ".cache" / "dnet_lib"))


def load_fashion_mnist(train: bool = True, data_dir: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST as ``Split(images uint8 (N, 28, 28), labels int64 (N,))``.

    60,000 training or 10,000 test images, from ``data_dir`` or the data folder (downloaded
    there once when missing, see ``ensure_data``). The tensors are cached per process and shared
    between calls: do not modify them in place.
    """
    split = "train" if train else "test"
    folder = _locate("fashion-mnist", data_dir, FASHION_MNIST_FILES[(split, "labels")][0])
    key = (str(folder.resolve()), split)
    if key not in _FASHION_CACHE:
        paths = {kind: _checked_file(folder, *FASHION_MNIST_FILES[(split, kind)], _FASHION_HINT)
                 for kind in ("images", "labels")}
        images = read_idx(paths["images"])
        labels = read_idx(paths["labels"])
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise DataError(f"unexpected shapes {images.shape} / {labels.shape} in {folder}")
        _FASHION_CACHE[key] = Split(torch.from_numpy(images.copy()),
                                    torch.from_numpy(labels.astype(np.int64)))
    return _FASHION_CACHE[key]


# --------------------------------------------------------------------------- CIFAR-10
def load_cifar10(train: bool = True, data_dir: str | os.PathLike | None = None,
                 download_root: str | os.PathLike | None = None) -> Split:
    """CIFAR-10 as ``Split(images uint8 (N, 3, 32, 32), labels int64 (N,))``.

    Reads CIFAR's own python format (``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
    pickled dicts with ``b'data'`` uint8 (N, 3072) and ``b'labels'``) from ``data_dir`` (the
    batches folder or its parent). Without ``data_dir`` it downloads with torchvision.
    Only open pickle files you trust: unpickling can run code.
    """
    if data_dir is None:
        import torchvision
        root = Path(download_root) if download_root is not None else _default_download_root()
        try:
            ds = torchvision.datasets.CIFAR10(str(root), train=train, download=True)
        except Exception as exc:
            raise DataError(f"CIFAR-10 could not be downloaded to {root} ({exc}). Offline, pass "
                            f"data_dir= a folder holding cifar-10-batches-py/") from exc
        images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return Split(images, torch.as_tensor(ds.targets, dtype=torch.int64))
    folder = Path(data_dir).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images, labels = [], []
    for name in names:
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


# --------------------------------------------------------------------------- subsets
def balanced_subset(labels: torch.Tensor, size: float | int, seed: int = 0) -> torch.Tensor:
    """Indices of a class-balanced random subset (sorted).

    ``size`` is a fraction in (0, 1] of the examples or a count >= the number of classes. Each
    class contributes the same share (count // classes, remainder to the first classes).
    """
    labels = torch.as_tensor(labels)
    n = len(labels)
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise ValueError(f"subset must be a fraction in (0, 1] or a count in [1, {n}], got {size!r}")
    if isinstance(size, float):
        if not 0 < size <= 1:
            raise ValueError(f"subset must be a fraction in (0, 1] or a count in [1, {n}], got {size!r}")
        count = max(1, round(size * n))
    else:
        if not 1 <= size <= n:
            raise ValueError(f"subset must be a fraction in (0, 1] or a count in [1, {n}], got {size!r}")
        count = size
    classes = torch.unique(labels)
    g = torch.Generator().manual_seed(seed)
    per_class = [count // len(classes) + (i < count % len(classes)) for i in range(len(classes))]
    chosen = []
    for c, k in zip(classes.tolist(), per_class):
        idx = torch.nonzero(labels == c).flatten()
        if k > len(idx):
            raise ValueError(f"subset={size!r} asks for {k} examples of class {c} but it has {len(idx)}")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    return torch.sort(torch.cat(chosen)).values


# --------------------------------------------------------------------------- device pipeline
def _mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (stable across processes, unlike hash())."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class DeviceLoader:
    """Batches built on the device from one uint8 tensor holding the whole dataset.

    Per batch: gather the indices, convert to float in [0, 1], optional random crop (zero
    padding ``crop_padding``) and horizontal flip, bilinear resize to ``resize``, then
    ``(x - mean) / std``. Yields ``(x float32 (B, C, H, W), y int64 (B,))`` on ``device``.

    Shuffling is seeded: epoch ``e`` uses the permutation drawn from ``(seed, e)``, so a run that
    is stopped and resumed (``set_epoch``) sees exactly the same batches. With ``world_size > 1``
    each rank takes every ``world_size``-th index of that permutation, like DistributedSampler
    (padded with the first indices so every rank has the same number of batches, unless
    ``pad_shards=False``, which evaluation uses). Iterating without ``set_epoch`` moves to the
    next epoch automatically.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, drop_last: bool = False, resize: int | Sequence[int] | None = None,
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 flip: bool = False, crop_padding: int = 0, device: str | torch.device | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1, pad_shards: bool = True,
                 channels_last: bool = False):
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be a uint8 tensor, got dtype {images.dtype}")
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if images.dim() != 4:
            raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W), got {tuple(images.shape)}")
        labels = torch.as_tensor(labels)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        if len(images) == 0:
            raise ValueError("images must hold at least one example, got 0")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if isinstance(crop_padding, bool) or not isinstance(crop_padding, int) or crop_padding < 0:
            raise ValueError(f"crop_padding must be an integer >= 0, got {crop_padding!r}")
        if resize is not None:
            size = (resize, resize) if isinstance(resize, int) else tuple(resize)
            if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
                raise ValueError(f"resize must be a positive integer or (height, width), got {resize!r}")
            resize = size
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together (or both None for no normalisation)")
        if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) \
                or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size) and world_size >= 1, got rank={rank!r}, "
                             f"world_size={world_size!r}")
        self.device = torch.device(device) if device is not None else images.device
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.resize, self.flip, self.crop_padding = resize, flip, crop_padding
        self.seed, self.rank, self.world_size, self.pad_shards = seed, rank, world_size, pad_shards
        self.channels_last = channels_last
        channels = self.images.shape[1]
        if mean is not None:
            shape = (1, channels, 1, 1)
            m = torch.as_tensor(mean, dtype=torch.float32).flatten()
            s = torch.as_tensor(std, dtype=torch.float32).flatten()
            if (s <= 0).any():
                raise ValueError(f"std must be > 0, got {std!r}")
            # (x/255 - mean)/std == x * scale + shift: one fused multiply-add per pixel
            self._scale = (1.0 / (255.0 * s)).expand(channels).reshape(shape).to(self.device)
            self._shift = (-m / s).expand(channels).reshape(shape).to(self.device)
        else:
            self._scale = torch.full((1, channels, 1, 1), 1.0 / 255.0, device=self.device)
            self._shift = torch.zeros((1, channels, 1, 1), device=self.device)
        self.mean, self.std = mean, std
        self.epoch = 0
        self._aug_generator = torch.Generator(device=self.device)

    # -- sizes
    @property
    def num_examples(self) -> int:
        """Examples this rank sees per epoch (before drop_last)."""
        n = len(self.labels)
        if self.world_size == 1:
            return n
        if self.pad_shards:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = self.num_examples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    # -- epoch state
    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle/augmentation randomness of ``epoch`` for the next iteration."""
        self.epoch = int(epoch)

    def set_shard(self, rank: int, world_size: int, pad: bool | None = None) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.rank, self.world_size = rank, world_size
        if pad is not None:
            self.pad_shards = pad

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "seed": self.seed,
                "aug_generator": self._aug_generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
        self._aug_generator.set_state(state["aug_generator"])

    def indices(self, epoch: int | None = None) -> torch.Tensor:
        """This rank's example order for ``epoch`` (a CPU int64 tensor)."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.labels)
        if self.shuffle:
            g = torch.Generator().manual_seed(_mix_seed(self.seed, epoch))
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            if self.pad_shards:
                total = math.ceil(n / self.world_size) * self.world_size
                if total > n:   # repeat the start so every rank gets the same count
                    order = torch.cat([order, order[: total - n]])
            order = order[self.rank::self.world_size]
        return order

    # -- batches
    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) on the device -> normalised float batch (augmented if enabled)."""
        x = images.float()
        if self.crop_padding:
            x = self._random_crop(x)
        if self.flip:
            flip = torch.rand(x.shape[0], device=x.device, generator=self._aug_generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.resize is not None and tuple(x.shape[-2:]) != self.resize:
            x = F.interpolate(x, size=self.resize, mode="bilinear", align_corners=False)
        x = torch.addcmul(self._shift, x, self._scale)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _random_crop(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad by p, then take a random HxW window per image (one gather, no Python loop)."""
        p = self.crop_padding
        b, c, h, w = x.shape
        padded = F.pad(x, (p, p, p, p))
        off = torch.randint(0, 2 * p + 1, (2, b), device=x.device, generator=self._aug_generator)
        rows = (off[0][:, None] + torch.arange(h, device=x.device))          # (B, H)
        cols = (off[1][:, None] + torch.arange(w, device=x.device))          # (B, W)
        padded = padded.gather(2, rows[:, None, :, None].expand(b, c, h, padded.shape[-1]))
        return padded.gather(3, cols[:, None, None, :].expand(b, c, h, w))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self._aug_generator.manual_seed(_mix_seed(self.seed, epoch, self.rank, 1))
        order = self.indices(epoch).to(self.device)
        # the next plain iteration moves on to a new epoch unless set_epoch is called
        self.epoch = epoch + 1
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.transform(self.images[idx]), self.labels[idx]

    def __repr__(self) -> str:
        return (f"DeviceLoader({len(self.labels)} examples, batch_size={self.batch_size}, "
                f"batches={len(self)}, device={self.device}, resize={self.resize}, shuffle={self.shuffle}, "
                f"flip={self.flip}, crop_padding={self.crop_padding}, rank={self.rank}/{self.world_size})")


def _dataset_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units."""
    x = images if images.dim() == 4 else images.unsqueeze(1)
    x = x.transpose(0, 1).reshape(x.shape[1], -1).double() / 255.0
    return x.mean(1).tolist(), x.std(1).tolist()


def _make_loaders(train: Split, test: Split, batch_size: int, *, resize, device, subset, test_subset,
                  seed, normalize, flip, crop_padding, drop_last, channels_last):
    from . import runtime
    device = runtime.pick_device() if device is None else torch.device(device)
    mean, std = _dataset_stats(train.images) if normalize else (None, None)
    if subset is not None:
        idx = balanced_subset(train.labels, subset, seed)
        train = Split(train.images[idx], train.labels[idx])
    if test_subset is not None:
        idx = balanced_subset(test.labels, test_subset, seed)
        test = Split(test.images[idx], test.labels[idx])
    common = dict(resize=resize, mean=mean, std=std, device=device, seed=seed, channels_last=channels_last)
    train_iter = DeviceLoader(train.images, train.labels, batch_size, shuffle=True, drop_last=drop_last,
                              flip=flip, crop_padding=crop_padding, **common)
    test_iter = DeviceLoader(test.images, test.labels, batch_size, shuffle=False, **common)
    return train_iter, test_iter


def load_data_fashion_mnist(batch_size: int, resize: int | None = None, *,
                            device: str | torch.device | None = None,
                            data_dir: str | os.PathLike | None = None,
                            subset: float | int | None = None, test_subset: float | int | None = None,
                            seed: int = 0, normalize: bool = True, flip: bool = False,
                            crop_padding: int = 0, drop_last: bool = False,
                            channels_last: bool = False) -> tuple[DeviceLoader, DeviceLoader]:
    """(train_iter, test_iter) over Fashion-MNIST, built on ``device`` (default: runtime.pick_device()).

    ``subset``/``test_subset``: a fraction in (0, 1] or a count; a class-balanced random subset
    drawn with ``seed``. ``normalize`` standardises with the full training set's mean/std.
    """
    train = load_fashion_mnist(True, data_dir)
    test = load_fashion_mnist(False, data_dir)
    return _make_loaders(train, test, batch_size, resize=resize, device=device, subset=subset,
                         test_subset=test_subset, seed=seed, normalize=normalize, flip=flip,
                         crop_padding=crop_padding, drop_last=drop_last, channels_last=channels_last)


def load_data_cifar10(batch_size: int, resize: int | None = None, *,
                      device: str | torch.device | None = None,
                      data_dir: str | os.PathLike | None = None,
                      subset: float | int | None = None, test_subset: float | int | None = None,
                      seed: int = 0, normalize: bool = True, flip: bool = True, crop_padding: int = 4,
                      drop_last: bool = False, channels_last: bool = False) -> tuple[DeviceLoader, DeviceLoader]:
    """(train_iter, test_iter) over CIFAR-10 with the standard flip + 4-pixel crop augmentation."""
    train = load_cifar10(True, data_dir)
    test = load_cifar10(False, data_dir)
    return _make_loaders(train, test, batch_size, resize=resize, device=device, subset=subset,
                         test_subset=test_subset, seed=seed, normalize=normalize, flip=flip,
                         crop_padding=crop_padding, drop_last=drop_last, channels_last=channels_last)


# --------------------------------------------------------------------------- classic pipeline
def torchvision_root(data_dir: str | os.PathLike | None = None,
                     root: str | os.PathLike | None = None) -> Path:
    """A torchvision ``root`` with FashionMNIST/raw/ holding the uncompressed IDX files.

    torchvision (download=False) reads only uncompressed files, so the md5-checked .gz files are
    decompressed once into ``root`` (never into the shared data folder).
    """
    root = Path(root) if root is not None else _default_download_root() / "torchvision"
    raw = root / "FashionMNIST" / "raw"
    folder = _locate("fashion-mnist", data_dir, FASHION_MNIST_FILES[("train", "labels")][0])
    for filename, md5 in FASHION_MNIST_FILES.values():
        src = _checked_file(folder, filename, md5, _FASHION_HINT)
        dst = raw / filename[:-3]
        if not dst.exists():
            with gzip.open(src, "rb") as fi:
                atomic_write(dst, lambda fo: shutil.copyfileobj(fi, fo, 1 << 20))
    return root


def classic_loaders(batch_size: int, resize: int | None = None, *,
                    data_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
                    num_workers: int = 0, normalize: bool = True, flip: bool = False,
                    pin_memory: bool = False, subset: float | int | None = None, seed: int = 0):
    """The usual pipeline: torchvision FashionMNIST + PIL transforms + DataLoader.

    Same normalisation as ``load_data_fashion_mnist`` so the two can be compared. ``root`` is a
    writable folder for torchvision's layout (default ``~/.cache/dnet_lib/torchvision``).
    """
    import torchvision
    from torchvision import transforms
    from torch.utils.data import DataLoader, Subset

    tv_root = torchvision_root(data_dir, root)
    steps = []
    if resize is not None:
        steps.append(transforms.Resize(resize))
    if flip:
        steps.append(transforms.RandomHorizontalFlip())
    steps.append(transforms.ToTensor())
    if normalize:
        mean, std = _dataset_stats(load_fashion_mnist(True, data_dir).images)
        steps.append(transforms.Normalize(mean, std))
    train_tf = transforms.Compose(steps)
    test_tf = transforms.Compose([s for s in steps if not isinstance(s, transforms.RandomHorizontalFlip)])
    train_ds = torchvision.datasets.FashionMNIST(str(tv_root), train=True, transform=train_tf)
    test_ds = torchvision.datasets.FashionMNIST(str(tv_root), train=False, transform=test_tf)
    if subset is not None:
        train_ds = Subset(train_ds, balanced_subset(train_ds.targets, subset, seed).tolist())
    g = torch.Generator().manual_seed(seed)
    train_iter = DataLoader(train_ds, batch_size, shuffle=True, num_workers=num_workers,
                            pin_memory=pin_memory, generator=g, persistent_workers=num_workers > 0)
    test_iter = DataLoader(test_ds, batch_size, shuffle=False, num_workers=num_workers,
                           pin_memory=pin_memory, persistent_workers=num_workers > 0)
    return train_iter, test_iter


# --------------------------------------------------------------------------- house prices
_HOUSE_HINT = ("Put kaggle_house_pred_train.csv and kaggle_house_pred_test.csv (d2l's copies of "
               "Kaggle's 'House Prices' train.csv/test.csv) in that folder, or run "
               f"`{SETUP_COMMAND}`.")


def load_house_prices(data_dir: str | os.PathLike | None = None, download: bool = True):
    """(train, test) pandas DataFrames: 1460 x 81 (with SalePrice) and 1459 x 80.

    Read from ``data_dir`` or the data folder, md5-checked. When the files are missing they are
    downloaded there once (see ``ensure_data``), unless ``download=False`` or ``DNET_OFFLINE=1``.
    """
    import pandas as pd
    train_name = HOUSE_PRICE_FILES["train"][0]
    if download:
        folder = _locate("house-prices", data_dir, train_name)
    else:
        folder = find_data_dir("house-prices", data_dir, train_name)
        if folder is None:
            raise _not_found("house-prices")
    paths = {split: _checked_file(folder, filename, md5, _HOUSE_HINT)
             for split, (filename, md5) in HOUSE_PRICE_FILES.items()}
    return pd.read_csv(paths["train"]), pd.read_csv(paths["test"])


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
    numeric = features.dtypes[features.dtypes != "object"].index
    numeric = [c for c in numeric if pd.api.types.is_numeric_dtype(features[c])]
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


if __name__ == "__main__":
    sys.exit(_main())
