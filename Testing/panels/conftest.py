from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "CardioGenExtension"))
sys.path.insert(0, str(ROOT / "CardioGenExtension" / "CardioGenData"))
sys.path.insert(0, str(ROOT / "CardioGenExtension" / "CardioGenMotion"))
sys.path.insert(0, str(ROOT / "CardioGenExtension" / "CardioGenSynthesis"))
sys.path.insert(0, str(ROOT / "CardioGenExtension" / "CardioGenLatent"))
sys.path.insert(0, str(ROOT / "Testing"))

pytest.importorskip("PySide6", reason="PySide6 is not installed: pip install -r requirements-dev.txt")
pytest.importorskip("slicer", reason="slicer-core (PyPI) is not installed: pip install -r requirements-dev.txt")


@pytest.fixture()
def qapp():
    from slicer_standin import install_gui_standins, make_scene

    app = install_gui_standins()
    make_scene(fresh=True)
    return app

