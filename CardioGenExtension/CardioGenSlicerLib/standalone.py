"""Slicer's MRML core without the Slicer application (slicer-core from PyPI, through trame-slicer's ``SlicerApp``),
set up as the CardioGen modules expect it inside Slicer: the web app serves its views, the test tiers render them.
"""
from __future__ import annotations

import types
from typing import Any


def standalone_slicer_app() -> Any:
    """A slicer-core application (trame-slicer ``SlicerApp``) set up as the modules expect it inside Slicer:
    ``slicer.mrmlScene`` is its scene and ``slicer.modules.<name>.logic()`` gives the Sequences, Colors,
    Segmentations and Volumes logic over it."""
    import os

    if not os.environ.get("DISPLAY"):  # a server without a display renders offscreen through EGL
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import slicer
    from trame_slicer.core import SlicerApp

    app = SlicerApp()
    sequences = slicer.vtkSlicerSequencesLogic()
    app.register_module_logic(sequences)
    colors = slicer.vtkSlicerColorLogic()  # Slicer's module logic (colour legends), over the same scene
    colors.SetMRMLApplicationLogic(app.app_logic)
    colors.SetMRMLScene(app.scene)
    app._cardiogen_sequences_logic, app._cardiogen_color_logic = sequences, colors
    use_scene(app)
    return app


def use_scene(app: Any) -> None:
    """Make ``app``'s scene and module logic the ones ``slicer.mrmlScene`` / ``slicer.modules`` give."""
    import slicer

    if getattr(slicer, "app", None) is not None:
        raise RuntimeError("inside 3D Slicer the application's own scene and modules are used; "
                           "CardioGenSlicerLib.standalone is for slicer-core without the application")
    slicer.mrmlScene = app.scene
    slicer.modules = types.SimpleNamespace(
        sequences=types.SimpleNamespace(logic=lambda: app._cardiogen_sequences_logic),
        colors=types.SimpleNamespace(logic=lambda: app._cardiogen_color_logic),
        segmentations=types.SimpleNamespace(logic=lambda: app.segmentations_logic),
        volumes=types.SimpleNamespace(logic=lambda: app.volumes_logic),
    )
