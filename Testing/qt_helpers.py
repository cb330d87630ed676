"""Helpers for the panel tests (test-only)."""
from __future__ import annotations


def wait_for_job(app, widget, timeout: float = 300.0) -> None:
    """Process Qt events until the widget's background job has finished (the GUI thread never blocks on it)."""
    import time

    deadline = time.monotonic() + timeout
    while widget.job is not None and not widget.job.state.finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()
    assert widget.job.state.finished, "the background job did not finish in time"


def synthesis_widget(tmp_path):
    """A Synthesis panel (widget, parent) on its own work folder, set up and shown as Slicer shows it."""
    import CardioGenSynthesis
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic
    from PySide6 import QtWidgets

    parent = QtWidgets.QWidget()
    parent.resize(420, 720)
    logic = CardioGenSynthesis.CardioGenSynthesisLogic(SynthesisLogic(work_root=tmp_path / "synth"))
    widget = CardioGenSynthesis.CardioGenSynthesisWidget(parent, logic=logic)
    widget.setup()
    parent.show()
    return widget, parent
