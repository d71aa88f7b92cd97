"""Atomic writes: whole files only, and the file's mode survives a rewrite."""
from __future__ import annotations

import os
import stat

import pytest

from dnet_lib.files import atomic_write, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_rewrite_keeps_existing_mode(tmp_path):
    path = tmp_path / "chapter.ipynb"
    path.write_text("old")
    for mode in (0o644, 0o600, 0o755):
        os.chmod(path, mode)
        atomic_write_text(path, f"new {mode}")
        assert path.read_text() == f"new {mode}"
        assert _mode(path) == mode


def test_new_file_gets_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "sub" / "r.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "sub" / "r.json") == 0o644
    assert (tmp_path / "sub" / "r.json").read_text() == "{}"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"good")

    def explode(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, explode)
    assert path.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]
