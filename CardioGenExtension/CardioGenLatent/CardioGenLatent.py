"""CardioGen Latent Explorer: GANcMRI latent-space cine generation with phenotype sliders (seed 002).

Start from a seeded random heart or project the selected cine's ED frame; one slider per fitted phenotype direction
(c ∈ [−2, 3]) updates the ED frame live while it is dragged; on release (or with "Generate video") the full video is
generated in a background process and played as a sequence; trajectory (frame-to-frame or ED-to-ES), frame count and
temporal super-resolution factor are options; every result is marked synthetic and can be exported.
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

import ctk  # noqa: E402
import qt  # noqa: E402
import slicer  # noqa: E402
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,  # noqa: E402
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)

from CardioGenSlicerLib.dependencies import DependencyGate, DependencyInstaller  # noqa: E402
from CardioGenSlicerLib.jobpanel import JobPanel, export_last_result, switch_to_cpu  # noqa: E402
from CardioGenSlicerLib.mrml_layout import select_layout  # noqa: E402
from CardioGenSlicerLib.process import JobState  # noqa: E402
from CardioGenSlicerLib.qtcompat import prop  # noqa: E402

SLIDER_ORDER = ("lv_area", "sphericity", "myo_thickness", "ef_area")


class CardioGenLatent(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "CardioGen Latent Explorer"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Sequences"]
        self.parent.contributors = ["CardioGen developers"]
        self.parent.helpText = (
            "Explore the latent space of the GANcMRI frame generator (StyleGAN2): start from a random heart or project "
            "a four-chamber cine, move phenotype sliders (LV area, sphericity, myocardial thickness) and watch the "
            "end-diastolic frame change; the full video (frame-to-frame or ED-to-ES trajectory, optional temporal "
            "super-resolution) is generated in the background. Every result is marked synthetic.")
        self.parent.acknowledgementText = "GANcMRI: Vukadinovic et al. (seed 002 of the CardioGen documentation)."


class CardioGenLatentWidget(ScriptedLoadableModuleWidget):
    """The panel; ``logic``, ``timerFactory`` and ``installer`` are injectable for tests."""

    def __init__(self, parent=None, logic=None, timerFactory=None, installer=None) -> None:
        # Slicer's base constructor calls setup() itself when there is no parent: state first
        self._injectedLogic = logic
        self._timerFactory = timerFactory or qt.QTimer
        self._installer = installer  # a DependencyInstaller (tests inject fakes)
        self.logic = None
        self.panel = None
        self.sliders = {}
        self.sliderLabels = {}
        self.scales = {}  # name -> SliderScale of the current start (sliders shown in physical units)
        self._c = {}  # name -> the slider's c (the latent moves by c times the direction)
        self.start = None
        self.results = []
        self.lastMeasured = {}
        self._pending = ("video",)
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/CardioGenLatent.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.cineSelector.setMRMLScene(slicer.mrmlScene)
        self.logic = self._injectedLogic or CardioGenLatentLogic()
        # first use: ask once and install what the job needs (never touching Slicer's own packages)
        self.dependencies = DependencyGate(self._installer or DependencyInstaller, need_torch=True)
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton,
                              [self.ui.generateButton, self.ui.applyStartButton], self._timerFactory(),
                              self._onJobDone, before_start=self.dependencies)
        self.panel.on_out_of_memory = self.offerCpu
        self.ui.applyStartButton.clicked.connect(self.onApplyStart)
        self.ui.generateButton.clicked.connect(self.onGenerate)
        self.ui.resetSlidersButton.clicked.connect(self.onResetSliders)
        self.ui.exportButton.clicked.connect(self.onExport)
        self.ui.startComboBox.currentIndexChanged.connect(self._updateStartWidgets)
        self._updateStartWidgets()
        if self.dependencies.installer.needed(need_torch=True):  # fresh Slicer: the model loads after the install
            self.ui.statusLabel.setText("PyTorch and CardioGen's packages are installed on first use (Apply start).")
        else:
            self._addSliders()

    def _addSliders(self) -> None:
        """One slider per fitted phenotype direction of the generator (needs torch and the weights)."""
        try:
            names = self.logic.slider_names()
        except Exception as exc:  # no weights / dependencies: say so in the panel
            self.ui.statusLabel.setText(f"Error: {exc}")
            names = []
        order = list(SLIDER_ORDER)
        for name in sorted(names, key=lambda n: order.index(n) if n in order else len(order)):
            self._addSlider(name)

    # ---- widgets ---------------------------------------------------------------------------------------------
    def _addSlider(self, name: str) -> None:
        slider = ctk.ctkSliderWidget()
        slider.setTracking(False)  # valueIsChanging while dragging, valueChanged once on release
        slider.valueIsChanging.connect(lambda value, n=name: self.onSliderDragged(n, value))
        slider.valueChanged.connect(lambda value, n=name: self.onSliderReleased(n, value))
        label = qt.QLabel()
        self.ui.slidersLayout.addRow(label, slider)
        self.sliders[name], self.sliderLabels[name], self._c[name] = slider, label, 0.0
        self._showSlider(name)

    def _showSlider(self, name: str) -> None:
        """The slider in the phenotype's unit where this start has a scale for it, else in c."""
        slider, unit, scale = self.sliders[name], self.logic.phenotype_unit(name), self.scales.get(name)
        slider.blockSignals(True)  # re-scaling is no user move
        if scale is not None and scale.usable:
            low, high = scale.range()
            dec = scale.display_decimals()
            slider.setDecimals(dec)
            slider.setRange(low, high)
            slider.setSingleStep(10.0 ** -dec)
            slider.setSuffix(f" {unit.unit}" if unit.unit else "")
            slider.setValue(scale.value(self._c[name]))
            self.sliderLabels[name].setText(f"{unit.label}{f' ({unit.unit})' if unit.unit else ''}:")
            slider.setToolTip(f"Moves this heart along the fitted {unit.label} direction; values as measured on it "
                              f"with the other sliders at 0 (c from {scale.cs[0]:g} to {scale.cs[-1]:g})")
        else:
            slider.setDecimals(1)
            slider.setRange(-2.0, 3.0)
            slider.setSingleStep(0.1)
            slider.setSuffix("")
            slider.setValue(self._c[name])
            self.sliderLabels[name].setText(f"{unit.label} (direction c):")
            slider.setToolTip(f"Move along the fitted {unit.label} direction: w + c·k, c ∈ [-2, 3]"
                              + (" (measured on the generated video)" if unit.unit == "%" else ""))
        slider.blockSignals(False)

    def _sliderC(self, name: str, value: float) -> float:
        scale = self.scales.get(name)
        if scale is None or not scale.usable:
            return float(value)
        return scale.c(value, int(prop(self.sliders[name], "decimals")))

    def _rescaleSliders(self) -> None:
        try:
            self.scales = self.logic.slider_scales(self.start)
        except Exception as exc:  # the sliders stay in c
            self.scales = {}
            self.ui.statusLabel.setText(f"Error: {exc}")
        for name in self.sliders:
            self._showSlider(name)

    def _updateStartWidgets(self, *_args) -> None:
        project = prop(self.ui.startComboBox, "currentIndex") == 1
        self.ui.cineSelector.setEnabled(project)
        self.ui.projectionStepsSpinBox.setEnabled(project)

    def sliderValues(self, override: dict = None) -> dict:
        values = dict(self._c)
        values.update(override or {})
        return {k: v for k, v in values.items() if v != 0.0}

    # ---- start, preview ----------------------------------------------------------------------------------------
    def onApplyStart(self) -> None:
        if not self.panel.ready():  # first use: the seed start runs here, in Slicer's process, with torch
            return
        if not self.sliders:
            self._addSliders()
        if prop(self.ui.startComboBox, "currentIndex") == 0:
            try:
                self.start = self.logic.seed_start(int(prop(self.ui.seedSpinBox, "value")))
            except Exception as exc:
                self.ui.statusLabel.setText(f"Error: {exc}")
                return
            self._rescaleSliders()
            self.updatePreview()
            return
        cine, seed = self.ui.cineSelector.currentNode(), int(prop(self.ui.seedSpinBox, "value"))
        steps = int(prop(self.ui.projectionStepsSpinBox, "value"))
        self._pending = ("project", cine, seed, steps)
        self.panel.start(lambda progress, finished: self.logic.start_projection(
            cine, seed=seed, steps=steps, on_progress=progress, on_finished=finished), "Projecting the ED frame")

    def updatePreview(self, override: dict = None) -> None:
        if self.start is None:
            return
        try:
            frame = self.logic.preview(self.start, self.sliderValues(override))
            self.lastMeasured = self.logic.measure(frame)
        except Exception as exc:
            self.ui.statusLabel.setText(f"Error: {exc}")
            return
        text = ", ".join(f"{self.logic.phenotype_unit(k).label} {self.logic.phenotype_unit(k).text(v)}"
                         for k, v in self.lastMeasured.items())
        self.ui.measuredLabel.setText(f"Measured on the ED frame: {text} "
                                      f"(preview {1000 * self.logic.last_preview_seconds:.0f} ms)")

    def onSliderDragged(self, name: str, value: float) -> None:
        self.updatePreview({name: self._sliderC(name, value)})

    def onSliderReleased(self, name: str, value: float) -> None:
        self._c[name] = self._sliderC(name, value)
        self.updatePreview()
        if prop(self.ui.autoVideoCheckBox, "checked") and self.start is not None and not self.panel.running:
            self.onGenerate()

    def onResetSliders(self) -> None:
        for name in self.sliders:
            self._c[name] = 0.0
            self._showSlider(name)
        self.updatePreview()

    # ---- video ---------------------------------------------------------------------------------------------------
    @property
    def job(self):
        return self.panel.job

    def onGenerate(self) -> None:
        if self.start is None:
            self.ui.statusLabel.setText("Error: apply a start (seed or projection) first.")
            return
        self._pending = ("video",)
        start, sliders = self.start, self.sliderValues()
        method, frames = prop(self.ui.methodComboBox, "currentText"), int(prop(self.ui.framesSpinBox, "value"))
        tsr, device = int(prop(self.ui.tsrSpinBox, "value")), prop(self.ui.deviceComboBox, "currentText")
        self.panel.start(lambda progress, finished: self.logic.start_video(
            start, sliders, method=method, frames=frames, tsr_factor=tsr, device=device, on_progress=progress,
            on_finished=finished), "Generating the video")

    def _onJobDone(self, result) -> str:
        if self._pending[0] == "project":
            _, cine, seed, steps = self._pending
            self.start = self.logic.projected_start(result, cine, seed, steps)
            self._rescaleSliders()
            self.updatePreview()
            return f"projected (reconstruction MSE {result.summary.get('pixel_mse', float('nan')):.4f})"
        made = self.logic.import_result(result, None, name="Latent video")
        self.results.append(made)
        self.ui.exportButton.setEnabled(bool(made.series))
        first = next(iter(made.series.values()), None)
        if first is not None and first.browser is not None:
            first.browser.SetPlaybackLooped(True)
            first.browser.SetPlaybackActive(True)  # play the trajectory
        names = ", ".join(s.volume.GetName() for s in made.series.values())
        self.ui.statusLabel.setText(f"Done: {names}")
        return names

    def onExport(self) -> None:
        export_last_result(self.ui, self.logic, self.results, prop, "generate a video")

    def offerCpu(self) -> None:
        """After a GPU out-of-memory error: switch the device to CPU; the user starts again."""
        switch_to_cpu(self.ui, prop, "generate again.")

    def enter(self) -> None:
        """The CardioGen layout (three slice views, the 3D view and a plot view) whenever the module opens."""
        select_layout()

    def cleanup(self) -> None:
        if self.panel is not None:
            self.panel.cancel()


