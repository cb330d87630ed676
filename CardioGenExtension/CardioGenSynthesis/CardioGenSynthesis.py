"""CardioGen Synthesis: run any generative pipeline of the library on data in the scene.

Generic over ``cardiogen.pipelines``: the panel builds one node selector per declared input and one widget per
declared option, runs the pipeline in a background process (progress, Cancel), shows results as sequences beside the
input in two linked views of one orientation and zoom playing together, marked synthetic; the quality check's
warnings and the result's provenance (pipeline, weights, sha256, seed, sampler, device) are shown in the panel; exports
GIF / MP4 or a synthetic-marked DICOM series with the provenance as JSON beside it.
"""
from __future__ import annotations

import logging
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

from CardioGenSlicerLib.dependencies import DependencyGate, DependencyInstaller  # noqa: E402
from CardioGenSlicerLib.jobpanel import JobPanel, export_last_result, switch_to_cpu  # noqa: E402
from CardioGenSlicerLib.mrml_layout import select_layout  # noqa: E402
from CardioGenSlicerLib.process import JobState  # noqa: E402
from CardioGenSlicerLib.provenance import summary_text  # noqa: E402
from CardioGenSlicerLib.qtcompat import prop  # noqa: E402
from CardioGenSlicerLib.synthesis_logic import NODE_TYPES, recorded_phase  # noqa: E402


