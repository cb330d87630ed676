"""CardioGen Motion: cine registration (learned LTMA or classical), DENSE displacement, strain overlays, AHA curves.

Thin module: the panel comes from ``Resources/UI/CardioGenMotion.ui``; the work runs in a background process
(``cardiogen run`` job "motion") through ``CardioGenSlicerLib``; results become a grid-transform sequence (a deformed
grid on the reference), a colored strain overlay with a legend, AHA/global curves in a plot chart and a bull's-eye.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(_HERE, ".."), os.path.join(_HERE, "..", "..", "CardioGenLogic")):
    # Development checkout: make CardioGenSlicerLib and cardiogen importable (a built extension installs both).
    if os.path.isdir(_path) and os.path.abspath(_path) not in sys.path:
        sys.path.insert(0, os.path.abspath(_path))

from CardioGenSlicerLib.compat import require_supported_environment  # noqa: E402

require_supported_environment()  # Slicer >= 5.10 (Python >= 3.11): a clear message, before newer code loads

import qt  # noqa: E402
import slicer  # noqa: E402
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,  # noqa: E402
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.parameterNodeWrapper import parameterNodeWrapper  # noqa: E402

from CardioGenSlicerLib.dependencies import DependencyGate, DependencyInstaller  # noqa: E402
from CardioGenSlicerLib.jobpanel import JobPanel  # noqa: E402
from CardioGenSlicerLib.motion_logic import METHODS  # noqa: E402
from CardioGenSlicerLib.mrml_layout import select_layout  # noqa: E402
from CardioGenSlicerLib.process import JobState  # noqa: E402
from CardioGenSlicerLib.qtcompat import prop  # noqa: E402


class CardioGenMotion(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "CardioGen Motion"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Sequences"]
        self.parent.contributors = ["CardioGen developers"]
        self.parent.helpText = (
            "Track the heart through a cine (learned latent-velocity registration LTMA, or SimpleITK demons / "
            "B-spline) or read the motion from DENSE phase, then compute Green-Lagrange strain in the LV myocardium: "
            "colored overlays with a legend, AHA segment and global curves, a bull's-eye, CSV export.")
        self.parent.acknowledgementText = "LTMA follows seed 000 (MFD-V2V); strain as in seed 001 chapter 4."


@parameterNodeWrapper
class CardioGenMotionParameterNode:
    method: str = "LTMA (learned)"
    device: str = "auto"
    component: str = "circumferential"
    refineMask: bool = False


class CardioGenMotionWidget(ScriptedLoadableModuleWidget):
    """The panel; ``logic``, ``timerFactory`` and ``installer`` are injectable for tests."""

    def __init__(self, parent=None, logic=None, timerFactory=None, installer=None) -> None:
        # Slicer's base constructor calls setup() itself when there is no parent: state first
        self._injectedLogic = logic
        self._timerFactory = timerFactory or qt.QTimer
        self._installer = installer  # a DependencyInstaller (tests inject fakes)
        self.logic = None
        self.panel = None
        self.results = []
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/CardioGenMotion.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self._injectedLogic or CardioGenMotionLogic()
        # first use: ask once and install what the job needs (never touching Slicer's own packages)
        self.dependencies = DependencyGate(self._installer or DependencyInstaller, need_torch=self._needsTorch)
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton, [self.ui.runButton],
                              self._timerFactory(), self._showResult, before_start=self.dependencies)
        self.ui.runButton.clicked.connect(self.onRun)
        self.ui.exportButton.clicked.connect(self.onExport)
        self.ui.componentComboBox.currentIndexChanged.connect(self.onComponentChanged)
        self.ui.inputSelector.currentNodeChanged.connect(self._updateEnabled)
        self._updateEnabled()

    def parameters(self) -> CardioGenMotionParameterNode:
        p = CardioGenMotionParameterNode(self.logic.getParameterNode())
        p.method = prop(self.ui.methodComboBox, "currentText")
        p.device = prop(self.ui.deviceComboBox, "currentText")
        p.component = prop(self.ui.componentComboBox, "currentText")
        p.refineMask = bool(prop(self.ui.refineMaskCheckBox, "checked"))
        return p

    def _needsTorch(self) -> bool:
        """Only the learned registration (LTMA) needs PyTorch; the classical methods and DENSE phase do not."""
        return METHODS.get(prop(self.ui.methodComboBox, "currentText")) == "ltma"

    def _updateEnabled(self, *_args) -> None:
        self.panel.update_enabled(self.ui.inputSelector.currentNode() is not None)
        self.ui.exportButton.setEnabled(bool(self.results) and bool(self.results[-1].peaks))

    @property
    def job(self):
        return self.panel.job

    def onRun(self) -> None:
        p = self.parameters()
        image = self.ui.inputSelector.currentNode()
        mask = self.ui.maskSelector.currentNode()
        method = METHODS[p.method]
        self.panel.start(lambda progress, finished: self.logic.start(
            method, image, mask, device=p.device, refine_mask=p.refineMask, on_progress=progress,
            on_finished=finished), f"{p.method} on {image.GetName() if image is not None else '(nothing)'}")
        self._updateEnabled()

    def _showResult(self, result) -> str:
        reference = self.ui.inputSelector.currentNode()
        name = (reference.GetName() if reference is not None else "Motion").replace(" (synthetic)", "")
        motion = self.logic.import_result(result, reference, name=f"{name} motion",
                                          component=self.parameters().component)
        self.results.append(motion)
        self.ui.peaksLabel.setText(format_peaks(motion.peaks) or "No strain (select a myocardium segmentation).")
        self._updateEnabled()
        return prop(self.ui.peaksLabel, "text")

    def onComponentChanged(self, *_args) -> None:
        if not self.results:
            return
        component = self.parameters().component
        motion = self.results[-1]
        if component in motion.strain_nodes:
            self.logic.show_component(motion, component, self.ui.inputSelector.currentNode())
            self.ui.statusLabel.setText(f"Showing {component} strain.")
        else:
            self.ui.statusLabel.setText(f"No {component} strain for this run.")

    def onExport(self) -> None:
        path = prop(self.ui.exportPathLineEdit, "currentPath")
        if not path:
            self.ui.statusLabel.setText("Error: choose a CSV file name first.")
            return
        try:
            written = self.logic.export_csv(self.results[-1], path)
        except Exception as exc:
            self.ui.statusLabel.setText(f"Error: {exc}")
            return
        self.ui.statusLabel.setText(f"Curves written to {written} (peaks beside it).")

    def enter(self) -> None:
        """The CardioGen layout (three slice views, the 3D view and a plot view) whenever the module opens."""
        select_layout()

    def cleanup(self) -> None:
        if self.panel is not None:
            self.panel.cancel()


def format_peaks(peaks: dict) -> str:
    return "\n".join(f"peak {comp}: {v['peak']:+.3f} at {v['time_ms']:.0f} ms" for comp, v in sorted(peaks.items()))


class CardioGenMotionLogic(ScriptedLoadableModuleLogic):
    """Facade over :class:`CardioGenSlicerLib.motion_logic.MotionLogic` (also for Slicer's Python console)."""

    def __init__(self, motionLogic=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from CardioGenSlicerLib.motion_logic import MotionLogic

        self.impl = motionLogic or MotionLogic()

    def getParameterNode(self):
        return ScriptedLoadableModuleLogic.getParameterNode(self)

    def start(self, *args, **kwargs):
        return self.impl.start(*args, **kwargs)

    def import_result(self, *args, **kwargs):
        return self.impl.import_result(*args, **kwargs)

    def show_component(self, *args, **kwargs):
        return self.impl.show_component(*args, **kwargs)

    def export_csv(self, *args, **kwargs):
        return self.impl.export_csv(*args, **kwargs)

    def runBlocking(self, method: str, imageNode, maskNode=None, timeout: float = 900.0):
        """Console helper: run and wait (the work still happens in a background process)."""
        result = self.impl.start(method, imageNode, maskNode).wait(timeout)
        if result.state is not JobState.SUCCEEDED:
            raise RuntimeError(result.error)
        return self.impl.import_result(result, imageNode, name=f"{imageNode.GetName()} motion")


class CardioGenMotionTest(ScriptedLoadableModuleTest):
    """Runs inside a real Slicer: phantom case -> demons registration + strain -> overlays and curves."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_phantom_registration_gives_strain_overlay_and_curves()

    def test_phantom_registration_gives_strain_overlay_and_curves(self):
        from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

        data = DataLogic()
        loaded = data.import_result(data.start_phantom(PhantomRequest(size=48, frames=12, modalities=("cine",)))
                                    .wait(600), name="Phantom motion test")
        logic = CardioGenMotionLogic()
        motion = logic.runBlocking("demons", loaded.nodes["cine"], loaded.nodes["truth_segmentation"])
        self.assertTrue(motion.peaks["circumferential"]["peak"] < -0.05)
        self.assertTrue("circumferential" in motion.strain_nodes)
        self.assertEqual(motion.nodes["displacement_sequence"].GetNumberOfDataNodes(), 12)
        self.delayDisplay("CardioGen Motion test passed")
