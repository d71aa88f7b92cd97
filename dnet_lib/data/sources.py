"""Which files each dataset has, where they live on disk and where they are downloaded from."""
from __future__ import annotations

import os
from pathlib import Path

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# File name and md5 of the original upstream files (the same md5s torchvision checks).
FASHION_MNIST_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}

# d2l's copies of the Kaggle house-price files.
HOUSE_PRICE_FILES = {
    "train": ("kaggle_house_pred_train.csv", "80ccab65fb115cbad143dbbd2bcd5577"),
    "test": ("kaggle_house_pred_test.csv", "dcec4b79bf9c7317bd9e17789bf888f0"),
}

# Every file the set-up provides, as {dataset folder: {file name: md5}}.
DATASETS = {
    "fashion-mnist": dict(FASHION_MNIST_FILES.values()),
    "house-prices": dict(HOUSE_PRICE_FILES.values()),
}

# The mirrors torchvision (FashionMNIST.mirrors) and d2l (DATA_URL) download from.
# DNET_DATA_MIRROR=URL replaces both with one server laid out like the data folder:
# URL/fashion-mnist/<file>, URL/house-prices/<file>.
DATA_SOURCES = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "house-prices": "http://d2l-data.s3-accelerate.amazonaws.com/",
}
MIRROR_ENV = "DNET_DATA_MIRROR"
SETUP_COMMAND = "make data"         # = python -m dnet_lib.data; make book and make test run it

REPO_ROOT = Path(__file__).resolve().parents[2]


class DataError(RuntimeError):
    """A dataset file is missing or does not match its checksum."""


def check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    return name


def data_root() -> Path:
    """The folder that holds (or will hold) ``fashion-mnist/`` and ``house-prices/``.

    ``$DNET_DATA_DIR`` when set; else ``<repo>/../shared/data`` when it exists; else the
    repository's git-ignored ``data/`` (outside a checkout: ``~/.cache/dnet_lib/data``).
    """
    env = os.environ.get("DNET_DATA_DIR")
    if env:
        return Path(env).expanduser()
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    in_checkout = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "dnet_lib").is_dir()
    return REPO_ROOT / "data" if in_checkout else Path.home() / ".cache" / "dnet_lib" / "data"


def dataset_folder(root: Path, name: str) -> Path | None:
    """``root/name``, or ``root`` itself when it is that dataset's folder (DNET_DATA_DIR may
    point at ``.../fashion-mnist``), or its sibling ``root/../name``: the first holding the
    dataset's first file."""
    first = next(iter(DATASETS[name]))
    for folder in (root / name, root, root.parent / name):
        if (folder / first).exists():
            return folder
    return None


def find_data_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding dataset ``name`` ("fashion-mnist" or "house-prices"), or None.

    Looks in ``data_dir`` when given (an explicit folder that does not exist is an error, and
    one without the files is returned as it is, so the file check can say what is missing),
    else in ``data_root()``.
    """
    check_name(name)
    if data_dir is None:
        return dataset_folder(data_root(), name)
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DataError(f"data_dir {str(root)!r} does not exist")
    return dataset_folder(root, name) or root


def not_found(name: str) -> DataError:
    return DataError(
        f"{name} data not found under {data_root() / name}. Run `{SETUP_COMMAND}` (part of "
        f"`make test` and `make book`; or `python -m dnet_lib.data`) to download it, or set "
        f"DNET_DATA_DIR to a folder holding {name}/ ({', '.join(DATASETS[name])}).")


def dataset_dir(name: str) -> Path:
    """The folder of dataset ``name`` under ``data_root()``; never downloads.

    Raises ``DataError`` naming the set-up command when it is not there (what the tests use).
    """
    folder = find_data_dir(name)
    if folder is None:
        raise not_found(name)
    return folder


def downloads_allowed() -> bool:
    """False when ``DNET_OFFLINE`` is 1/true/yes: loaders then never download (the tests set it)."""
    return os.environ.get("DNET_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def data_source(name: str) -> str:
    """Base URL the set-up downloads dataset ``name`` from (``$DNET_DATA_MIRROR`` overrides)."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        return mirror.rstrip("/") + f"/{check_name(name)}/"
    return DATA_SOURCES[check_name(name)]