class CardioGenSynthesis(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "CardioGen Synthesis"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Sequences"]
        self.parent.contributors = ["CardioGen developers"]
        self.parent.helpText = (
            "Generate synthetic cardiac images with the CardioGen pipelines (for example DENSE → cine, or ES CT → "
            "synthetic ED CTs with their flow). Choose the pipeline, its inputs from the scene, device, sampler "
            "steps, seed and number of samples. Results are marked synthetic in their names, attributes and "
            "exported DICOM (ImageType DERIVED, 'SYNTHETIC'). CT motion: each flow arrives as two grid transforms "
            "(ED->ES moves a node on the synthetic ED to the ES; ES->ED moves the ES heart segmentation onto the "
            "synthetic ED); with a heart segmentation its surface plays between ES and ED with the pair's browser. ECG → "
            "cine: choose an ECG table; the window or beat chosen on it in CardioGen Data is the input (the whole "
            "record otherwise); the cine of one R-R interval moves the red cursor of the ECG's chart as it plays. Whole "
            "heart 4D from demographics: set age, sex, height, weight, blood pressure, smoking and alcohol with the "
            "sliders (tick 'unknown' for what you do not know); the heart plays with its segmentation's surfaces in "
            "the 3D view and its measured phenotypes in a table; a second run is shown side by side with the first.")
        self.parent.acknowledgementText = "Pipelines follow the seed papers listed in the CardioGen documentation."


class CardioGenSynthesisWidget(ScriptedLoadableModuleWidget):
    """The panel; ``logic``, ``timerFactory`` and ``installer`` are injectable for tests."""

    def __init__(self, parent=None, logic=None, timerFactory=None, installer=None) -> None:
        # Slicer's base constructor calls setup() itself when there is no parent: state first
        self._injectedLogic = logic
        self._timerFactory = timerFactory or qt.QTimer
        self._installer = installer  # a DependencyInstaller (tests inject fakes)
        self.logic = None
        self.panel = None
        self.declarations = {}
        self.inputWidgets = {}
        self.optionWidgets = {}
        self.optionalParts = {}  #: option name -> {"value", "unknown", "slider"} widgets of an optional option
        self.results = []
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/CardioGenSynthesis.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        self.logic = self._injectedLogic or CardioGenSynthesisLogic()
        # first use: ask once and install what the job needs (never touching Slicer's own packages)
        self.dependencies = DependencyGate(self._installer or DependencyInstaller, need_torch=True)
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton, [self.ui.runButton],
                              self._timerFactory(), self._showResult, before_start=self.dependencies)
        self.declarations = {d["name"]: d for d in self.logic.pipelines()}
        for name, decl in self.declarations.items():
            self.ui.pipelineComboBox.addItem(decl["title"] or name, name)
        self.ui.pipelineComboBox.currentIndexChanged.connect(self.onPipelineChanged)
        self.panel.on_out_of_memory = self.offerCpu
        self.ui.runButton.clicked.connect(self.onRun)
        self.ui.exportButton.clicked.connect(self.onExport)
        synthesis = [i for i, d in enumerate(self.declarations.values()) if d["synthetic"]]
        self.ui.pipelineComboBox.setCurrentIndex(synthesis[0] if synthesis else 0)
        self.onPipelineChanged()

    def currentPipeline(self) -> dict:
        return self.declarations[self.ui.pipelineComboBox.itemData(prop(self.ui.pipelineComboBox, "currentIndex"))]

    def onPipelineChanged(self, *_args) -> None:
        decl = self.currentPipeline()
        self.ui.descriptionLabel.setText(decl["description"])
        self.ui.weightsComboBox.clear()
        self.ui.weightsComboBox.addItem("(default)")
        for model_id in self.logic.weights_for(decl["name"]):
            self.ui.weightsComboBox.addItem(model_id)
        self._rebuild(self.ui.inputsLayout, self.inputWidgets, [self._inputWidget(i) for i in decl["inputs"]])
        self.optionalParts.clear()
        self._rebuild(self.ui.optionsLayout, self.optionWidgets, [self._optionWidget(o) for o in decl["options"]])
        for combo in self.inputWidgets.values():
            combo.currentNodeChanged.connect(self.onInputChanged)
        self.onInputChanged()
        self.panel.update_enabled()

    def onInputChanged(self, *_args) -> None:
        """A 4D series that records its end-systolic frame (a phantom or loaded 4D CT) sets option ``phase`` to
        that frame and bounds it by its frames (ct_motion: the ES phase the synthetic ED volumes start from)."""
        phase = self.optionWidgets.get("phase")
        if phase is None or not self.inputWidgets:
            return
        recorded = recorded_phase(next(iter(self.inputWidgets.values())).currentNode())
        if recorded is None:  # a 3D volume (its only phase) or nothing chosen: the default, -1
            phase.setMaximum(1e6)
            phase.setValue(-1)
            phase.setToolTip("ES phase of a 4D CT (-1: the one the file records)")
            return
        es, frames = recorded
        phase.setMaximum(frames - 1)
        if es is None:
            phase.setValue(-1)
            phase.setToolTip(f"ES phase (0..{frames - 1}): this series records none, choose it")
            return
        phase.setValue(es)
        phase.setToolTip(f"ES phase (0..{frames - 1}); the series records phase {es} as end-systole")

    @staticmethod
    def _rebuild(layout, store: dict, rows: list) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().setParent(None)
        store.clear()
        for name, label, widget in rows:
            layout.addRow(label, widget)
            store[name] = widget

    def _inputWidget(self, spec: dict):
        combo = slicer.qMRMLNodeComboBox()
        combo.setProperty("nodeTypes", list(NODE_TYPES.get(spec["kind"], ("vtkMRMLNode",))))
        combo.setProperty("noneEnabled", not spec["required"])
        combo.setProperty("addEnabled", False)
        combo.setProperty("removeEnabled", False)
        combo.setMRMLScene(slicer.mrmlScene)
        combo.setToolTip(spec["help"] or spec["kind"])
        return spec["name"], f"{spec['name']} ({spec['kind']}):", combo

    def _optionWidget(self, spec: dict):
        default, choices = spec["default"], spec["choices"]
        if choices and set(choices) == {False, True}:
            widget = qt.QCheckBox()
            widget.setChecked(bool(default))
        elif choices:
            widget = qt.QComboBox()
            for choice in choices:
                widget.addItem(str(choice))
            widget.setCurrentIndex(list(choices).index(default))
        else:
            widget = qt.QSpinBox() if isinstance(default, int) else qt.QDoubleSpinBox()
            widget.setMinimum(spec["minimum"] if spec["minimum"] is not None else -1e6)
            widget.setMaximum(spec["maximum"] if spec["maximum"] is not None else 1e6)
            widget.setValue(default)
        widget.setToolTip(spec["help"])
        if spec.get("optional"):  # e.g. a demographic factor: a slider with its unit, and "unknown"
            return spec["name"], f"{spec['name']}:", self._optionalWidget(widget, spec)
        return spec["name"], f"{spec['name']}:", widget

    def _optionalWidget(self, widget, spec: dict):
        """``widget`` in a row with (numbers) a slider over the option's range and its unit as suffix, and an
        "unknown" check box that disables them (the option is then None)."""
        row = qt.QWidget()
        layout = qt.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        slider = None
        if isinstance(widget, qt.QDoubleSpinBox):
            if spec.get("unit"):
                widget.setSuffix(" " + spec["unit"])
            widget.setDecimals(0)
            slider = qt.QSlider(qt.Qt.Horizontal)
            slider.setRange(int(spec["minimum"]), int(spec["maximum"]))
            slider.setValue(int(round(spec["default"])))
            slider.valueChanged.connect(lambda v: widget.setValue(float(v)))
            widget.valueChanged.connect(lambda v: slider.setValue(int(round(v))))
            layout.addWidget(slider)
        layout.addWidget(widget)
        unknown = qt.QCheckBox("unknown")
        unknown.toggled.connect(lambda on: [w.setEnabled(not on) for w in (widget, slider) if w is not None])
        layout.addWidget(unknown)
        self.optionalParts[spec["name"]] = {"value": widget, "unknown": unknown, "slider": slider}
        return row

    def options(self) -> dict:
        out = {}
        for spec in self.currentPipeline()["options"]:
            widget = self.optionWidgets[spec["name"]]
            if spec.get("optional"):
                parts = self.optionalParts[spec["name"]]
                if prop(parts["unknown"], "checked"):
                    out[spec["name"]] = None
                    continue
                widget = parts["value"]
            if isinstance(widget, qt.QCheckBox):
                out[spec["name"]] = bool(prop(widget, "checked"))
            elif isinstance(widget, qt.QComboBox):
                text = prop(widget, "currentText")
                out[spec["name"]] = next(c for c in spec["choices"] if str(c) == text)
            else:
                value = prop(widget, "value")
                out[spec["name"]] = int(value) if isinstance(spec["default"], int) else float(value)
        return out

    def inputNodes(self) -> dict:
        return {name: combo.currentNode() for name, combo in self.inputWidgets.items()}

    @property
    def job(self):
        return self.panel.job

    def onRun(self) -> None:
        decl = self.currentPipeline()
        weights = prop(self.ui.weightsComboBox, "currentText")
        device = prop(self.ui.deviceComboBox, "currentText")
        nodes, options = self.inputNodes(), self.options()
        self._showWarnings([])  # the previous run's warnings
        self.panel.start(lambda progress, finished: self.logic.start(
            decl["name"], nodes, options, weights=None if weights == "(default)" else weights, device=device,
            on_progress=progress, on_finished=finished), f"{decl['title']} running")

    def _showResult(self, result) -> str:
        first_input = next(iter(self.inputNodes().values()), None)
        made = self.logic.import_result(result, first_input, name=self.currentPipeline()["name"],
                                        inputs=self.inputNodes())
        self.results.append(made)
        self.ui.exportButton.setEnabled(bool(made.series))
        names = ", ".join(s.volume.GetName() for s in made.series.values())
        self._showWarnings(made.warnings)
        if made.warnings:  # e.g. a sample that failed the quality check, or a mask on phase noise
            for warning in made.warnings:
                logging.warning("CardioGen Synthesis: %s", warning)
            self.panel.done_message = (f"Done, {len(made.warnings)} warning{'s' if len(made.warnings) > 1 else ''} "
                                       "(below).")
        record = next(iter(made.provenance.values()), None)
        more = len(made.provenance) - 1
        self.ui.provenanceLabel.setText(
            f"Provenance: {summary_text(record)}" + (f" (+{more} more output{'s' if more > 1 else ''})" if more else "")
            if record else "")
        return names

    def _showWarnings(self, warnings: list) -> None:
        """The quality check's warnings in the panel itself (a visible label), each on its own line."""
        self.ui.warningsLabel.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.ui.warningsLabel.setVisible(bool(warnings))
        self.ui.statusLabel.setToolTip("\n".join(warnings))

    def onExport(self) -> None:
        export_last_result(self.ui, self.logic, self.results, prop, "run a pipeline")

    def offerCpu(self) -> None:
        """After a GPU out-of-memory error: switch the device to CPU; the user starts again."""
        switch_to_cpu(self.ui, prop, "press Run to retry.")

    def enter(self) -> None:
        """The CardioGen layout (three slice views, the 3D view and a plot view) whenever the module opens."""
        select_layout()

    def cleanup(self) -> None:
        if self.panel is not None:
            self.panel.cancel()


