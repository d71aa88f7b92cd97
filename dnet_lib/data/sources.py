"""The dataset files: names and md5s, where they live, where they come from, and the set-up
(downloads by torchvision's ``download_url``, md5 checks by hashlib)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from ..validate import check_choice

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# Every file the set-up provides, as {dataset folder: {file name: md5}}: the original upstream
# Fashion-MNIST files (the md5s torchvision checks) and d2l's copies of the Kaggle house prices.
DATASETS = {
    "fashion-mnist": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    "house-prices": {"kaggle_house_pred_train.csv": "80ccab65fb115cbad143dbbd2bcd5577",
                     "kaggle_house_pred_test.csv": "dcec4b79bf9c7317bd9e17789bf888f0"}}
# The mirrors torchvision (FashionMNIST.mirrors) and d2l (DATA_URL) download from.
# DNET_DATA_MIRROR=URL replaces both with one server laid out like the data folder.
DATA_SOURCES = {"fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "house-prices": "http://d2l-data.s3-accelerate.amazonaws.com/"}
MIRROR_ENV = "DNET_DATA_MIRROR"
SETUP_COMMAND = "make data"         # = python -m dnet_lib.data; make book and make test run it
REPO_ROOT = Path(__file__).resolve().parents[2]


class DataError(RuntimeError):
    """A dataset file is missing or does not match its checksum."""


def data_root() -> Path:
    """The folder for ``fashion-mnist/`` and ``house-prices/``: ``$DNET_DATA_DIR``, else
    ``<repo>/../shared/data`` when it exists, else the checkout's git-ignored ``data/`` (outside
    a checkout: ``~/.cache/dnet_lib/data``)."""
    if env := os.environ.get("DNET_DATA_DIR"):
        return Path(env).expanduser()
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    in_checkout = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "dnet_lib").is_dir()
    return REPO_ROOT / "data" if in_checkout else Path.home() / ".cache" / "dnet_lib" / "data"


def _dataset_folder(root: Path, name: str) -> Path | None:
    """``root/name``, ``root`` itself or ``root/../name``: the first holding the first file."""
    first = next(iter(DATASETS[check_choice("name", name, sorted(DATASETS))]))
    return next((f for f in (root / name, root, root.parent / name) if (f / first).exists()), None)


def locate(name: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The folder of dataset ``name`` in ``data_dir`` (as is if the files are not there), else in
    ``data_root()``, downloaded there if missing unless ``download=False`` or ``DNET_OFFLINE=1``."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return _dataset_folder(root, name) or root
    folder = _dataset_folder(data_root(), name)
    offline = os.environ.get("DNET_OFFLINE", "").strip().lower() in ("1", "true", "yes")
    if folder is None and (offline or not download):
        raise DataError(f"{name} data not found under {data_root() / name}. Run `{SETUP_COMMAND}` "
                        f"(= python -m dnet_lib.data; part of `make test` and `make book`), or set "
                        f"DNET_DATA_DIR to a folder holding {name}/ ({', '.join(DATASETS[name])}).")
    return folder or ensure_data(names=[name])[name]


def data_source(name: str) -> str:
    """Base URL the set-up downloads dataset ``name`` from (``$DNET_DATA_MIRROR`` overrides)."""
    mirror = os.environ.get(MIRROR_ENV, "").strip().rstrip("/")
    check_choice("name", name, sorted(DATASETS))
    return f"{mirror}/{name}/" if mirror else DATA_SOURCES[name]


def checked_file(folder: Path, filename: str) -> Path:
    """``folder/filename`` once its md5 (in ``DATASETS``) matches; else ``DataError`` naming it.
    hashlib, not torchvision's check_integrity: importing torchvision costs each reader 2 s."""
    path = folder / filename
    md5 = next(files[filename] for files in DATASETS.values() if filename in files)
    actual = hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None   # <= 26 MB
    if actual != md5:
        problem, fix = ((f"corrupt (md5 {actual})", "Delete it and run") if actual
                        else ("missing", "Put the original file there, or run"))
        raise DataError(f"{problem} file {path} (expected md5 {md5}). {fix} `{SETUP_COMMAND}`.")
    return path


def _download(url: str, path: Path, expected_md5: str, progress: bool) -> None:
    """``download_url`` into a temporary folder beside ``path``, renamed only once its md5
    matches: a failed download leaves nothing behind."""
    from torchvision.datasets.utils import download_url
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {path.name} from {url}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        fetched = Path(tmp) / path.name
        try:
            with contextlib.redirect_stderr(sys.stderr if progress else io.StringIO()):
                download_url(url, tmp, path.name, md5=expected_md5)
        except (OSError, ValueError) as exc:     # 404, refused (URLError is an OSError), bad URL
            raise DataError(f"could not download {path.name} from {url}: {exc}. Nothing was saved; "
                            f"check the connection or point {MIRROR_ENV} at a mirror.") from exc
        except RuntimeError as exc:     # download_url's md5 check failed (0 bytes: none landed)
            raise DataError(f"{path.name} from {url} does not have the expected md5 {expected_md5} "
                            f"({fetched.stat().st_size if fetched.is_file() else 0:,} bytes "
                            f"received: cut short or a different file). Nothing was saved; run "
                            f"`{SETUP_COMMAND}` again or use another mirror.") from exc
        with open(fetched, "rb") as f:      # on disk before it takes the target's name
            os.fsync(f.fileno())
        os.replace(fetched, path)


def ensure_data(root: str | os.PathLike | None = None, names: Sequence[str] | None = None, *,
                progress: bool = True) -> dict[str, Path]:
    """The set-up: ``{name: folder}`` holding every file of each dataset under ``root`` (default
    ``data_root()``), md5-checked; a missing file is first downloaded from ``data_source(name)``."""
    root = Path(root).expanduser() if root is not None else data_root()
    folders = {}
    for name in list(DATASETS) if names is None else names:
        folder = _dataset_folder(root, name) or root / name
        for filename, md5 in DATASETS[name].items():
            if not (folder / filename).is_file():
                _download(data_source(name) + filename, folder / filename, md5, progress)
            checked_file(folder, filename)
        folders[name] = folder
    return folders
