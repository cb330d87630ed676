#!/usr/bin/env bash
# Sets up .venv with the test tools and runs the whole test suite (all tiers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
export VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
