"""Getting the files: md5 checks and the download set-up (torchvision's ``download_url``).

A download goes to a temporary folder beside its target; the file is moved into place only
after its md5 matches, so a failed or damaged download leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
import urllib.error
from pathlib import Path
from typing import Sequence

from .sources import (DATASETS, MIRROR_ENV, SETUP_COMMAND, DataError, check_name, data_root,
                      data_source, dataset_folder, downloads_allowed, find_data_dir, not_found)


@functools.lru_cache(maxsize=None)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    from torchvision.datasets.utils import calculate_md5
    return calculate_md5(path)


def md5sum(path: str | os.PathLike) -> str:
    """md5 of a file, computed once per (path, size, mtime) per process."""
    path = Path(path).resolve()
    st = path.stat()
    return _md5(str(path), st.st_size, st.st_mtime_ns)


def checked_file(folder: Path, filename: str, expected_md5: str, hint: str) -> Path:
    """``folder/filename`` after its md5 check; ``DataError`` naming the file otherwise."""
    path = folder / filename
    if not path.is_file():
        raise DataError(f"missing file {path} (expected md5 {expected_md5}). {hint}")
    actual = md5sum(path)
    if actual != expected_md5:
        raise DataError(f"corrupt file {path}: md5 {actual}, expected md5 {expected_md5}. "
                        f"Replace it with the original file. {hint}")
    return path


def download(url: str, path: Path, expected_md5: str, progress: bool = True) -> None:
    """Fetch ``url`` into ``path``; the md5 is checked before the file appears."""
    from torchvision.datasets.utils import download_url
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {path.name} from {url}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        quiet = contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO())
        try:
            with quiet:
                download_url(url, tmp, path.name)
        except (urllib.error.URLError, OSError, ValueError) as exc:  # 404, refused, bad URL
            raise DataError(f"could not download {path.name} from {url}: {exc}. Nothing was "
                            f"saved; check the connection or point {MIRROR_ENV} at a mirror.") from exc
        fetched = Path(tmp) / path.name
        actual, size = md5sum(fetched), fetched.stat().st_size
        if actual != expected_md5:
            raise DataError(f"{path.name} from {url} has md5 {actual}, expected md5 {expected_md5} "
                            f"({size:,} bytes received: cut short or a different file). Nothing "
                            f"was saved; run `{SETUP_COMMAND}` again or use another mirror.")
        with open(fetched, "rb") as f:      # on disk before it takes the target's name
            os.fsync(f.fileno())
        os.replace(fetched, path)


def ensure_data(root: str | os.PathLike | None = None, names: Sequence[str] | None = None, *,
                progress: bool = True) -> dict[str, Path]:
    """The set-up: make sure every dataset file is under ``root`` (default ``data_root()``).

    A file already there is md5-checked; a missing one is downloaded from ``data_source(name)``
    and saved only once its md5 matches. Returns ``{name: folder}``. Raises ``DataError`` naming
    the file and the source when a download fails or a checksum does not match.
    """
    root = Path(root).expanduser() if root is not None else data_root()
    folders = {}
    for name in list(DATASETS) if names is None else names:
        files = DATASETS[check_name(name)]
        folder = dataset_folder(root, name) or root / name
        for filename, md5 in files.items():
            if (folder / filename).is_file():
                checked_file(folder, filename, md5,
                             f"Delete it and run `{SETUP_COMMAND}` to download it again.")
            else:
                download(data_source(name) + filename, folder / filename, md5, progress)
        folders[name] = folder
    return folders


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Folder of dataset ``name``; downloads it into ``data_root()`` when missing and allowed."""
    folder = find_data_dir(name, data_dir)
    if folder is not None:
        return folder
    if not downloads_allowed():
        raise not_found(name)
    return ensure_data(names=[name])[name]

