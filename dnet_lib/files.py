"""Atomic file writes: a reader sees the old file or the new one, never half of either.

A temporary file in the same folder, flushed, replaces the target (``os.replace``). An existing
file keeps its permission bits; a new one gets the umask's mode (not mkstemp's 0600).
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a binary temp file, then move it onto ``path``. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)         # reading the umask means setting it
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8, atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