class CardioGenSynthesisLogic(ScriptedLoadableModuleLogic):
    """Facade over :class:`CardioGenSlicerLib.synthesis_logic.SynthesisLogic` (also for Slicer's console)."""

    def __init__(self, synthesisLogic=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from CardioGenSlicerLib.synthesis_logic import SynthesisLogic

        self.impl = synthesisLogic or SynthesisLogic()

    def pipelines(self) -> list:
        from CardioGenSlicerLib.synthesis_logic import pipeline_declarations

        return pipeline_declarations()

    def weights_for(self, pipeline: str) -> list:
        from cardiogen.weights import Registry

        return [e.id for e in Registry().list(pipeline)]

    def start(self, *args, **kwargs):
        return self.impl.start(*args, **kwargs)

    def import_result(self, *args, **kwargs):
        return self.impl.import_result(*args, **kwargs)

    def export(self, *args, **kwargs):
        return self.impl.export(*args, **kwargs)

    def runBlocking(self, pipeline: str, nodes: dict, options: dict, timeout: float = 1800.0):
        """Console helper: run and wait (the work still happens in a background process)."""
        result = self.impl.start(pipeline, nodes, options).wait(timeout)
        if result.state is not JobState.SUCCEEDED:
            raise RuntimeError(result.error)
        return self.impl.import_result(result, next(iter(nodes.values()), None), name=pipeline)


class CardioGenSynthesisTest(ScriptedLoadableModuleTest):
    """Runs inside a real Slicer: the registration pipeline through the generic panel logic on a phantom cine."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_pipeline_results_are_sequences_synchronised_with_the_input()

    def test_pipeline_results_are_sequences_synchronised_with_the_input(self):
        from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

        data = DataLogic()
        loaded = data.import_result(data.start_phantom(PhantomRequest(size=48, frames=10, modalities=("cine",)))
                                    .wait(600), name="Phantom synthesis test")
        logic = CardioGenSynthesisLogic()
        made = logic.runBlocking("register", {"cine": loaded.nodes["cine"]}, {"method": "demons"})
        self.assertEqual(made.series["displacement"].sequence.GetNumberOfDataNodes(), 10)
        browser = loaded.nodes["cine_browser"]
        self.assertTrue(browser.IsSynchronizedSequenceNode(made.series["displacement"].sequence))
        self.delayDisplay("CardioGen Synthesis test passed")
