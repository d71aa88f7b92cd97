"""``python -m dnet_lib.data`` (what ``make data`` runs): download once and md5-check."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .sources import DATASETS, DataError, ensure_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnet_lib.data", description="Download (once) "
                                     "and md5-check the book's datasets into the data folder.")
    parser.add_argument("--root", type=Path, help="default: $DNET_DATA_DIR, else ../shared/data "
                        "when present, else data/")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        folders = ensure_data(args.root, progress=not args.quiet)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, folder in folders.items():
        size = sum((folder / f).stat().st_size for f in DATASETS[name])
        print(f"ok: {name}: {len(DATASETS[name])} files, {size / 1e6:.1f} MB, md5 checked, "
              f"in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
