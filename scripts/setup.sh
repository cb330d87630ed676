#!/usr/bin/env bash
# Create/refresh the project's virtual environment in .venv (idempotent, offline-friendly).
#   bash scripts/setup.sh          runtime packages
#   bash scripts/setup.sh --dev    runtime + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# Re-install only when a requirements file changed (stamp = hash of the inputs).
STAMP=.venv/.cardiogen-setup-stamp
HASH=$(cat requirements.txt requirements-dev.txt constraints.txt CardioGenLogic/pyproject.toml | sha256sum | cut -c1-16)-$DEV
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]]; then
  exit 0
fi
# pip's exit status is kept; only the noise about local package folders that do not exist is filtered out.
pip_q() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored" >&2); }
pip_q install --upgrade pip setuptools
# torch first, pinned: a CPU build on this machine (see requirements.txt).
pip_q install "torch==2.13.0" -c constraints.txt
pip_q install -r requirements.txt -c constraints.txt
if [[ $DEV == 1 ]]; then
  pip_q install -r requirements-dev.txt -c constraints.txt
fi
pip_q install --no-deps --no-build-isolation -e CardioGenLogic
.venv/bin/python -c "import torch, numpy, SimpleITK, pydicom, nibabel, nrrd, skimage, wfdb, imageio, cardiogen" \
  || { echo "setup failed: a package did not import" >&2; exit 1; }
echo "$HASH" > "$STAMP"
