"""CardioGen Data: load cine, DENSE, CT and ECG data, or create a phantom case (3D Slicer scripted module).

Thin module: the panel comes from ``Resources/UI/CardioGenData.ui``; reading and simulating run in a background
process through ``CardioGenSlicerLib`` (progress bar, Cancel), and the results become MRML nodes through the
MRML bridge. All computation lives in the ``cardiogen`` library.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(_HERE, ".."), os.path.join(_HERE, "..", "..", "CardioGenLogic")):
    # Development checkout (Extension Wizard / additional module paths): make CardioGenSlicerLib and cardiogen
    # importable. A built extension installs both beside the modules and this adds nothing.
    if os.path.isdir(_path) and os.path.abspath(_path) not in sys.path:
        sys.path.insert(0, os.path.abspath(_path))

from CardioGenSlicerLib.compat import require_supported_environment  # noqa: E402

require_supported_environment()  # Slicer >= 5.10 (Python >= 3.11): a clear message, before newer code loads

import qt  # noqa: E402
import slicer  # noqa: E402
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,  # noqa: E402
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.parameterNodeWrapper import parameterNodeWrapper  # noqa: E402

from cardiogen.errors import CardioGenInputError  # noqa: E402
from CardioGenSlicerLib import mrml_ecg_window as ecgWindow  # noqa: E402
from CardioGenSlicerLib.dependencies import DependencyGate, DependencyInstaller  # noqa: E402
from CardioGenSlicerLib.jobpanel import JobPanel  # noqa: E402
from CardioGenSlicerLib.mrml_layout import select_layout  # noqa: E402
from CardioGenSlicerLib.process import JobState  # noqa: E402
from CardioGenSlicerLib.qtcompat import prop  # noqa: E402


class CardioGenData(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "CardioGen Data"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Sequences"]
        self.parent.contributors = ["CardioGen developers"]
        self.parent.helpText = (
            "Load cine (DICOM, NIfTI, NRRD), DENSE (DENSEanalysis workspace), CT and 12-lead ECG data, or create a "
            "phantom case in every modality with its ground truth. 4D data arrives as a sequence with a browser; "
            "the ECG shows in a plot view (every lead, mV against s) with the current frame marked. ECG window: "
            "choose a beat or a start/end time on an ECG; Synthesis' ECG → cine uses that window (it reads 10 s: a "
            "shorter window is padded with the baseline, under 2 s refused).")
        self.parent.acknowledgementText = "CardioGen is open source (BSD-3-Clause)."


@parameterNodeWrapper
class CardioGenDataParameterNode:
    """Panel state kept in the scene (saved with it)."""

    path: str = ""
    kind: str = "auto"
    seed: int = 0
    size: int = 64
    frames: int = 20
    age: float = 55.0
    sex: str = "M"
    heightCm: float = 175.0
    weightKg: float = 78.0
    sbp: float = 128.0
    infarct: bool = False
    infarctAngle: float = 90.0
    dyssynchrony: float = 0.0
    view: str = "sax"


class CardioGenDataWidget(ScriptedLoadableModuleWidget):
    """The panel. ``logic``, ``timerFactory`` and ``installer`` are injectable (tests drive the widget with fakes)."""

    def __init__(self, parent=None, logic=None, timerFactory=None, installer=None) -> None:
        # Slicer's base constructor calls setup() itself when there is no parent: state first
        self._injectedLogic = logic
        self._timerFactory = timerFactory or qt.QTimer
        self._installer = installer  # a DependencyInstaller (tests inject fakes)
        self.logic = None
        self.panel = None
        self.loaded = []
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/CardioGenData.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        self.logic = self._injectedLogic or CardioGenDataLogic()
        # first use: ask once and install what the job needs (never touching Slicer's own packages)
        self.dependencies = DependencyGate(self._installer or DependencyInstaller, need_torch=False)
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton,
                              [self.ui.loadButton, self.ui.phantomButton], self._timerFactory(), self._showResult,
                              details=self.ui.summaryTextEdit, before_start=self.dependencies)
        self.ui.loadButton.clicked.connect(self.onLoad)
        self.ui.phantomButton.clicked.connect(self.onCreatePhantom)
        self.ui.infarctCheckBox.toggled.connect(self._updateEnabled)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.ecgNodeComboBox.setMRMLScene(slicer.mrmlScene)
        self.ui.ecgNodeComboBox.currentNodeChanged.connect(self.onEcgChanged)
        self.ui.selectBeatButton.clicked.connect(self.onSelectBeat)
        self.ui.setWindowButton.clicked.connect(self.onSetWindow)
        self._updateEnabled()
        self.onEcgChanged()

    # ---- parameter node <-> GUI (explicit, portable between PythonQt and PySide6) -----------------------------
    def parameters(self) -> CardioGenDataParameterNode:
        """Read the panel into a parameter node."""
        p = CardioGenDataParameterNode(self.logic.getParameterNode())
        p.path = prop(self.ui.pathLineEdit, "currentPath")
        p.kind = prop(self.ui.kindComboBox, "currentText")
        p.seed = int(prop(self.ui.seedSpinBox, "value"))
        p.size = int(prop(self.ui.sizeSpinBox, "value"))
        p.frames = int(prop(self.ui.framesSpinBox, "value"))
        p.age = float(prop(self.ui.ageSpinBox, "value"))
        p.sex = prop(self.ui.sexComboBox, "currentText")
        p.heightCm = float(prop(self.ui.heightSpinBox, "value"))
        p.weightKg = float(prop(self.ui.weightSpinBox, "value"))
        p.sbp = float(prop(self.ui.sbpSpinBox, "value"))
        p.infarct = bool(prop(self.ui.infarctCheckBox, "checked"))
        p.infarctAngle = float(prop(self.ui.infarctAngleSpinBox, "value"))
        p.dyssynchrony = float(prop(self.ui.dyssynchronySlider, "value"))
        p.view = str(prop(self.ui.viewComboBox, "currentText"))
        return p

    def modalities(self) -> tuple:
        boxes = (("cine", self.ui.cineCheckBox), ("tagging", self.ui.taggingCheckBox), ("dense", self.ui.denseCheckBox),
                 ("ct", self.ui.ctCheckBox), ("ecg", self.ui.ecgCheckBox))
        return tuple(name for name, box in boxes if prop(box, "checked"))

    def _updateEnabled(self, *_args) -> None:
        self.panel.update_enabled()
        self.ui.infarctAngleSpinBox.setEnabled(bool(prop(self.ui.infarctCheckBox, "checked")))

    @property
    def job(self):
        return self.panel.job

    # ---- actions ---------------------------------------------------------------------------------------------
    def onLoad(self) -> None:
        p = self.parameters()
        self.panel.start(lambda progress, finished: self.logic.start_load(p.path, progress, finished, kind=p.kind),
                         f"Reading {os.path.basename(p.path) or '(nothing)'}")

    def onCreatePhantom(self) -> None:
        from CardioGenSlicerLib.data_logic import PhantomRequest

        p = self.parameters()
        request = PhantomRequest(modalities=self.modalities(), seed=p.seed, size=p.size, frames=p.frames, age=p.age,
                                 sex=p.sex, height_cm=p.heightCm, weight_kg=p.weightKg, sbp=p.sbp,
                                 infarct_deg=p.infarctAngle if p.infarct else None, dyssynchrony=p.dyssynchrony,
                                 view=p.view)
        self.panel.start(lambda progress, finished: self.logic.start_phantom(request, progress, finished),
                         f"Simulating phantom case (seed {p.seed})")

    def _showResult(self, result) -> str:
        loaded = self.logic.import_result(result, name=self._resultName())
        self.loaded.append(loaded)
        if "ecg_table" in loaded.nodes:  # ready for choosing its window
            self.ui.ecgNodeComboBox.setCurrentNode(loaded.nodes["ecg_table"])
        return loaded.summary

    # ---- ECG window: the input of Synthesis' ECG -> cine, kept on the ECG table (CardioGenSlicerLib.mrml_ecg_window)
    def onEcgChanged(self, *_args) -> None:
        table = self.ui.ecgNodeComboBox.currentNode()
        usable = ecgWindow.is_ecg_table(table)
        for widget in (self.ui.beatSpinBox, self.ui.selectBeatButton, self.ui.windowStartSpinBox,
                       self.ui.windowEndSpinBox, self.ui.setWindowButton):
            widget.setEnabled(usable)
        if not usable:
            self.ui.windowLabel.setText("Choose an ECG table." if table is None else
                                        f"{table.GetName()} is not an ECG table (time_ms and one column per lead).")
            return
        first, last = ecgWindow.record_span_ms(table)
        for box in (self.ui.windowStartSpinBox, self.ui.windowEndSpinBox):
            box.setMinimum(first / 1000.0)
            box.setMaximum(last / 1000.0)
        start, end = ecgWindow.window(table) or (first, min(last, first + 1000.0 * ecgWindow.MODEL_SECONDS))
        self._showWindow(table, start, end)

    def onSelectBeat(self) -> None:
        beat = int(prop(self.ui.beatSpinBox, "value"))
        self._changeWindow(lambda table: ecgWindow.select_beat(table, beat))

    def onSetWindow(self) -> None:
        start, end = (1000.0 * float(prop(box, "value")) for box in (self.ui.windowStartSpinBox,
                                                                     self.ui.windowEndSpinBox))
        self._changeWindow(lambda table: ecgWindow.set_window(table, start, end))

    def _changeWindow(self, change) -> None:
        table = self.ui.ecgNodeComboBox.currentNode()
        try:
            start, end = change(table)
        except CardioGenInputError as exc:  # a clear message in the panel; the stored window stays as it was
            self.ui.windowLabel.setText(f"⚠ {exc}")
            return
        self._showWindow(table, start, end)

    def _showWindow(self, table, start: float, end: float) -> None:
        self.ui.windowStartSpinBox.setValue(start / 1000.0)
        self.ui.windowEndSpinBox.setValue(end / 1000.0)
        if ecgWindow.window(table) is None:
            self.ui.windowLabel.setText(f"No window: the whole record is the input ({ecgWindow.describe(start, end)}).")
            return
        beat = ecgWindow.window_beat(table)
        if beat is not None:
            self.ui.beatSpinBox.setValue(beat)
        self.ui.windowLabel.setText(f"Window {start / 1000:.2f}-{end / 1000:.2f} s"
                                    + (f" (beat {beat})" if beat is not None else "")
                                    + f": {ecgWindow.describe(start, end)}. Synthesis' ECG → cine uses it.")

    def _resultName(self) -> str:
        if self.job is not None and self.job.job == "phantom":
            return f"Phantom {self.job.options.get('seed', 0)} PHANTOM"
        path = self.job.inputs.get("path", "") if self.job is not None else ""
        return os.path.basename(os.path.normpath(path)).split(".")[0] or "CardioGen"

    def enter(self) -> None:
        """The CardioGen layout (three slice views, the 3D view and a plot view) whenever the module opens."""
        select_layout()

    def cleanup(self) -> None:
        self.panel.cancel()


class CardioGenDataLogic(ScriptedLoadableModuleLogic):
    """Facade over :class:`CardioGenSlicerLib.data_logic.DataLogic` (usable from Slicer's Python console)."""

    def __init__(self, dataLogic=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from CardioGenSlicerLib.data_logic import DataLogic

        self.impl = dataLogic or DataLogic()

    def getParameterNode(self):
        return ScriptedLoadableModuleLogic.getParameterNode(self)

    def start_load(self, *args, **kwargs):
        return self.impl.start_load(*args, **kwargs)

    def start_phantom(self, *args, **kwargs):
        return self.impl.start_phantom(*args, **kwargs)

    def import_result(self, *args, **kwargs):
        return self.impl.import_result(*args, **kwargs)

    def loadBlocking(self, path: str, timeout: float = 600.0):
        """Console helper: load a file, wait, and return the nodes (runs in a background process meanwhile)."""
        job = self.impl.start_load(path)
        result = job.wait(timeout)
        if result.state is not JobState.SUCCEEDED:
            raise RuntimeError(result.error)
        return self.impl.import_result(result, name=os.path.basename(os.path.normpath(path)).split(".")[0])


class CardioGenDataTest(ScriptedLoadableModuleTest):
    """Runs inside a real Slicer (Testing tier 5): a phantom case made through the background process."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_phantom_case_loads_as_sequences_and_ecg_chart()

    def test_phantom_case_loads_as_sequences_and_ecg_chart(self):
        from CardioGenSlicerLib.data_logic import PhantomRequest

        logic = CardioGenDataLogic()
        job = logic.start_phantom(PhantomRequest(size=48, frames=12, seed=1))
        result = job.wait(600)
        self.assertEqual(result.state, JobState.SUCCEEDED, result.error + "\n" + result.log_tail)
        loaded = logic.import_result(result, name="Phantom test")
        cine = loaded.nodes["cine"]
        self.assertTrue(cine.IsA("vtkMRMLScalarVolumeNode"))
        self.assertEqual(loaded.nodes["cine_sequence"].GetNumberOfDataNodes(), 12)
        self.assertEqual(loaded.nodes["ecg_chart"].GetNumberOfPlotSeriesNodes(), 13)
        start, end = ecgWindow.select_beat(loaded.nodes["ecg_table"], 1)  # the input window of ECG -> cine
        self.assertEqual(ecgWindow.window(loaded.nodes["ecg_table"]), (start, end))
        self.delayDisplay("CardioGen Data test passed")
