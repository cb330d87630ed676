from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "CardioGenExtension"))
sys.path.insert(0, str(ROOT / "Testing"))

pytest.importorskip("slicer", reason="slicer-core (PyPI) is not installed: pip install -r requirements-dev.txt")


@pytest.fixture()
def scene():
    from slicer_standin import make_scene

    return make_scene(fresh=True).scene
