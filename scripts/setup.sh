#!/usr/bin/env bash
# Installs everything the project needs, idempotently: a Python venv for the runner (CPU torch here),
# and the npm packages for the gateway and the attack module. Run from anywhere:
#   bash scripts/setup.sh [all|python|node]     (default: all)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-all}"

py="${PYTHON:-python3}"
stamp_py=".venv/.installed-$(cat gpu-runner/pyproject.toml | sha256sum | cut -c1-16)"
if [ "$what" != node ] && [ ! -f "$stamp_py" ]; then
  echo "setup: Python venv (.venv) for gpu-runner"
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: a bare `torch` from PyPI is the multi-GB CUDA build on Linux. By default pip's own
  # configuration is used (here it finds the CPU wheel on this machine's disk); elsewhere set TORCH_INDEX_URL,
  # e.g. https://download.pytorch.org/whl/cpu for the CPU build or .../whl/cu128 for CUDA.
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    index="${TORCH_INDEX_URL:-}"
    .venv/bin/python -m pip install -q ${index:+--index-url "$index"} "torch==${TORCH_VERSION:-2.13.0}"
  fi
  .venv/bin/python -m pip install -q -e "gpu-runner[dev]"
  .venv/bin/python -c 'import triton' 2>/dev/null || .venv/bin/python -m pip install -q -e "gpu-runner[interpret]"
  rm -f .venv/.installed-*
  touch "$stamp_py"
fi

if [ "$what" != python ] && [ -f package-lock.json ]; then
  stamp_js="node_modules/.installed-$(cat package-lock.json | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp_js" ]; then
    echo "setup: npm packages"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp_js"
  fi
fi

# The gateway's static assets (the demo page's in-browser model; wrangler.toml [assets]): idempotent.
if [ "$what" = all ]; then
  bash scripts/browser-assets.sh
fi
