from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "CardioGenExtension"))
sys.path.insert(0, str(ROOT / "Testing"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

pytest.importorskip("trame_slicer", reason="trame-slicer (PyPI) is not installed: pip install -r requirements-dev.txt")
