"""``python -m dnet_lib.data`` (what ``make data`` runs): download once and md5-check."""
import argparse
import sys
from pathlib import Path

from .sources import DATASETS, DataError, ensure_data

parser = argparse.ArgumentParser(prog="python -m dnet_lib.data", description="Download (once) "
                                 "and md5-check the book's datasets into the data folder.")
parser.add_argument("--root", type=Path, help="default: $DNET_DATA_DIR, else ../shared/data "
                    "when present, else data/")
parser.add_argument("--quiet", action="store_true", help="no progress bars")
args = parser.parse_args()
try:
    folders = ensure_data(args.root, progress=not args.quiet)
except DataError as err:
    sys.exit(f"error: {err}")       # on stderr, exit status 1
for name, folder in folders.items():
    size = sum((folder / f).stat().st_size for f in DATASETS[name])
    print(f"ok: {name}: {len(DATASETS[name])} files, {size / 1e6:.1f} MB, md5 checked, in {folder}")
