#!/usr/bin/env bash
# The project's whole test command (README's second command; CI runs it): installs what is missing,
# checks formatting and lint, then runs the Python runner tests and the TypeScript tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

echo "== lint: ruff (gpu-runner, models)"
.venv/bin/ruff check gpu-runner models bench
.venv/bin/ruff format --check gpu-runner models bench

echo "== tests: gpu-runner (pytest)"
(cd gpu-runner && ../.venv/bin/python -m pytest -q -p no:cacheprovider "$@")

for part in scripts/test-ts.sh; do
  if [ -f "$part" ]; then
    echo "== $part"
    bash "$part"
  fi
done
