#!/usr/bin/env bash
# The main job on the built-in phantom (no downloads): sets up .venv, then writes out/demo/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/cardiogen demo --out "${1:-out/demo}"
