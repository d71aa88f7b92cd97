#!/usr/bin/env bash
# Does every chapter run on Colab's stack? Build a Colab-like venv and execute each notebook of
# _toc.yml there in smoke mode.
#
#   bash scripts/colab_check.sh [NOTEBOOK ...]     # default: every notebook in _toc.yml
#
# The venv ($DNET_VENV_ROOT/colab, default /tmp/dnet-venvs/colab) gets Colab's versions of what
# the chapters touch (COLAB below), then dnet_lib and d2l installed with --no-deps exactly as
# each chapter's Colab setup cell does (`pip install --no-deps git+REPO_URL d2l==1.0.3`; here
# the working tree stands in for the git URL). The script fails if that install changed torch
# or numpy. Each notebook is copied, as Colab opens it, alone into an empty folder (Colab's
# /content) and runs there in a fresh kernel of that venv: only the installed dnet_lib and what
# the notebook itself fetches are available, not the rest of the repository.
#
# Needs PyPI: torch 2.8.0 from PyPI pulls its CUDA packages (about 3.5 GB download, 7 GB on disk;
# they are not loaded on a machine without a GPU). Reads the data of `make data`. CPU-heavy:
# 15 notebooks in smoke mode take several minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
export PYDEVD_DISABLE_FILE_VALIDATION=1     # quiets ipykernel's debugger warning
VENV=${DNET_VENV_ROOT:-/tmp/dnet-venvs}/colab
CELL_TIMEOUT=${CELL_TIMEOUT:-300}

# What Colab ships (checked 2026-11): keep in step with the issue that asked for this check.
COLAB=(
  "torch==2.8.0" "torchvision==0.23.0" "numpy==2.0.2" "pandas==2.2.2" "matplotlib==3.10.*"
  "ipywidgets==7.7.1" "ipython==7.34.0" "ipykernel==6.17.1"
  tqdm scipy requests pyyaml nbformat nbclient matplotlib-inline
)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "${COLAB[@]}"
before=$("$PY" -c "import torch, numpy; print(torch.__version__, numpy.__version__)")
# the chapters' Colab setup cell, with the working tree in place of git+REPO_URL
"$PY" -m pip install -q --no-deps --force-reinstall "$ROOT" d2l==1.0.3
after=$("$PY" -c "import torch, numpy; print(torch.__version__, numpy.__version__)")
if [ "$before" != "$after" ]; then
  echo "FAIL: installing dnet_lib and d2l changed torch/numpy: $before -> $after" >&2
  exit 1
fi
"$PY" - <<'EOF'
import importlib.metadata as md, sys
from jupyter_client.kernelspec import KernelSpecManager
names = ("torch", "torchvision", "numpy", "pandas", "matplotlib", "ipywidgets", "ipython",
         "ipykernel", "d2l", "dnet_lib")
print("colab-like stack:", ", ".join(f"{n}=={md.version(n)}" for n in names))
kernel = KernelSpecManager().get_kernel_spec("python3").argv[0]
print("python3 kernel:", kernel)
if kernel not in ("python", sys.executable):
    sys.exit(f"FAIL: the python3 kernel is {kernel}, not this venv's {sys.executable}")
EOF

DATA_DIR=${DNET_DATA_DIR:-$(cd "$ROOT" && "$PY" -c "from dnet_lib import data; print(data.data_root())")}
if [ "$#" -gt 0 ]; then
  notebooks=("$@")
else
  mapfile -t notebooks < <(cd "$ROOT" && "$PY" -c \
    "from dnet_tools import book; from pathlib import Path; [print(p) for p in book.chapter_notebooks(Path('.').resolve())]")
fi
for i in "${!notebooks[@]}"; do      # absolute paths
  notebooks[$i]=$(cd "$(dirname "${notebooks[$i]}")" && pwd)/$(basename "${notebooks[$i]}")
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# copy the notebooks now, next to the install above, so both come from the same working tree
for i in "${!notebooks[@]}"; do
  mkdir -p "$work/content-$i"
  cp "${notebooks[$i]}" "$work/content-$i/"
done
failed=()
start=$SECONDS
for i in "${!notebooks[@]}"; do
  name=${notebooks[$i]#$ROOT/}
  copy="$work/content-$i/$(basename "$name")"
  t0=$SECONDS
  if (cd "$work/content-$i" && DNET_SMOKE=1 DNET_OFFLINE=1 DNET_DATA_DIR="$DATA_DIR" \
        timeout 900 "$PY" -m dnet_tools.book execute "$copy" --cell-timeout "$CELL_TIMEOUT") \
        > "$work/log" 2>&1; then
    echo "ok    $(( SECONDS - t0 ))s  $name"
  else
    echo "FAIL  $(( SECONDS - t0 ))s  $name"
    grep -v "^0.00s" "$work/log" | tail -40 | sed 's/^/      /'
    failed+=("$name")
  fi
done
echo "$(( ${#notebooks[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed ($(( SECONDS - start )) s, Colab-like stack)"
[ "${#failed[@]}" -eq 0 ]
