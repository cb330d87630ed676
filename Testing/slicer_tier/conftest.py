from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "CardioGenExtension"))
for module in (ROOT / "CardioGenExtension").iterdir():
    if (module / f"{module.name}.py").is_file():
        sys.path.insert(0, str(module))
sys.path.insert(0, str(ROOT / "Testing"))

pytest.importorskip("PySide6", reason="PySide6 is not installed: pip install -r requirements-dev.txt")
pytest.importorskip("slicer", reason="slicer-core (PyPI) is not installed: pip install -r requirements-dev.txt")
