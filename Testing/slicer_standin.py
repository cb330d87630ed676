"""Test-only stand-ins for the parts of 3D Slicer that slicer-core (PyPI) does not have.

slicer-core gives the real MRML scene, nodes and module logics; the Slicer *application* is missing
(``slicer.app``, ``slicer.modules``, ``slicer.mrmlScene``). :func:`make_scene` builds a real scene with
trame-slicer's ``SlicerApp`` and registers the logics that product code reaches through ``slicer.modules``.
This file lives in Testing/ only; product code never imports it.
"""
from __future__ import annotations

import os
import types

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

_APP = None


def make_scene(fresh: bool = True):
    """A real MRML scene (SlicerApp) set as ``slicer.mrmlScene``, with ``slicer.modules.<name>.logic()``."""
    global _APP
    import slicer
    from trame_slicer.core import SlicerApp

    if _APP is None:
        _APP = SlicerApp()
        seq_logic = slicer.vtkSlicerSequencesLogic()
        _APP.register_module_logic(seq_logic)
        _APP._cardiogen_sequences_logic = seq_logic
    elif fresh:
        _APP.scene.Clear(0)
    app = _APP
    slicer.mrmlScene = app.scene
    modules = types.SimpleNamespace(
        sequences=types.SimpleNamespace(logic=lambda: app._cardiogen_sequences_logic),
        colors=types.SimpleNamespace(logic=lambda: app.color_logic),
        segmentations=types.SimpleNamespace(logic=lambda: app.segmentations_logic),
        volumes=types.SimpleNamespace(logic=lambda: app.volumes_logic),
    )
    slicer.modules = modules
    return app
