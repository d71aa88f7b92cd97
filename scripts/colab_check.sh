#!/usr/bin/env bash
# Does every chapter run on Colab's stack? Build a Colab-like venv and execute each notebook of
# _toc.yml there, in smoke mode (default) or in the cpu mode a Colab CPU user gets.
#
#   bash scripts/colab_check.sh [--profile P] [--mode smoke|cpu] [NOTEBOOK ...]
#        # default: profile colab-2026-08, smoke mode, every notebook in _toc.yml
#
# Profiles (what Colab shipped; keep in step with the issue that asked for each):
#   colab-2026-08 (default)  Python 3.13, torch 2.11.0, torchvision 0.26.0, numpy 2.1.3,
#                            matplotlib 3.10.0, ipywidgets 7.7.1, ipykernel 6.17.1, IPython 9
#                            (Colab's published backend-info, August 2026; pandas not pinned
#                            there, so the newest that installs)
#   colab-2025               Python 3.11, torch 2.8.0, torchvision 0.23.0, numpy 2.0.2,
#                            pandas 2.2.2, matplotlib 3.10, ipywidgets 7.7.1, IPython 7.34
# PYTHON=... picks the interpreter (default python3.13 / python3.11 on PATH, else python3);
# the script stops if its version is not the profile's.
#
# The venv ($DNET_VENV_ROOT/PROFILE, default /tmp/dnet-venvs/PROFILE) gets the profile's
# versions of what the chapters touch, then dnet_lib and d2l installed with --no-deps exactly as
# each chapter's Colab setup cell does (`pip install --no-deps git+REPO_URL d2l==1.0.3`; here
# the working tree stands in for the git URL). The script fails if that install changed torch
# or numpy. Each notebook is copied, as Colab opens it, alone into an empty folder (Colab's
# /content) and runs there in a fresh kernel of that venv: only the installed dnet_lib and what
# the notebook itself fetches are available, not the rest of the repository.
#
# Needs PyPI, and only PyPI: its torch wheels pull their CUDA packages, which `import torch`
# needs even without a GPU (torch 2.11.0: 2.56 GiB to download, of which 2.03 GiB nvidia-*,
# cuda-* and triton; torch 2.8.0 about 3.5 GB). Reads the data of `make data`. CPU-heavy:
# the 17 notebooks in smoke mode took 173-215 s on 2 idle cores (2026-12-03; 467-674 s on 2
# shared ones, 2026-12-02), cpu mode longer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PROFILE=colab-2026-08
MODE=smoke
while [ "$#" -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --mode) MODE=${2:?--mode needs a value}; shift 2 ;;
    --) shift; break ;;
    -*) echo "unknown option $1 (allowed: --profile colab-2026-08|colab-2025, --mode smoke|cpu)" >&2
        exit 2 ;;
    *) break ;;
  esac
done
case "$PROFILE" in
  colab-2026-08)
    PY_VERSION=3.13
    COLAB=(
      "torch==2.11.0" "torchvision==0.26.0" "numpy==2.1.3" pandas "matplotlib==3.10.0"
      "ipywidgets==7.7.1" "ipython==9.*" "ipykernel==6.17.1"
      tqdm scipy requests pyyaml nbformat nbclient matplotlib-inline
    ) ;;
  colab-2025)
    PY_VERSION=3.11
    COLAB=(
      "torch==2.8.0" "torchvision==0.23.0" "numpy==2.0.2" "pandas==2.2.2" "matplotlib==3.10.*"
      "ipywidgets==7.7.1" "ipython==7.34.0" "ipykernel==6.17.1"
      tqdm scipy requests pyyaml nbformat nbclient matplotlib-inline
    ) ;;
  *) echo "--profile must be colab-2026-08 or colab-2025, got '$PROFILE'" >&2; exit 2 ;;
esac
case "$MODE" in
  smoke) SMOKE=1 ;;
  cpu) SMOKE= ;;
  *) echo "--mode must be smoke or cpu, got '$MODE'" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-$(command -v "python$PY_VERSION" || echo python3)}
if [ "$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$PY_VERSION" ]; then
  echo "FAIL: profile $PROFILE needs Python $PY_VERSION; $PYTHON is $("$PYTHON" --version 2>&1)." \
       "Set PYTHON=/path/to/python$PY_VERSION" >&2
  exit 2
fi
export PYDEVD_DISABLE_FILE_VALIDATION=1     # quiets ipykernel's debugger warning
VENV=${DNET_VENV_ROOT:-/tmp/dnet-venvs}/$PROFILE
CELL_TIMEOUT=${CELL_TIMEOUT:-$([ "$MODE" = cpu ] && echo 1800 || echo 300)}
NOTEBOOK_TIMEOUT=${NOTEBOOK_TIMEOUT:-$([ "$MODE" = cpu ] && echo 3600 || echo 900)}
echo "profile $PROFILE, mode $MODE, $("$PYTHON" --version 2>&1), CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"

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
print("python", sys.version.split()[0]); print("colab-like stack:", ", ".join(f"{n}=={md.version(n)}" for n in names))
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
# The runner is dnet_tools.book from the working tree (the wheel ships dnet_lib only). Its folder
# goes on the runner's own sys.path, last, so the installed dnet_lib still comes first; the
# kernel it starts gets no PYTHONPATH and sees only the venv, as on Colab.
RUNNER='import sys; sys.path.append(sys.argv.pop(1)); from dnet_tools.book import main; sys.exit(main(sys.argv[1:]))'
failed=()
start=$SECONDS
for i in "${!notebooks[@]}"; do
  name=${notebooks[$i]#$ROOT/}
  copy="$work/content-$i/$(basename "$name")"
  t0=$SECONDS
  if (cd "$work/content-$i" && DNET_SMOKE=$SMOKE DNET_OFFLINE=1 DNET_DATA_DIR="$DATA_DIR" \
        timeout "$NOTEBOOK_TIMEOUT" "$PY" -c "$RUNNER" "$ROOT" execute "$copy" \
        --cell-timeout "$CELL_TIMEOUT") \
        > "$work/log" 2>&1; then
    echo "ok    $(( SECONDS - t0 ))s  $name"
  else
    echo "FAIL  $(( SECONDS - t0 ))s  $name"
    grep -v "^0.00s" "$work/log" | tail -40 | sed 's/^/      /'
    failed+=("$name")
  fi
done
echo "$(( ${#notebooks[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed ($(( SECONDS - start )) s, profile $PROFILE, mode $MODE)"
[ "${#failed[@]}" -eq 0 ]
