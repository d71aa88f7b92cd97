#!/usr/bin/env bash
# Check the lower bounds that pyproject.toml claims: build a throwaway venv with the OLDEST
# versions we declare and run the library's tests there (not the book, browser or notebook tests).
#
#   bash scripts/lower_bounds.sh            # venv in $DNET_VENV_ROOT/lower-bounds (default /tmp/dnet-venvs)
#   PYTHON=/path/to/python3.10 bash scripts/lower_bounds.sh     # the oldest Python we claim (default python3.10)
#
# Needs PyPI (the torch wheels there pull their CUDA packages: about 2.5 GB, a few minutes) and
# the data of `make test` (DNET_DATA_DIR, ../shared/data or data/). Writes nothing into the repo
# except pytest's usual temporary files; the result goes into CONTRIBUTING.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3.10}            # requires-python = ">=3.10"
VENV=${DNET_VENV_ROOT:-/tmp/dnet-venvs}/lower-bounds

# Keep in step with [project].dependencies in pyproject.toml: each pin here is a ">=" there.
OLDEST=(
  "torch==2.3.1" "torchvision==0.18.1"      # torch.amp.GradScaler (used by train.fit) is new in 2.3
  "numpy==1.24.4" "pandas==2.0.3" "matplotlib==3.7.2" "contourpy==1.0.7" "scipy==1.10.1"
  "tqdm==4.60.0" "pyyaml==6.0.1" "nbformat==5.9.2" "nbclient==0.10.0"
)
# what the tests and d2l (imported by the benchmark tests) need; not bounds of dnet_lib
TEST_TOOLS=("pytest>=8" "hypothesis>=6.100" "requests==2.31.0" ipython matplotlib-inline)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "${OLDEST[@]}" "${TEST_TOOLS[@]}"
"$VENV/bin/python" -m pip install -q --no-deps d2l==1.0.3     # as `make setup` does
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md, sys
print("python", sys.version.split()[0])
for name in ("torch", "torchvision", "numpy", "pandas", "matplotlib", "scipy", "tqdm", "pyyaml",
             "nbformat"):
    print(f"{name}=={md.version(name)}")
EOF

# The library's tests, on the working tree's dnet_lib (PYTHONPATH: also in the subprocesses the
# benchmark tests start), plus test_book.py for the pyyaml/nbformat bounds: everything except the
# tooling that needs Jupyter Book, a kernel or Chromium.
cd "$ROOT"
PYTHONPATH="$ROOT" "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
  --ignore=tests/test_notebooks.py --ignore=tests/test_book_browser.py \
  --ignore=tests/test_assign.py --ignore=tests/test_exercises.py \
  --ignore=tests/test_nbgrader.py --ignore=tests/test_widgets_compat.py \
  "$@"
