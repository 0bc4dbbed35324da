#!/usr/bin/env bash
# Starts the GPU runner on the project's default model (models/house, else the tiny model, built on first
# use). Extra arguments go to `python -m runner serve` (e.g. --port 8100 --model DIR --adapters DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" python >&2
cd "$root/gpu-runner"
exec ../.venv/bin/python -m runner serve "$@"
