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


@pytest.fixture()
def app():
    """A fresh slicer-core scene whose view manager renders real Slicer views offscreen (trame-slicer)."""
    from slicer_standin import make_scene
    from trame_slicer.views import DirectViewFactory

    app = make_scene(fresh=True)
    if not getattr(app, "_cardiogen_direct_factory", None):
        app._cardiogen_direct_factory = DirectViewFactory(do_render_offscreen=True)
        app.view_manager.register_factory(app._cardiogen_direct_factory)
    return app
