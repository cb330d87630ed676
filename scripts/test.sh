#!/usr/bin/env bash
# Sets up .venv with the test tools and runs the whole test suite (all tiers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
export VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow
export MPLBACKEND=Agg
# two pytest workers on two cores: one BLAS/OpenMP thread each (oversubscribed torch threads slow down ~50x)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