class CardioGenLatentLogic(ScriptedLoadableModuleLogic):
    """Facade over :class:`CardioGenSlicerLib.latent_logic.LatentLogic` (also for Slicer's Python console)."""

    def __init__(self, latentLogic=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from CardioGenSlicerLib.latent_logic import LatentLogic

        self.impl = latentLogic or LatentLogic()

    def __getattr__(self, name):
        if name == "impl":
            raise AttributeError(name)
        return getattr(self.impl, name)

    def generateBlocking(self, seed: int = 0, sliders: dict = None, timeout: float = 900.0, **options):
        """Console helper: a video of a random heart with the given sliders (work in a background process)."""
        start = self.impl.seed_start(seed)
        result = self.impl.start_video(start, sliders or {}, **options).wait(timeout)
        if result.state is not JobState.SUCCEEDED:
            raise RuntimeError(result.error)
        return self.impl.import_result(result, None, name="Latent video")


class CardioGenLatentTest(ScriptedLoadableModuleTest):
    """Runs inside a real Slicer: a random heart's video with a bigger LV, as a synthetic sequence."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_slider_video_is_a_synthetic_sequence()

    def test_slider_video_is_a_synthetic_sequence(self):
        logic = CardioGenLatentLogic()
        start = logic.seed_start(3)
        small = logic.measure(logic.preview(start, {"lv_area": -2.0}))["lv_area"]
        big = logic.measure(logic.preview(start, {"lv_area": 3.0}))["lv_area"]
        self.assertGreater(big, small)
        made = logic.generateBlocking(3, {"lv_area": 2.0}, frames=12, device="cpu")
        seq = made.series["cine"].sequence
        self.assertEqual(seq.GetNumberOfDataNodes(), 12)
        self.assertIn("(synthetic)", made.series["cine"].volume.GetName())
        self.delayDisplay("CardioGen Latent Explorer test passed")
